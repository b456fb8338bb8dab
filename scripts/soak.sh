#!/usr/bin/env bash
# Soak test on loopback: a master and three slaves under a moderate load
# (default 8 requests in flight) for DURATION (default 10m). Prints each
# daemon's resident memory and goroutine count at the start and at the end,
# and the load's summary (every answer checked). Exits non-zero on any wrong
# or failed request (loadcheck's verdict), or when a daemon ends with more
# than SOAK_MAX_GOROUTINE_GROWTH (default 5) goroutines, or more than
# SOAK_MAX_RSS_GROWTH_MIB (default 8) MiB of resident memory, over its start.
#   scripts/soak.sh [DURATION] [IN_FLIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10m}
INFLIGHT=${2:-8}
HTTP=127.0.0.1:${SOAK_HTTP_PORT:-4291}
PORT=${SOAK_DISCOVERY_PORT:-3091}
. scripts/lib.sh
lb_setup soak

go build -o "$dir/" ./cmd/master ./cmd/slave ./testutil/loadcheck
"$dir/master" -iface lo -http "$HTTP" -discovery ":$PORT" -log-level warning 2>"$dir/master.log" &
pids+=($!)
for i in 1 2 3; do
	"$dir/slave" -iface lo -discovery-port "$PORT" -sd-dir '' 2>"$dir/slave$i.log" &
	pids+=($!)
done
lb_wait_slaves "$HTTP" 3
metricsOf() { # the /metrics URL of daemon i (0: master)
	if [ "$1" = 0 ]; then echo "http://$HTTP/metrics"; else
		echo "http://$(sed -n 's/.*msg="slave running".* metrics="\([^"]*\)".*/\1/p' "$dir/slave$1.log" | head -1)/metrics"
	fi
}
MAX_GOROUTINE_GROWTH=${SOAK_MAX_GOROUTINE_GROWTH:-5}
MAX_RSS_GROWTH_MIB=${SOAK_MAX_RSS_GROWTH_MIB:-8}
declare -A rss0 gor0
failed=0
# sample prints every daemon's RSS and goroutines; with "end" it judges them
# against the start's.
sample() {
	for i in 0 1 2 3; do
		name=master; [ "$i" = 0 ] || name="slave $i"
		m=$(curl -fs "$(metricsOf "$i")")
		rss=$(awk '$1 == "process_resident_memory_bytes" {printf "%.1f", $2 / 1048576}' <<<"$m")
		gor=$(awk '$1 == "go_goroutines" {print $2}' <<<"$m")
		printf '%-8s rss %-10s goroutines %s\n' "$name" "$rss MiB" "$gor"
		if [ "$1" = start ]; then
			rss0[$i]=$rss gor0[$i]=$gor
		elif awk -v a="${rss0[$i]}" -v b="$rss" -v g0="${gor0[$i]}" -v g="$gor" \
			-v mr="$MAX_RSS_GROWTH_MIB" -v mg="$MAX_GOROUTINE_GROWTH" 'BEGIN {exit !(b - a > mr || g - g0 > mg)}'; then
			echo "FAIL: $name grew from ${rss0[$i]} MiB, ${gor0[$i]} goroutines to $rss MiB, $gor goroutines" >&2
			failed=1
		fi
	done
}
"$dir/loadcheck" -base "http://$HTTP" -c "$INFLIGHT" -duration 15s >/dev/null # warm up
echo "== start (after a 15 s warm-up)"
sample start
verdict=0
"$dir/loadcheck" -base "http://$HTTP" -c "$INFLIGHT" -duration "$DURATION" >"$dir/load.json" || verdict=$?
echo "== end, after $DURATION at $INFLIGHT in flight"
sample end
echo "load: $(cat "$dir/load.json")"
if [ "$verdict" != 0 ]; then
	echo "FAIL: requests lost or wrong (loadcheck exit $verdict)" >&2
	failed=1
fi
[ "$failed" = 0 ] && echo "PASS: every answer right; memory and goroutines within bounds"
exit "$failed"
