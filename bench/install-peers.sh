#!/bin/sh
# Installs the systems that lbd-bench compares lbd against, from Debian's
# packages, when their binaries are missing. NATS JetStream needs nothing:
# lbd-bench embeds it from its Go module.
set -eu
missing=""
command -v gearmand >/dev/null 2>&1 || missing="$missing gearman-job-server"
command -v beanstalkd >/dev/null 2>&1 || missing="$missing beanstalkd"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-peers.sh: missing packages:$missing; run as root or install them with apt-get" >&2
	exit 1
fi
apt-get update
# shellcheck disable=SC2086 # the package list is split on purpose
apt-get install -y $missing
