#!/usr/bin/env bash
# Grafana for the monitor host, run in the background with its state under
# LB_STATE:
#   scripts/monitor-host.sh start    # make monitor_preproc
#   scripts/monitor-host.sh stop     # make monitor_postproc
#   scripts/monitor-host.sh status
#
# Grafana is not a Debian package: when neither grafana nor grafana-server is
# installed, start says how to install it and fails. It never pretends.
#
# Environment (make passes its variables of the same names):
#   LB_STATE        state directory, default .lb in the repository
#   GRAFANA         grafana or grafana-server binary, default whichever is
#                   installed (PATH, /usr/sbin, /usr/share/grafana/bin)
#   GRAFANA_HOME    Grafana's --homepath, default /usr/share/grafana
#   GRAFANA_LISTEN  listen address, default :3000 (the monitor's default
#                   -grafana is http://localhost:3000)
#   READY_TIMEOUT   seconds to wait for /api/health, default 60 (the first
#                   start creates Grafana's database)
#
# Layout: grafana/{data,plugins}, log/grafana.log (Grafana's
# own log files go to grafana/log), run/grafana.pid. start is idempotent and
# stop ends only the process in the pid file, as in slave-host.sh, whose
# helpers this script uses.

# shellcheck source=scripts/slave-host.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/slave-host.sh"
set -euo pipefail

INSTALL_HINT="Debian does not package Grafana; install it from Grafana's own APT repository:
    apt-get install -y apt-transport-https gnupg wget
    mkdir -p /etc/apt/keyrings
    wget -q -O - https://apt.grafana.com/gpg.key | gpg --dearmor > /etc/apt/keyrings/grafana.gpg
    echo 'deb [signed-by=/etc/apt/keyrings/grafana.gpg] https://apt.grafana.com stable main' > /etc/apt/sources.list.d/grafana.list
    apt-get update && apt-get install -y grafana
or set GRAFANA to a grafana-server binary (e.g. from Grafana's standalone tarball, with GRAFANA_HOME its directory). Nothing was started."

setup() {
	STATE=$(lb_state)
	GRAFANA_HOME=${GRAFANA_HOME:-/usr/share/grafana}
	GRAFANA_LISTEN=${GRAFANA_LISTEN:-:3000}
	READY_TIMEOUT=${READY_TIMEOUT:-60}
	read -r GF_HOST GF_PORT < <(lb_endpoint "$GRAFANA_LISTEN") || exit 1
	GF_ADDR=${GRAFANA_LISTEN%:*}
	GF_ADDR=${GF_ADDR#[}
	GF_ADDR=${GF_ADDR%]}
	GF_DIR=$STATE/grafana
	GF_PIDFILE=$STATE/run/grafana.pid
	GF_LOG=$STATE/log/grafana.log
	GF_MARKER=cfg:default.paths.data=$GF_DIR/data
}

start() {
	local bin
	local -a args=()
	bin=$(PATH=$PATH:/usr/sbin:/sbin:$GRAFANA_HOME/bin lb_binary Grafana "${GRAFANA:-}" "$INSTALL_HINT" \
		grafana grafana-server) || exit 1
	if lb_running Grafana "$GF_PIDFILE" "$GF_MARKER" "$bin"; then
		lb_note "Grafana already running (pid $LB_RUNNING_PID): http://$GF_HOST:$GF_PORT"
		instructions
		return
	fi
	[[ -d $GRAFANA_HOME/conf ]] ||
		lb_die "$GRAFANA_HOME is not Grafana's home (no conf/ in it): set GRAFANA_HOME. $INSTALL_HINT"
	if lb_port_taken "$GF_HOST" "$GF_PORT"; then
		lb_die "port $GF_PORT is already in use (GRAFANA_LISTEN=$GRAFANA_LISTEN): is Grafana's own service running (systemctl stop grafana-server)? Or set GRAFANA_LISTEN"
	fi
	mkdir -p -- "$GF_DIR/data" "$GF_DIR/plugins" "$GF_DIR/log"
	# Grafana 10+ ships one binary, "grafana server"; grafana-server is the
	# older (and deprecated) entry point.
	[[ $(basename -- "$bin") == grafana ]] && args+=(server)
	args+=(--homepath "$GRAFANA_HOME")
	[[ -r /etc/grafana/grafana.ini ]] && args+=(--config /etc/grafana/grafana.ini)
	# cfg: arguments override the config file, so state stays under LB_STATE.
	args+=("$GF_MARKER"
		"cfg:default.paths.logs=$GF_DIR/log"
		"cfg:default.paths.plugins=$GF_DIR/plugins"
		"cfg:default.server.http_addr=$GF_ADDR"
		"cfg:default.server.http_port=$GF_PORT")
	lb_spawn Grafana "$GF_PIDFILE" "$GF_MARKER" "$GF_LOG" "$bin" "${args[@]}"
	lb_wait_ready Grafana "$GF_PIDFILE" "$GF_MARKER" "$GF_LOG" "$GF_HOST" "$GF_PORT" /api/health "$READY_TIMEOUT"
	lb_note "started Grafana (pid $(<"$GF_PIDFILE")): http://$GF_HOST:$GF_PORT, log $GF_LOG"
	instructions
}

instructions() {
	cat <<EOF

The monitor needs a Grafana service-account token:
  1. Open http://$GF_HOST:$GF_PORT (first login admin / admin, then set a new password).
  2. Administration → Users and access → Service accounts → Add service account,
     role Admin (or Editor with permission to manage datasources) → Create.
  3. Add service account token → Generate token → copy it (it is shown once).
Then, from the repository root on this host:
  ./monitoring <token>
(with -grafana http://HOST:$GF_PORT when the monitor runs on another host).
EOF
}

main() {
	case ${1:-} in
	start | stop | status) ;;
	*)
		echo "usage: $LB_SCRIPT start|stop|status" >&2
		exit 2
		;;
	esac
	setup
	case $1 in
	start) start ;;
	stop) lb_stop_daemon Grafana "$GF_PIDFILE" "$GF_MARKER" ;;
	status) lb_status Grafana "$GF_PIDFILE" "$GF_MARKER" "$GF_HOST" "$GF_PORT" /api/health || exit 3 ;;
	esac
}

main "$@"
