#!/bin/sh
# Prints the package version from git: the tag without its leading v
# (1.2.0), a tag plus later commits (1.2.0+3.gabc1234), or 0.0.0+gabc1234
# before the first tag; ".dirty" marks uncommitted changes.
set -eu
cd "$(dirname "$0")/.."
if desc=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	desc=${desc#v}
	case $desc in
	*-*-g*) # v1.2.0-3-gabc1234[-dirty]
		base=${desc%%-*}
		rest=${desc#*-}
		desc="$base+$(echo "$rest" | sed 's/-/./g')" ;;
	*-dirty) desc="${desc%-dirty}+dirty" ;;
	esac
	echo "$desc"
	exit 0
fi
sha=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	echo "0.0.0+g$sha.dirty"
else
	echo "0.0.0+g$sha"
fi
