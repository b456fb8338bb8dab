#!/usr/bin/env bash
# Prometheus and node_exporter for a slave host, run in the background with
# their state under LB_STATE:
#   scripts/slave-host.sh start    # make slave_preproc
#   scripts/slave-host.sh stop     # make slave_postproc
#   scripts/slave-host.sh status
#
# Environment (make passes its variables of the same names):
#   LB_STATE       state directory, default .lb in the repository. Slaves run
#                  from the repository root write their target files into
#                  .lb/prometheus/targets, their default -sd-dir.
#   PROMETHEUS     prometheus binary, default prometheus from PATH
#   NODE_EXPORTER  node exporter binary, default prometheus-node-exporter
#                  (Debian's name) or node_exporter from PATH
#   PROM_LISTEN    Prometheus' listen address, default :9090 (the monitor
#                  expects Prometheus on port 9090 of every slave host)
#   NODE_LISTEN    node_exporter's listen address, default :9100
#   READY_TIMEOUT  seconds to wait for each daemon to answer, default 20
#
# Layout: prometheus/prometheus.yml (rendered from
# deploy/prometheus/slave-host.yml), prometheus/targets (the slaves' target
# files), prometheus/data, node-exporter/textfile (node_exporter's textfile
# collector), log/*.log, run/*.pid.
#
# start is idempotent: a daemon whose pid file names a live process of the
# same binary with this LB_STATE on its command line is left alone (after a
# config change Prometheus gets SIGHUP to reload); a stale pid file is
# replaced. stop ends only the processes named in the pid files.
#
# monitor-host.sh sources this file for the lb_* helpers; sourcing runs
# nothing.

# ---- helpers shared with monitor-host.sh ----------------------------------

LB_SCRIPT=$(basename -- "$0")
LB_REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

lb_note() { printf '%s: %s\n' "$LB_SCRIPT" "$*"; }
lb_die() {
	printf '%s: %s\n' "$LB_SCRIPT" "$*" >&2
	exit 1
}

# lb_state: LB_STATE as an absolute path, created.
lb_state() {
	local state=${LB_STATE:-$LB_REPO/.lb}
	[[ $state == /* ]] || state=$PWD/$state
	[[ $state != *"'"* && $state != *$'\n'* ]] || lb_die "LB_STATE must not contain quotes or newlines: $state"
	mkdir -p -- "$state/log" "$state/run" || lb_die "cannot create the state directory $state"
	printf '%s\n' "$state"
}

# lb_binary WHAT OVERRIDE INSTALL_HINT CANDIDATE...: the absolute path of the
# binary OVERRIDE names, or else of the first CANDIDATE found.
lb_binary() {
	local what=$1 override=$2 hint=$3 path="" c
	shift 3
	if [[ -n $override ]]; then
		path=$(command -v -- "$override" 2>/dev/null) ||
			lb_die "$what: \"$override\" is not an executable. $hint"
	else
		for c in "$@"; do
			path=$(command -v -- "$c" 2>/dev/null) && break
			path=""
		done
		[[ -n $path ]] || lb_die "$what is not installed (looked for $* in PATH). $hint"
	fi
	[[ $path == /* ]] || path=$PWD/$path
	printf '%s\n' "$path"
}

# lb_endpoint LISTEN: "HOST PORT" where a daemon listening on LISTEN
# (HOST:PORT, :PORT, [V6]:PORT) is reached from this host.
lb_endpoint() {
	local listen=$1 host port
	port=${listen##*:}
	host=${listen%:*}
	host=${host#[}
	host=${host%]}
	if ! [[ $listen == *:* && $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
		lb_die "bad listen address \"$listen\": want HOST:PORT or :PORT"
	fi
	case $host in '' | 0.0.0.0 | '::' | '*') host=127.0.0.1 ;; esac
	printf '%s %s\n' "$host" "$port"
}

# lb_port_taken HOST PORT: something accepts connections there.
lb_port_taken() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# lb_http_ok HOST PORT PATH: GET answers 200.
lb_http_ok() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1:$2" >&3
		IFS= read -r line <&3 || exit 1
		[[ $line == HTTP/*" 200"* ]]' _ "$1" "$2" "$3" 2>/dev/null
}

# lb_pid PIDFILE MARKER: prints "PID ARGV0" when PIDFILE names a live process
# whose command line contains MARKER (an argument naming this LB_STATE), so a
# recycled PID or somebody else's daemon never counts as ours.
lb_pid() {
	local pidfile=$1 marker=$2 pid arg found=""
	local -a args=()
	[[ -f $pidfile ]] || return 1
	read -r pid <"$pidfile" || return 1
	[[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
	mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
	((${#args[@]} > 0)) || return 1 # a zombie has no command line
	for arg in "${args[@]}"; do
		[[ $arg == "$marker" ]] && found=1
	done
	[[ -n $found ]] || return 1
	printf '%s %s\n' "$pid" "${args[0]}"
}

# lb_alive PID: the process exists and is not a zombie.
lb_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# lb_running NAME PIDFILE MARKER BIN: succeeds when the daemon runs from BIN,
# setting LB_RUNNING_PID; dies when it runs from another binary.
lb_running() {
	local name=$1 pidfile=$2 marker=$3 bin=$4 pid argv0
	LB_RUNNING_PID=""
	read -r pid argv0 < <(lb_pid "$pidfile" "$marker") || return 1
	[[ $argv0 == "$bin" ]] ||
		lb_die "$name already runs from $argv0 (pid $pid), not $bin: run '$LB_SCRIPT stop' first"
	LB_RUNNING_PID=$pid
}

# Where each log's current run starts (bytes).
declare -A LB_LOG_START=()
# What this invocation started: names, pid files and markers.
LB_STARTED_NAME=()
LB_STARTED_PIDFILE=()
LB_STARTED_MARKER=()

# lb_spawn NAME PIDFILE MARKER LOG BIN ARG...: starts BIN in the background, in
# its own session (a Ctrl-C in the terminal that ran make does not reach it),
# and writes its PID.
lb_spawn() {
	local name=$1 pidfile=$2 marker=$3 log=$4 pid
	shift 4
	if [[ -f $pidfile ]]; then
		lb_note "replacing the stale pid file $pidfile ($name does not run under that pid)"
	fi
	printf '\n==== %s: %s starting: %s\n' "$(date '+%F %T')" "$LB_SCRIPT" "$*" >>"$log"
	LB_LOG_START[$log]=$(stat -c %s -- "$log")
	if command -v setsid >/dev/null; then
		# Not a process group leader, so setsid execs in place: $! is the daemon.
		setsid "$@" >>"$log" 2>&1 </dev/null &
	else
		nohup "$@" >>"$log" 2>&1 </dev/null &
	fi
	pid=$!
	printf '%s\n' "$pid" >"$pidfile.tmp" && mv -f -- "$pidfile.tmp" "$pidfile"
	LB_STARTED_NAME+=("$name")
	LB_STARTED_PIDFILE+=("$pidfile")
	LB_STARTED_MARKER+=("$marker")
}

# lb_fail_start MESSAGE: stops what this invocation started, then dies.
lb_fail_start() {
	local i
	for i in "${!LB_STARTED_NAME[@]}"; do
		if lb_pid "${LB_STARTED_PIDFILE[i]}" "${LB_STARTED_MARKER[i]}" >/dev/null; then
			lb_stop_daemon "${LB_STARTED_NAME[i]}" "${LB_STARTED_PIDFILE[i]}" "${LB_STARTED_MARKER[i]}" >&2
		fi
		rm -f -- "${LB_STARTED_PIDFILE[i]}"
	done
	lb_die "$*"
}

# lb_wait_ready NAME PIDFILE MARKER LOG HOST PORT PATH TIMEOUT: waits until
# GET PATH answers 200; fails with the log's tail if the daemon exits first or
# the time runs out.
lb_wait_ready() {
	local name=$1 pidfile=$2 marker=$3 log=$4 host=$5 port=$6 path=$7 timeout=$8 why deadline pid run
	deadline=$((SECONDS + timeout))
	read -r pid <"$pidfile"
	until lb_http_ok "$host" "$port" "$path"; do
		# By PID, not lb_pid: the command line changes while setsid execs.
		if ! lb_alive "$pid"; then
			why="$name exited at start"
		elif ((SECONDS >= deadline)); then
			why="$name did not answer http://$host:$port$path within ${timeout}s"
		else
			sleep 0.2
			continue
		fi
		run=$(tail -c "+$((${LB_LOG_START[$log]:-0} + 1))" -- "$log")
		if grep -qi 'address already in use' <<<"$run"; then
			why="$why: port $port is already in use"
		fi
		lb_fail_start "$why. Its log, $log, says:
$(tail -n 15 <<<"$run" | sed 's/^/    /')"
	done
}

# lb_stop_daemon NAME PIDFILE MARKER: SIGTERM, up to 10 s, then SIGKILL.
lb_stop_daemon() {
	local name=$1 pidfile=$2 marker=$3 pid argv0 i
	if read -r pid argv0 < <(lb_pid "$pidfile" "$marker"); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			lb_pid "$pidfile" "$marker" >/dev/null || break
			sleep 0.1
		done
		if lb_pid "$pidfile" "$marker" >/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 20; i++)); do
				lb_pid "$pidfile" "$marker" >/dev/null || break
				sleep 0.1
			done
			lb_note "$name (pid $pid) ignored SIGTERM for 10 s: killed"
		else
			lb_note "stopped $name (pid $pid)"
		fi
	elif [[ -f $pidfile ]]; then
		lb_note "$name was not running (stale pid file removed)"
	else
		lb_note "$name was not running"
	fi
	rm -f -- "$pidfile"
}

# lb_status NAME PIDFILE MARKER HOST PORT PATH: one line; fails when down.
lb_status() {
	local name=$1 pidfile=$2 marker=$3 host=$4 port=$5 path=$6 pid argv0
	if read -r pid argv0 < <(lb_pid "$pidfile" "$marker"); then
		if lb_http_ok "$host" "$port" "$path"; then
			lb_note "$name: running (pid $pid, $argv0), answering at http://$host:$port$path"
		else
			lb_note "$name: running (pid $pid, $argv0) but http://$host:$port$path does not answer"
		fi
	else
		lb_note "$name: not running"
		return 1
	fi
}

# ---- the slave host -------------------------------------------------------

slave_host_setup() {
	STATE=$(lb_state)
	PROM_LISTEN=${PROM_LISTEN:-:9090}
	NODE_LISTEN=${NODE_LISTEN:-:9100}
	READY_TIMEOUT=${READY_TIMEOUT:-20}
	read -r PROM_HOST PROM_PORT < <(lb_endpoint "$PROM_LISTEN") || exit 1
	read -r NODE_HOST NODE_PORT < <(lb_endpoint "$NODE_LISTEN") || exit 1
	PROM_CONFIG=$STATE/prometheus/prometheus.yml
	PROM_PIDFILE=$STATE/run/prometheus.pid
	PROM_LOG=$STATE/log/prometheus.log
	PROM_MARKER=--config.file=$PROM_CONFIG
	NODE_TEXTFILE=$STATE/node-exporter/textfile
	NODE_PIDFILE=$STATE/run/node-exporter.pid
	NODE_LOG=$STATE/log/node-exporter.log
	NODE_MARKER=--collector.textfile.directory=$NODE_TEXTFILE
}

# render_config: writes prometheus.yml from the template; succeeds when it
# changed.
render_config() {
	local template=$LB_REPO/deploy/prometheus/slave-host.yml text
	[[ -r $template ]] || lb_die "missing $template"
	text=$(<"$template")
	text=${text//@TARGET_DIR@/"$STATE/prometheus/targets"}
	text=${text//@NODE_EXPORTER@/"$NODE_HOST:$NODE_PORT"}
	printf '%s\n' "$text" >"$PROM_CONFIG.tmp"
	if cmp -s -- "$PROM_CONFIG.tmp" "$PROM_CONFIG"; then
		rm -f -- "$PROM_CONFIG.tmp"
		return 1
	fi
	mv -f -- "$PROM_CONFIG.tmp" "$PROM_CONFIG"
}

slave_host_start() {
	local prom node changed="" start_prom="" start_node=""
	prom=$(lb_binary Prometheus "${PROMETHEUS:-}" \
		"The Debian package prometheus installs it: apt-get install prometheus (a policy-rc.d returning 101 keeps its service from starting)." \
		prometheus) || exit 1
	node=$(lb_binary node_exporter "${NODE_EXPORTER:-}" \
		"The Debian package prometheus-node-exporter installs it: apt-get install prometheus-node-exporter." \
		prometheus-node-exporter node_exporter) || exit 1
	mkdir -p -- "$STATE/prometheus/targets" "$STATE/prometheus/data" "$NODE_TEXTFILE"
	render_config && changed=1

	if lb_running node_exporter "$NODE_PIDFILE" "$NODE_MARKER" "$node"; then
		lb_note "node_exporter already running (pid $LB_RUNNING_PID)"
	else
		start_node=1
	fi
	if lb_running Prometheus "$PROM_PIDFILE" "$PROM_MARKER" "$prom"; then
		lb_note "Prometheus already running (pid $LB_RUNNING_PID)"
		if [[ -n $changed ]]; then
			kill -HUP "$LB_RUNNING_PID" && lb_note "config changed: Prometheus reloads $PROM_CONFIG"
		fi
	else
		start_prom=1
	fi
	# Check both ports before starting anything.
	if [[ -n $start_node ]] && lb_port_taken "$NODE_HOST" "$NODE_PORT"; then
		lb_die "port $NODE_PORT is already in use (NODE_LISTEN=$NODE_LISTEN): stop what listens there or set NODE_LISTEN"
	fi
	if [[ -n $start_prom ]] && lb_port_taken "$PROM_HOST" "$PROM_PORT"; then
		lb_die "port $PROM_PORT is already in use (PROM_LISTEN=$PROM_LISTEN): stop what listens there or set PROM_LISTEN"
	fi

	if [[ -n $start_node ]]; then
		lb_spawn node_exporter "$NODE_PIDFILE" "$NODE_MARKER" "$NODE_LOG" \
			"$node" "--web.listen-address=$NODE_LISTEN" "$NODE_MARKER"
	fi
	if [[ -n $start_prom ]]; then
		lb_spawn Prometheus "$PROM_PIDFILE" "$PROM_MARKER" "$PROM_LOG" \
			"$prom" "$PROM_MARKER" "--storage.tsdb.path=$STATE/prometheus/data" \
			"--web.listen-address=$PROM_LISTEN"
	fi
	if [[ -n $start_node ]]; then
		lb_wait_ready node_exporter "$NODE_PIDFILE" "$NODE_MARKER" "$NODE_LOG" \
			"$NODE_HOST" "$NODE_PORT" /metrics "$READY_TIMEOUT"
		lb_note "started node_exporter (pid $(<"$NODE_PIDFILE")): http://$NODE_HOST:$NODE_PORT/metrics, log $NODE_LOG"
	fi
	if [[ -n $start_prom ]]; then
		lb_wait_ready Prometheus "$PROM_PIDFILE" "$PROM_MARKER" "$PROM_LOG" \
			"$PROM_HOST" "$PROM_PORT" /-/ready "$READY_TIMEOUT"
		lb_note "started Prometheus (pid $(<"$PROM_PIDFILE")): http://$PROM_HOST:$PROM_PORT, log $PROM_LOG"
	fi
	if [[ $(basename -- "$STATE") == .lb ]]; then
		lb_note "slaves run from $(dirname -- "$STATE") publish their /metrics into $STATE/prometheus/targets (their default -sd-dir); from elsewhere: ./slave -sd-dir $STATE/prometheus/targets"
	else
		lb_note "start the slaves with -sd-dir $STATE/prometheus/targets so that Prometheus finds them"
	fi
}

slave_host_main() {
	set -euo pipefail
	case ${1:-} in
	start | stop | status) ;;
	*)
		echo "usage: $LB_SCRIPT start|stop|status" >&2
		exit 2
		;;
	esac
	slave_host_setup
	case $1 in
	start) slave_host_start ;;
	stop)
		lb_stop_daemon Prometheus "$PROM_PIDFILE" "$PROM_MARKER"
		lb_stop_daemon node_exporter "$NODE_PIDFILE" "$NODE_MARKER"
		;;
	status)
		local rc=0
		lb_status Prometheus "$PROM_PIDFILE" "$PROM_MARKER" "$PROM_HOST" "$PROM_PORT" /-/ready || rc=3
		lb_status node_exporter "$NODE_PIDFILE" "$NODE_MARKER" "$NODE_HOST" "$NODE_PORT" /metrics || rc=3
		exit "$rc"
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	slave_host_main "$@"
fi
