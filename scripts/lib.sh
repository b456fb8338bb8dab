# shellcheck shell=bash
# Shared by the scripts that start daemons on loopback: source it, then
# `lb_setup NAME` makes $dir (a temporary directory) and arranges for every
# PID added to pids to be stopped, and $dir removed, when the script exits.

pids=()

# lb_stop ends the processes in pids (SIGTERM, then waits for each) and
# forgets them.
lb_stop() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}

lb_setup() {
	dir=$(mktemp -d -t "lb-$1.XXXXXX")
	trap 'lb_stop; rm -rf "$dir"' EXIT
}

# lb_wait_slaves HTTP N [SECONDS]: waits until the master at HTTP has N
# slaves in its pool, or fails.
lb_wait_slaves() {
	local i
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		curl -fs "http://$1/metrics" 2>/dev/null | grep -q "^master_slaves $2\$" && return 0
		sleep 0.1
	done
	echo "the master at $1 does not have $2 slaves after ${3:-10} s" >&2
	return 1
}
