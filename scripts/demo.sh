#!/usr/bin/env bash
# Runs a real lbd cluster on loopback: one master and two workers as separate
# processes. The workers join through gossip, then hash every file under
# DEMO_DIR (default /usr/share/doc) with an exec handler that runs
# sha256sum, one task per file. The script checks every result against a
# local sha256sum run, prints how many tasks each worker ran, and stops the
# cluster. Ports: 127.0.0.1:27946 (gossip), 27947 (tasks), 27948 (HTTP API).
set -euo pipefail

LBD=${LBD:-./bin/lbd}
DEMO_DIR=${DEMO_DIR:-/usr/share/doc}
POPULATION=${POPULATION:-4}
HTTP=127.0.0.1:27948
WORK=$(mktemp -d /tmp/lbd-demo.XXXXXX)
pids=()

# Workers stop first, so that they hand their last results to the master.
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	echo "logs and results kept in $WORK"
}
trap cleanup EXIT

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local limit=$1 what=$2
	shift 2
	for _ in $(seq $((limit * 10))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "demo: $what did not happen within ${limit}s; see the logs in $WORK" >&2
	exit 1
}

two_workers() {
	[ "$("$LBD" workers -http-addr "$HTTP" | tail -n +2 | grep -c .)" -ge 2 ]
}

echo "== starting master (logs: $WORK/master.log)"
"$LBD" -role master -node demo-master \
	-bind 127.0.0.1:27946 -task-addr 127.0.0.1:27947 -http-addr "$HTTP" \
	-data-dir "$WORK/master-data" 2>"$WORK/master.log" &
pids+=($!)
wait_for 10 "master start" "$LBD" workers -http-addr "$HTTP"

for w in demo-w1 demo-w2; do
	echo "== starting worker $w (population $POPULATION, logs: $WORK/$w.log)"
	LBD_HANDLER_SHA256='["xargs", "-0", "sha256sum", "--"]' \
		"$LBD" -role worker -node "$w" -bind 127.0.0.1:0 -join 127.0.0.1:27946 \
		-population "$POPULATION" 2>"$WORK/$w.log" &
	pids+=($!)
done
wait_for 15 "two workers joining" two_workers
"$LBD" workers -http-addr "$HTTP"

# One task per file: the payload is the path, which xargs hands to sha256sum.
# Paths with control characters are skipped because they do not fit a JSONL
# line without escapes that sed cannot make.
find "$DEMO_DIR" -type f -readable | LC_ALL=C grep -v '[[:cntrl:]]' | sort >"$WORK/files.txt"
sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/{"type": "sha256", "payload": "&"}/' "$WORK/files.txt" >"$WORK/tasks.jsonl"
total=$(wc -l <"$WORK/files.txt")
echo "== submitting $total tasks from $DEMO_DIR"

start=$(date +%s.%N)
"$LBD" submit -http-addr "$HTTP" -f "$WORK/tasks.jsonl" -wait >"$WORK/results.txt" || true
end=$(date +%s.%N)

# Each result line is "<id> <status> <output>", the output "<hash>  <path>".
sed -n 's/^[^ ]* succeeded //p' "$WORK/results.txt" | sort >"$WORK/got.txt"
tr '\n' '\0' <"$WORK/files.txt" | xargs -0 sha256sum -- | sort >"$WORK/want.txt"
succeeded=$(wc -l <"$WORK/got.txt")
wrong=$(comm -3 "$WORK/got.txt" "$WORK/want.txt" | wc -l)

echo
echo "== results"
head -n 3 "$WORK/got.txt"
echo "..."
printf '%d of %d files hashed in %.2fs; %d results differ from a local sha256sum\n' \
	"$succeeded" "$total" "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" "$wrong"
echo
echo "== tasks run by each worker"
"$LBD" workers -http-addr "$HTTP"

[ "$succeeded" -eq "$total" ] && [ "$wrong" -eq 0 ]
