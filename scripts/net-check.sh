#!/usr/bin/env bash
# Checks the network rule for the in-process tests: every package's tests
# but e2e's (which build namespaces of their own) run under strace, and any
# connect, sendto or sendmsg to an IPv4 or IPv6 address outside loopback is
# listed. Exits 1 when there is one. Needs strace (apt-get install strace).
#   scripts/net-check.sh [PACKAGES] (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "strace is missing (apt-get install strace)" >&2; exit 1; }
# An strace that may not trace (no ptrace here) would find nothing and pass.
strace -qq -o /dev/null true || { echo "strace cannot trace here" >&2; exit 1; }
export CI=true # tests fail rather than skip, so none goes untraced
pkgs=$(go list "${@:-./...}")
work=$(mktemp -d -t lb-net-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
bad=0
for pkg in $(grep -v /e2e$ <<<"$pkgs"); do
	d=$(go list -f '{{.Dir}}' "$pkg")
	compgen -G "$d/*_test.go" >/dev/null || continue
	go test -c -o "$work/t" "$pkg"
	# The tests' own verdict is make test's business; this only reads where they sent packets.
	rm -f "$work/trace" # execve is traced too, so a trace that worked is never empty
	(cd "$d" && strace -f -qq -e trace=execve,connect,sendto,sendmsg -o "$work/trace" "$work/t" -test.count=1 >/dev/null 2>&1) || true
	[ -s "$work/trace" ] || { echo "$pkg: strace wrote no trace" >&2; exit 1; }
	# 0.0.0.0 is this host; 127/8 and ::1 are loopback.
	off=$(grep -oE 'inet_addr\("[0-9.]+"\)|inet_pton\(AF_INET6, "[^"]+"' "$work/trace" |
		grep -vE '"(127\.[0-9.]+|0\.0\.0\.0|::1|::ffff:127\.[0-9.]+|::)"' | sort | uniq -c || true)
	if [ -n "$off" ]; then
		echo "$pkg sent packets off loopback:"
		echo "$off"
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "no test outside e2e sent a packet off loopback"
exit "$bad"
