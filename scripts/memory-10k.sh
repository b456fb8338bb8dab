#!/usr/bin/env bash
# Measures the master's memory with N concurrent client connections (default
# 10,000), each with a request in flight, on loopback only. Prints the
# master's resident memory before, at its peak (VmHWM) and after. Exits
# non-zero if any request failed or was answered wrong (with a queue of 2N
# and a 60 s wait every one must be answered), or if the peak passes
# MEM_MAX_PEAK_MIB (default 400).
#   scripts/memory-10k.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
HTTP=127.0.0.1:${MEM_HTTP_PORT:-4290}
PORT=${MEM_DISCOVERY_PORT:-3090}
. scripts/lib.sh
lb_setup mem

go build -o "$dir/" ./cmd/master ./cmd/slave ./testutil/loadcheck
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((N + 100)) ] || { echo "open-file limit $(ulimit -n) is too low for $N connections" >&2; exit 1; }
"$dir/master" -iface lo -http "$HTTP" -discovery ":$PORT" -queue-length $((N * 2)) -queue-wait 60s -log-level warning 2>"$dir/master.log" &
master=$!
pids+=("$master")
for _ in 1 2 3; do
	"$dir/slave" -iface lo -discovery-port "$PORT" -sd-dir '' -log-level warning 2>>"$dir/slaves.log" &
	pids+=($!)
done
lb_wait_slaves "$HTTP" 3
MAX_PEAK_MIB=${MEM_MAX_PEAK_MIB:-400}
rss() { awk -v f="$1" '$1 == f":" {print $2 / 1024}' "/proc/$master/status"; }
echo "master RSS with 3 slaves, idle:        $(rss VmRSS) MiB"
verdict=0
"$dir/loadcheck" -base "http://$HTTP" -c "$N" -duration 10s >"$dir/load.json" || verdict=$?
peak=$(rss VmHWM)
echo "master peak RSS with $N connections: $peak MiB"
echo "master RSS afterwards:                 $(rss VmRSS) MiB"
echo "load: $(cat "$dir/load.json")"
failed=0
if [ "$verdict" != 0 ]; then
	echo "FAIL: requests lost or wrong (loadcheck exit $verdict)" >&2
	failed=1
fi
if awk -v p="$peak" -v m="$MAX_PEAK_MIB" 'BEGIN {exit !(p > m)}'; then
	echo "FAIL: peak RSS $peak MiB exceeds $MAX_PEAK_MIB MiB" >&2
	failed=1
fi
[ "$failed" = 0 ] && echo "PASS: every request answered right; peak RSS within $MAX_PEAK_MIB MiB"
exit "$failed"
