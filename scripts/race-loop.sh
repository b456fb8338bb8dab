#!/usr/bin/env bash
# The flake hunt: plain `go test -race -count=1 ./...` (packages in
# parallel, CI=true so that nothing skips) RUNS times in a row on a fresh
# clone of HEAD, one line per run. Stops at the first failure, keeps its log
# and exits 1. About 4 minutes a run on 2 cores; needs root, like make test.
#   scripts/race-loop.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
rev=$(git rev-parse HEAD)
work=$(mktemp -d -t lb-race-loop.XXXXXX)
trap 'rm -rf "$work/src"' EXIT # a failed run's log stays
git clone -q . "$work/src"
git -C "$work/src" checkout -q "$rev"
cd "$work/src"
export CI=true
for ((i = 1; i <= RUNS; i++)); do
	start=$(date +%s)
	if go test -race -count=1 ./... >"$work/run.log" 2>&1; then
		echo "run $i of $RUNS: ok in $(($(date +%s) - start)) s"
	else
		echo "run $i of $RUNS: FAILED after $(($(date +%s) - start)) s; log in $work/run.log" >&2
		grep -E '^(--- FAIL|FAIL|panic)' "$work/run.log" >&2 || true
		exit 1
	fi
done
cd / && rm -rf "$work"
echo "$RUNS runs in a row green at $rev"
