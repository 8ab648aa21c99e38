#!/bin/sh
# Creates the lbd system user and group that lbd@.service runs as, and
# reloads systemd so that it sees the new or changed unit.
set -e

if ! getent group lbd >/dev/null; then
	groupadd --system lbd
fi
if ! getent passwd lbd >/dev/null; then
	useradd --system --gid lbd --home-dir /var/lib/lbd --no-create-home \
		--shell /usr/sbin/nologin --comment "lbd task daemon" lbd
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	# An upgrade restarts the instances that run, so they use the new binary.
	for unit in $(systemctl list-units --plain --no-legend --state=active 'lbd@*.service' | awk '{print $1}'); do
		systemctl try-restart "$unit" || true
	done
fi
exit 0
