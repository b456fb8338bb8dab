#!/usr/bin/env bash
# How the master scales with the pool, on loopback: for each N (default 3,
# 100 and 1000) a master and N slaves (in one process), the time for all N
# to join, the master's resident memory per slave, and requests/s and the
# master's CPU time per request for /fibonacci?n=30 at 64 in flight (wrk,
# 10 s).
#   scripts/scale.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 3 100 1000
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
. scripts/lib.sh
lb_setup scale
go build -o "$dir/" ./cmd/master ./testutil/manyslaves
ulimit -n "$(ulimit -Hn)"
HTTP=127.0.0.1:4298 PORT=3098
rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
# cpu_ticks PID: user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "| slaves | join time | master RSS | RSS per slave | req/s | master CPU per request | p50 | p99 |"
echo "|---|---|---|---|---|---|---|---|"
for n in "$@"; do
	# Every slave joins from 127.0.0.1: no per-source handshake limit here.
	"$dir/master" -iface lo -http "$HTTP" -discovery "127.0.0.1:$PORT" -max-slaves $((n + 10)) \
		-handshake-rate 1e6 -handshake-burst 1000000 -log-level warning least_load 2>"$dir/master.log" &
	master=$!
	pids+=("$master")
	sleep 0.3
	base=$(rss_kib "$master")
	start=$(date +%s.%N)
	"$dir/manyslaves" -n "$n" -master "127.0.0.1:$PORT" 2>"$dir/slaves.log" &
	pids+=($!)
	lb_wait_slaves "$HTTP" "$n" 60
	join=$(echo "$(date +%s.%N) - $start" | bc)
	sleep 2 # a few load polls
	rss=$(rss_kib "$master")
	ticks=$(cpu_ticks "$master")
	wrk -t 2 -c 64 -d 10s --latency "http://$HTTP/fibonacci?n=30" >"$dir/wrk.out"
	ticks=$(( $(cpu_ticks "$master") - ticks ))
	rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$dir/wrk.out")
	requests=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
	cpu_us=$(echo "$ticks * 1000000 / $(getconf CLK_TCK) / $requests" | bc -l)
	p50=$(awk '/^ +50%/ {print $2}' "$dir/wrk.out")
	p99=$(awk '/^ +99%/ {print $2}' "$dir/wrk.out")
	printf '| %d | %.2f s | %.1f MiB | %.1f KiB | %s | %.0f µs | %s | %s |\n' "$n" "$join" "$(echo "$rss / 1024" | bc -l)" \
		"$(echo "($rss - $base) / $n" | bc -l)" "$rps" "$cpu_us" "$p50" "$p99"
	lb_stop
done
