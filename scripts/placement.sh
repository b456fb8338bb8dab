#!/usr/bin/env bash
# The placement scenarios of issue 12, each on a fresh loopback cluster of the
# real master and 3 real slaves on their defaults, each judged against its
# target. Prints a Markdown table; exits 1 if a target is missed.
#   scripts/placement.sh [SCENARIO...]   (cancel, cheap, bad, ties; default all)
# Needs curl, jq and wrk (apt-get install curl jq wrk). The 1,000-client queue
# has a script of its own: scripts/queue-fairness.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in curl jq wrk; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install curl jq wrk)" >&2; exit 1; }
done
. scripts/lib.sh
lb_setup placement
go build -o "$dir/" ./cmd/master ./cmd/slave

M=127.0.0.1:4302 DISCOVERY=3102
rows=() failed=0

# cluster ALGORITHM "SLAVE FLAGS" "SLAVE FLAGS" "SLAVE FLAGS" [MASTER FLAGS...]
# starts a master and one slave per flag string; slave PIDs land in spids.
cluster() {
	lb_stop
	local algo=$1 i
	shift
	local slaves=("$1" "$2" "$3")
	shift 3
	"$dir/master" -iface lo -http "$M" -discovery ":$DISCOVERY" "$@" "$algo" 2>>"$dir/master.log" &
	pids+=($!)
	spids=()
	for i in 0 1 2; do
		# shellcheck disable=SC2086 # the flag strings are word lists
		"$dir/slave" -iface lo -discovery-port "$DISCOVERY" -sd-dir '' ${slaves[$i]} 2>>"$dir/slaves.log" &
		pids+=($!)
		spids+=($!)
	done
	lb_wait_slaves "$M" 3 15
}

# cpu_ms PID...: the CPU time the processes used so far, in ms (one awk for
# all, so that reading it takes a few milliseconds, not tens).
cpu_ms() {
	local files=() pid
	for pid in "$@"; do files+=("/proc/$pid/stat"); done
	# utime and stime are fields 14 and 15 (the command, "slave", has no space)
	awk -v tick="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%d\n", t * 1000 / tick }' "${files[@]}"
}

committed() { curl -fs "http://$M/api/slaves" | jq '[.slaves[] | select(.state != "lost") | .committed_load] | add // 0'; }

# judge NAME MEASURED TARGET OK: one row of the table.
judge() {
	local verdict=met
	if [ "$4" != 1 ]; then verdict=MISSED failed=1; fi
	rows+=("| $1 | $2 | $3 | $verdict |")
}

# curl_latency URL SECONDS PARALLEL: PARALLEL loops of curl, each sending
# the next request when its last one ended, for SECONDS; prints "p50 p90 p99
# requests non200" (ms). A request that never ends is cut at 30 s and counts
# with that time, so a stuck request shows in the tail, as wrk's latency
# figures (of completed requests only) would not show it.
curl_latency() {
	local url=$1 end=$((SECONDS + $2)) i loops=()
	for ((i = 0; i < $3; i++)); do
		(while [ $SECONDS -lt $end ]; do
			curl -s -o /dev/null --max-time 30 -w '%{time_total} %{http_code}\n' "$url" || true
		done) >"$dir/lat.$i" &
		loops+=($!)
	done
	wait "${loops[@]}"
	cat "$dir"/lat.* | sort -n | awk '
		{ t[NR] = $1 * 1000; if ($2 != 200) bad++ }
		function q(p) { i = int(p * NR); if (i < 1) i = 1; return t[i] }
		END { printf "%.1f %.1f %.1f %d %d\n", q(0.5), q(0.9), q(0.99), NR, bad + 0 }'
	rm -f "$dir"/lat.*
}

scenario_cancel() {
	cluster round_robin "" "" ""
	local before t0 t1 after i clients=()
	before=$(cpu_ms "${spids[@]}")
	for i in 1 2 3 4 5 6; do
		curl -s -o /dev/null --max-time 0.3 "http://$M/primes?n=200000" &
		clients+=($!)
	done
	wait "${clients[@]}" 2>/dev/null || true
	t0=$(date +%s%N)
	after=$(cpu_ms "${spids[@]}")
	local spent_before=$((after - before))
	# The time of a poll is when it was sent: a poll (curl and jq) takes
	# tens of milliseconds itself on a busy host.
	for ((i = 0; i < 2000; i++)); do
		t1=$(date +%s%N)
		[ "$(committed)" = 0 ] && break
		sleep 0.005
	done
	local freed_ms=$(((t1 - t0) / 1000000))
	sleep 0.5
	local wasted=$((($(cpu_ms "${spids[@]}") - after) / 6))
	local s e
	s=$(date +%s%N)
	curl -fs -o /dev/null "http://$M/primes?n=30000"
	e=$(date +%s%N)
	judge "6 clients give up on /primes?n=200000 after 0.3 s: committed load back to 0" "${freed_ms} ms" "≤ 100 ms" $((freed_ms <= 100))
	judge "... CPU the slaves spent per abandoned task after the client left" "${wasted} ms (${spent_before} ms before, all 6)" "≤ 100 ms" $((wasted <= 100))
	judge "... then one /primes?n=30000" "$(((e - s) / 1000000)) ms" "≤ 1 s" $(((e - s) / 1000000 <= 1000))
}

scenario_cheap() {
	cluster round_robin "" "" ""
	wrk -t1 -c12 -d8s --timeout 30s "http://$M/primes?n=100000" >/dev/null &
	local heavy=$!
	sleep 1
	read -r p50 p90 p99 n bad < <(curl_latency "http://$M/fibonacci?n=90" 5 1)
	wait "$heavy" || true
	judge "/fibonacci?n=90 at 1 in flight while /primes?n=100000 keeps every worker busy" "p50 $p50, p90 $p90, p99 $p99 ms ($n requests, $bad not 200)" "p99 ≤ 50 ms" "$(awk -v p="$p99" -v b="$bad" 'BEGIN { print (p <= 50 && b == 0) }')"
}

scenario_bad() {
	# The third slave answers polls but takes 100 s per emulated task: it
	# never returns a result in time.
	cluster round_robin "-emulate" "-emulate" "-emulate -speed 0.0001" -task-timeout 20s
	read -r p50 p90 p99 n bad < <(curl_latency "http://$M/work?n=10000" 8 4)
	local state
	state=$(curl -fs "http://$M/api/slaves" | jq -r '[.slaves[] | .state] | join("/")')
	judge "/work?n=10000 (10 ms) at 4 in flight, one slave never answers in time" "p50 $p50, p99 $p99 ms ($n requests, $bad not 200); states $state" "no error, p99 ≤ 1 s" "$(awk -v p="$p99" -v b="$bad" 'BEGIN { print (p <= 1000 && b == 0) }')"
}

scenario_ties() {
	cluster least_load "" "" ""
	local i
	for i in $(seq 15); do curl -fs -o /dev/null "http://$M/fibonacci?n=90"; done
	local split
	split=$(curl -fs "http://$M/api/slaves" | jq -r '[.slaves[] | .tasks_done] | join("/")')
	# A try stalled past the per-try timeout's floor (a busy host) is
	# hedged, and the hedge may answer first: each hedge may move one answer.
	local hedged
	hedged=$(curl -fs "http://$M/metrics" | awk '/^master_tasks_hedged_total /{print $2}')
	judge "./master least_load, 15 requests one at a time" "$split ($hedged hedged)" "5/5/5" \
		"$(echo "$split" | awk -F/ -v h="$hedged" '{ ok = 1; for (i = 1; i <= NF; i++) { d = $i - 5; if (d > h || -d > h) ok = 0 } print ok }')"
}

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(cancel cheap bad ties)
for s in "${scenarios[@]}"; do
	"scenario_$s"
done
lb_stop
echo "| scenario | measured | target | |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
