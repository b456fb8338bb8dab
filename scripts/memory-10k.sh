#!/usr/bin/env bash
# Measures the master's memory with N concurrent client connections (default
# 10,000), each with a request in flight, on loopback only. Prints the
# master's resident memory before, at its peak (VmHWM) and after.
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
rss() { awk -v f="$1" '$1 == f":" {print $2 / 1024 " MiB"}' "/proc/$master/status"; }
echo "master RSS with 3 slaves, idle:        $(rss VmRSS)"
"$dir/loadcheck" -base "http://$HTTP" -c "$N" -duration 10s >"$dir/load.json"
echo "master peak RSS with $N connections: $(rss VmHWM)"
echo "master RSS afterwards:                 $(rss VmRSS)"
echo "load: $(cat "$dir/load.json")"
