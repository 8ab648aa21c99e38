#!/bin/sh
# Builds a container image of lbd from bin/lbd (make build first).
#
#   image.sh scratch lbd:latest   # FROM scratch, the repository's Dockerfile
#   image.sh debian lbd:debian    # debootstrap'ed Debian, packaging/Dockerfile.debian
set -eu

kind=${1:?usage: image.sh scratch|debian TAG}
tag=${2:?usage: image.sh scratch|debian TAG}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin/lbd

if ! file_is_static=$(ldd "$bin" 2>&1); then :; fi
case $file_is_static in
*"not a dynamic executable"* | *"statically linked"*) ;;
*)
	echo "image.sh: $bin is not a static binary: build it with make build (CGO_ENABLED=0)" >&2
	exit 1
	;;
esac

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

case $kind in
scratch)
	mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/data"
	install -m 0755 "$bin" "$ctx/rootfs/usr/bin/lbd"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
	cp -a /usr/share/zoneinfo "$ctx/rootfs/usr/share/"
	install -d -m 1777 "$ctx/rootfs/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nlbd:x:65532:65532:lbd:/var/lib/lbd:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
	printf 'root:x:0:\nlbd:x:65532:\n' >"$ctx/rootfs/etc/group"
	chmod 0750 "$ctx/data"
	docker build -q -t "$tag" -f "$root/Dockerfile" "$ctx" >/dev/null
	;;
debian)
	tarball=$("$root/packaging/rootfs.sh" minimal)
	if ! docker image inspect lbd-debian-base:bookworm >/dev/null 2>&1; then
		docker import "$tarball" lbd-debian-base:bookworm >/dev/null
	fi
	install -m 0755 "$bin" "$ctx/lbd"
	docker build -q -t "$tag" -f "$root/packaging/Dockerfile.debian" "$ctx" >/dev/null
	;;
*)
	echo "image.sh: unknown kind $kind: use scratch or debian" >&2
	exit 2
	;;
esac
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "built $tag: $((size / 1024 / 1024)) MiB"
