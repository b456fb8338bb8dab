#!/usr/bin/env bash
# The cost of -secret on the request path: two clusters on loopback, each a
# master and 3 slaves, one with a shared secret (handshake sealed, links
# encrypted), one without; wrk takes turns on them, ROUNDS times, so the
# machine's drift hits both alike. Prints each round and the median ratio.
# Needs wrk and curl (apt-get install wrk curl).
#   scripts/secret-cost.sh [SECONDS [ROUNDS [URL-PATH [CONNS]]]]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-5}
URLPATH=${3:-fibonacci?n=30}
CONNS=${4:-64}
for tool in wrk curl; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install wrk curl)" >&2; exit 1; }
done
. scripts/lib.sh
lb_setup secretcost
go build -o "$dir/" ./cmd/master ./cmd/slave

# start NAME HTTP DISCOVERY SECRET: a master and 3 slaves on loopback.
start() {
	LB_SECRET=$4 "$dir/master" -iface lo -http "$2" -discovery ":$3" -log-level warning least_load 2>"$dir/$1-master.log" &
	pids+=($!)
	for _ in 1 2 3; do
		LB_SECRET=$4 "$dir/slave" -iface lo -discovery-port "$3" -sd-dir '' -log-level warning 2>>"$dir/$1-slaves.log" &
		pids+=($!)
	done
	lb_wait_slaves "$2" 3
	[ "$(curl -fs "http://$2/fibonacci?n=30")" = 832040 ] || { echo "$1 does not answer 832040" >&2; exit 1; }
}
PLAIN=127.0.0.1:4302 SEALED=127.0.0.1:4303
start plain "$PLAIN" 3102 ''
start sealed "$SEALED" 3103 'secret-cost benchmark secret'

# run URL: prints "rps p99_ms non2xx".
run() {
	wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency "$1" >"$dir/wrk.out" 2>&1
	awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		/^ +99%/ { p99 = ms($2) }
		/Non-2xx/ { bad = $5 }
		END { printf "%.0f %.2f %d\n", rps, p99, bad }' "$dir/wrk.out"
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%s\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "/$URLPATH, $CONNS in flight, $ROUNDS interleaved rounds of ${SECS} s (the order alternates)"
echo "round | without secret req/s, p99 ms | with secret req/s, p99 ms | ratio"
: >"$dir/rounds"
for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2)); then
		p=$(run "http://$PLAIN/$URLPATH"); s=$(run "http://$SEALED/$URLPATH")
	else
		s=$(run "http://$SEALED/$URLPATH"); p=$(run "http://$PLAIN/$URLPATH")
	fi
	echo "$p $s" >>"$dir/rounds"
	echo "$round | $p | $s | $(echo "$p $s" | awk '{ printf "%.3f", $4 / $1 }')"
done
bad=$(awk '{ n += $3 + $6 } END { print n }' "$dir/rounds")
echo "median req/s without: $(awk '{ print $1 }' "$dir/rounds" | median), with: $(awk '{ print $4 }' "$dir/rounds" | median)"
echo "median ratio (with / without): $(awk '{ print $4 / $1 }' "$dir/rounds" | median); non-2xx: $bad"
