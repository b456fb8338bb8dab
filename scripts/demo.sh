#!/usr/bin/env bash
# Runs a master and three slaves on loopback only (-iface lo), sends a few
# requests, prints the answers and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

HTTP=${DEMO_HTTP:-127.0.0.1:4242}
PORT=${DEMO_DISCOVERY_PORT:-3000}
LOGDIR=$(mktemp -d -t lb-demo.XXXXXX)
pids=()

stop() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	echo "stopped the master and the slaves; their logs are in $LOGDIR"
}
trap stop EXIT

if (exec 3<>"/dev/tcp/127.0.0.1/${HTTP##*:}") 2>/dev/null; then
	echo "port ${HTTP##*:} is in use: set DEMO_HTTP=127.0.0.1:PORT" >&2
	exit 1
fi

./master -iface lo -http "$HTTP" -discovery ":$PORT" round_robin >"$LOGDIR/master.log" 2>&1 &
master=$!
pids+=("$master")
# The master exits at once when it cannot bind its ports (UDP $PORT taken by
# another master, say): show why, rather than "slaves did not join" later.
for _ in $(seq 50); do
	curl -fs "http://$HTTP/ok" >/dev/null 2>&1 && break
	if ! kill -0 "$master" 2>/dev/null; then
		echo "the master did not start:" >&2
		tail -n 3 "$LOGDIR/master.log" >&2
		echo "(UDP port $PORT in use? set DEMO_DISCOVERY_PORT=PORT)" >&2
		exit 1
	fi
	sleep 0.1
done
for i in 1 2 3; do
	./slave -iface lo -discovery-port "$PORT" >"$LOGDIR/slave$i.log" 2>&1 &
	pids+=($!)
done

echo "waiting for 3 slaves to join the master at http://$HTTP ..."
for _ in $(seq 100); do
	if curl -fs "http://$HTTP/metrics" 2>/dev/null | grep -q '^master_slaves 3$'; then break; fi
	sleep 0.1
done
curl -fs "http://$HTTP/metrics" | grep -q '^master_slaves 3$' || { echo "slaves did not join; see $LOGDIR" >&2; exit 1; }
echo "3 slaves joined."
echo

ask() {
	echo "\$ curl '$1'"
	curl -s ${2:+-H "Accept: $2"} "http://$HTTP$1"
	echo
}
ask '/fibonacci?n=90'
ask '/fibonacci?n=90' application/json
ask '/primes?n=100000'
ask '/primes?n=20000' application/json
ask '/fibonacci?n=-1'
ask '/squares?n=3'
echo "master log (last lines):"
tail -n 8 "$LOGDIR/master.log"
