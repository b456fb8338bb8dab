#!/usr/bin/env bash
# The monitor without Grafana: the Grafana double, a master and two slaves on
# loopback only (-iface lo), and the monitor keeping the double in step. It
# prints what the double holds (GET /_double/state) and the monitor's
# /api/status, deletes the dashboard to show the repair, and stops everything
# it started after MONITOR_DEMO_SECONDS (default 30) or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

HTTP=${DEMO_HTTP:-127.0.0.1:4242}
PORT=${DEMO_DISCOVERY_PORT:-3000}
GRAFANA=${DEMO_GRAFANA:-127.0.0.1:3300}
STATUS=${DEMO_STATUS:-127.0.0.1:4243}
SECONDS_TO_RUN=${MONITOR_DEMO_SECONDS:-30}
KEY=admin:admin
LOGDIR=$(mktemp -d -t lb-monitor-demo.XXXXXX)
pids=()

stop() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	echo "stopped everything; logs are in $LOGDIR"
}
trap stop EXIT

started() { # name pid url: wait for url, or show why the process died
	for _ in $(seq 50); do
		curl -fs "$3" >/dev/null 2>&1 && return 0
		if ! kill -0 "$2" 2>/dev/null; then
			echo "$1 did not start:" >&2; tail -n 3 "$LOGDIR/$1.log" >&2; exit 1
		fi
		sleep 0.1
	done
	echo "$1 does not answer at $3; see $LOGDIR/$1.log" >&2; exit 1
}

./grafana-double -listen "$GRAFANA" -key "$KEY" >"$LOGDIR/grafana-double.log" 2>&1 &
pids+=($!); started grafana-double $! "http://$GRAFANA/api/health"
./master -iface lo -http "$HTTP" -discovery ":$PORT" least_load >"$LOGDIR/master.log" 2>&1 &
pids+=($!); started master $! "http://$HTTP/ok"
for i in 1 2; do
	./slave -iface lo -discovery-port "$PORT" -sd-dir '' >"$LOGDIR/slave$i.log" 2>&1 &
	pids+=($!)
done
GRAFANA_KEY=$KEY ./monitoring -iface lo -discovery-port "$PORT" -grafana "http://$GRAFANA" \
	-status "$STATUS" -interval 2s >"$LOGDIR/monitor.log" 2>&1 &
pids+=($!); started monitor $! "http://$STATUS/ok"

state() {
	curl -fs "http://$GRAFANA/_double/state" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("  datasources:", ", ".join(d["name"] + " -> " + d["url"] for d in s["datasources"]) or "none")
print("  dashboards: ", ", ".join("%s (version %d, %d panels)" % (d["uid"], d["version"], len(d["dashboard"].get("panels", []))) for d in s["dashboards"]) or "none")'
}
monitor() {
	curl -fs "http://$STATUS/api/status" | python3 -c '
import json, sys
s = json.load(sys.stdin); g = s["grafana"]
print("  master:", s["master"]["state"], s["master"]["address"], "| slaves:", s["slaves"])
for h in s["hosts"]:
    print("  host %s: datasource %s, in Grafana: %s, health: %s %s" % (h["ip"], h["datasource"], h["in_grafana"], h["health"], h["health_message"]))
print("  grafana sync: %s, %d syncs, %d repairs%s" % (g["state"], g["syncs"], g["repairs"], (", the last: " + g["last_repair"]) if g["repairs"] else ""))'
}

echo "waiting for the monitor to fill the Grafana double at http://$GRAFANA ..."
for _ in $(seq 100); do
	curl -fs "http://$GRAFANA/_double/state" | grep -q '"uid":"plugnplay-lb"' && break
	sleep 0.2
done
echo "The Grafana double holds:"; state
echo "The monitor's status (http://$STATUS/, page and /api/status):"; monitor
echo
echo "Deleting the dashboard from the double, as a user might ..."
curl -fs -u "$KEY" -X DELETE "http://$GRAFANA/api/dashboards/uid/plugnplay-lb" >/dev/null
sleep 3
echo "After one round (2 s):"; state; monitor
echo
echo "The monitor's page is at http://$STATUS/ for ${SECONDS_TO_RUN}s more (Ctrl-C stops)."
sleep "$SECONDS_TO_RUN"
