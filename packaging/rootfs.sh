#!/bin/sh
# Builds a Debian bookworm root file system with debootstrap, once, and
# prints the path of its tarball. Later runs reuse the tarball from the
# cache directory (LBD_DEBOOTSTRAP_CACHE, default /var/cache/lbd-debootstrap).
#
#   rootfs.sh minimal   # minbase, for the lbd:debian image
#   rootfs.sh systemd   # minbase plus systemd as init, for make systemd-test
set -eu

flavor=${1:?usage: rootfs.sh minimal|systemd}
cache=${LBD_DEBOOTSTRAP_CACHE:-/var/cache/lbd-debootstrap}
mirror=${LBD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

case $flavor in
minimal) include="ca-certificates,tzdata" ;;
systemd) include="systemd,systemd-sysv,dbus,procps,iproute2,ca-certificates,passwd,adduser,curl" ;;
*)
	echo "rootfs.sh: unknown flavor $flavor: use minimal or systemd" >&2
	exit 2
	;;
esac

tarball=$cache/$suite-$flavor.tar
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	echo "rootfs.sh: debootstrap is missing: apt-get install debootstrap" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "rootfs.sh: debootstrap needs root" >&2
	exit 1
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" >"$work/log" 2>&1 || {
	tail -20 "$work/log" >&2
	echo "rootfs.sh: debootstrap $suite failed; the full log was $work/log" >&2
	exit 1
}
# Package lists and downloaded .debs only make the image bigger.
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
echo "$tarball"
