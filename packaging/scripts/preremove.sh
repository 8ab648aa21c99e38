#!/bin/sh
# Stops every lbd instance when the package is removed, not on upgrade:
# dpkg passes "remove", rpm passes 0 as the count of versions left.
set -e
case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
	for unit in $(systemctl list-units --all --plain --no-legend 'lbd@*.service' | awk '{print $1}'); do
		systemctl disable --now "$unit" || true
	done
fi
exit 0
