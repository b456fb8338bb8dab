#!/usr/bin/env bash
# The wait queue under many clients, on loopback: a master and one slave
# with room for exactly 2 tasks (-max-load 2000, fibonacci n=1000 has load
# 1000), loaded by 4 clients and by 1,000 clients (each its own source
# address 127.1.X.Y, one request in flight each), interleaved, ROUNDS times.
# Prints a Markdown table: answered/s, % 503, client p50/p99 latency (nearly
# all of it queue wait: the task computes in microseconds), the master's
# mean queue wait and its CPU, and the 1000-to-4 throughput ratio.
#   scripts/queue-fairness.sh [SECONDS [ROUNDS]]
# MASTER_BIN=path runs another master binary (e.g. one built from an older
# commit) for a before/after figure.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-3}
. scripts/lib.sh
lb_setup queue
go build -o "$dir/" ./cmd/master ./cmd/slave ./testutil/queueload
MASTER_BIN=${MASTER_BIN:-$dir/master}
HTTP=127.0.0.1:4312 DISCOVERY=3112
URL="http://$HTTP/fibonacci?n=1000"

"$MASTER_BIN" -iface lo -http "$HTTP" -discovery ":$DISCOVERY" -log-level warning least_load 2>"$dir/master.log" &
master=$!
pids+=("$master")
"$dir/slave" -iface lo -discovery-port "$DISCOVERY" -sd-dir '' -max-load "${SLAVE_MAX_LOAD:-2000}" -log-level warning 2>"$dir/slave.log" &
pids+=($!)
lb_wait_slaves "$HTTP" 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# placed_wait: "sum count" of the master's queue waits that ended placed.
placed_wait() {
	curl -fs "http://$HTTP/metrics" | awk '
		/^master_queue_wait_seconds_sum\{outcome="placed"\}/ {s = $2}
		/^master_queue_wait_seconds_count\{outcome="placed"\}/ {c = $2}
		END {print s + 0, c + 0}'
}
hz=$(getconf CLK_TCK)

echo "| round | clients | answered/s | % 503 | p50 ms | p99 ms | mean queue wait ms | master CPU % |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|"
declare -A total
for ((r = 1; r <= ROUNDS; r++)); do
	for clients in 4 1000; do
		read -r s0 c0 < <(placed_wait)
		t0=$(cpu_ticks "$master")
		out=$("$dir/queueload" -url "$URL" -clients "$clients" -duration "${SECS}s")
		t1=$(cpu_ticks "$master")
		read -r s1 c1 < <(placed_wait)
		row=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1]); hz, t0, t1 = map(float, sys.argv[2:5]); s0, c0, s1, c1 = map(float, sys.argv[5:9])
wait = 1000 * (s1 - s0) / (c1 - c0) if c1 > c0 else 0
cpu = 100 * (t1 - t0) / hz / s["seconds"]
print("%.0f | %.2f | %.1f | %.1f | %.1f | %.0f" % (s["req_per_s"], s["pct_503"], s["p50_ms"], s["p99_ms"], wait, cpu))
' "$out" "$hz" "$t0" "$t1" "$s0" "$c0" "$s1" "$c1")
		echo "| $r | $clients | $row |"
		total[$clients]=$(python3 -c 'import json,sys; print(float(sys.argv[1]) + json.loads(sys.argv[2])["req_per_s"])' "${total[$clients]:-0}" "$out")
	done
done
python3 -c 'import sys; a, b = map(float, sys.argv[1:3]); print(f"\n1000 clients / 4 clients throughput: {b / a:.2f}x (mean of the rounds)")' "${total[4]}" "${total[1000]}"
