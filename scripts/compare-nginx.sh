#!/usr/bin/env bash
# Side by side on loopback, with wrk: the master with 3 slaves, nginx
# (least_conn, keep-alive to its upstreams) in front of 3 plain Go HTTP
# servers computing the same tasks, and one such server alone. Prints a
# Markdown table. Needs nginx and wrk (apt-get install nginx-light wrk).
#   scripts/compare-nginx.sh [SECONDS [ROUNDS]]
# Everything runs on its defaults. The master and slaves set up their Go
# runtime as they do by default (README: Runtime tuning); GO_SERVERS_GODEBUG,
# when set, is the plain Go servers' GODEBUG, to give them the same setting.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
for tool in nginx wrk curl; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install nginx-light wrk curl)" >&2; exit 1; }
done
. scripts/lib.sh
lb_setup compare
go build -o "$dir/" ./cmd/master ./cmd/slave ./testutil/directserver

MASTER=127.0.0.1:4292 NGINX=127.0.0.1:4293 DIRECT=127.0.0.1:4294 DISCOVERY=3092
godebug=()
[ -n "${GO_SERVERS_GODEBUG:-}" ] && godebug=("GODEBUG=$GO_SERVERS_GODEBUG")
for port in 4295 4296 4297; do
	env "${godebug[@]}" "$dir/directserver" -listen "127.0.0.1:$port" 2>>"$dir/backends.log" &
	pids+=($!)
done
env "${godebug[@]}" "$dir/directserver" -listen "$DIRECT" 2>>"$dir/direct.log" &
pids+=($!)
cat >"$dir/nginx.conf" <<NGINX
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
	access_log off;
	upstream backends {
		least_conn;
		server 127.0.0.1:4295;
		server 127.0.0.1:4296;
		server 127.0.0.1:4297;
		keepalive 64;
	}
	server {
		listen $NGINX;
		location / {
			proxy_pass http://backends;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
NGINX
nginx -c "$dir/nginx.conf" -p "$dir" &
pids+=($!)
"$dir/master" -iface lo -http "$MASTER" -discovery ":$DISCOVERY" least_load 2>"$dir/master.log" &
pids+=($!)
for _ in 1 2 3; do
	"$dir/slave" -iface lo -discovery-port "$DISCOVERY" -sd-dir '' 2>>"$dir/slaves.log" &
	pids+=($!)
done
lb_wait_slaves "$MASTER" 3
for url in "http://$MASTER/fibonacci?n=30" "http://$NGINX/fibonacci?n=30" "http://$DIRECT/fibonacci?n=30"; do
	[ "$(curl -fs "$url")" = 832040 ] || { echo "$url does not answer 832040" >&2; exit 1; }
done

# run URL CONNS: prints "rps p50 p99 non2xx" (latencies in ms).
run() {
	wrk -t "$(( $2 < 2 ? $2 : 2 ))" -c "$2" -d "${SECS}s" --latency "$1" >"$dir/wrk.out" 2>&1
	awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/Non-2xx/ { bad = $5 }
		END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }' "$dir/wrk.out"
}

# median reads numbers, one a line, and prints their median.
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%s\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A shared machine's speed drifts from one minute to the next: the three
# setups take turns, ROUNDS times, and each ratio is the median of the
# ratios within a round.
echo "Each figure is the median of $ROUNDS rounds of ${SECS} s; ratios are medians of per-round ratios."
echo
echo "| workload | in flight | master + 3 slaves | nginx + 3 Go servers | 1 Go server, no balancer | master / nginx | master / direct |"
echo "|---|---|---|---|---|---|---|"
for spec in "fibonacci?n=30 64" "fibonacci?n=30 1" "primes?n=5000 8"; do
	set -- $spec
	: >"$dir/rounds"
	for ((round = 0; round < ROUNDS; round++)); do
		echo "$(run "http://$MASTER/$1" "$2") $(run "http://$NGINX/$1" "$2") $(run "http://$DIRECT/$1" "$2")" >>"$dir/rounds"
	done
	col() { awk -v c="$1" '{ print $c }' "$dir/rounds" | median; }
	ratio() { awk -v a="$1" -v b="$2" '{ print $a / $b }' "$dir/rounds" | median; }
	printf '| /%s | %s | %s req/s, p50 %s ms, p99 %s ms | %s req/s, p50 %s ms, p99 %s ms | %s req/s, p50 %s ms, p99 %s ms | %.2f | %.2f |\n' \
		"$1" "$2" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 5)" "$(col 6)" "$(col 7)" "$(col 9)" "$(col 10)" "$(col 11)" \
		"$(ratio 1 5)" "$(ratio 1 9)"
	bad=$(awk '{ m += $4; n += $8; d += $12 } END { print m, n, d }' "$dir/rounds")
	[ "$bad" = "0 0 0" ] || echo "non-2xx answers (master nginx direct): $bad"
done
