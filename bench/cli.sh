#!/usr/bin/env bash
# bench/cli.sh: the whole-command timings of the daemon issue, each a cold process:
#   - `harness validate` of the quick-start file;
#   - `harness status -o json` against a daemon supervising 1,000 services;
# with `true` (a cold process doing nothing) as the floor. Prints the median and the range of
# N runs (default 30). Traffic: the daemon's unix socket only.
set -euo pipefail
N=${N:-30}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
bin=$work/harness
go build -o "$bin" ./cmd/harness

# time_ms CMD...: N runs of CMD, median and range in ms.
time_ms() {
	local times=()
	for _ in $(seq "$N"); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v n="$N" '{a[NR]=$1} END {printf "median %.1f ms (%.1f–%.1f)\n", a[int((n+1)/2)]/1000, a[1]/1000, a[n]/1000}'
}

echo "floor (true):                  $(time_ms true)"
echo "validate (quick-start):        $(time_ms "$bin" -c examples/quickstart/services.yaml validate)"

{
	echo 'version: "1.0"'
	echo 'name: bench'
	echo 'settings: {parallelism: 64}'
	echo 'services:'
	for i in $(seq 1000); do echo "  s$i: {type: process, binary: sleep, args: [\"600\"]}"; done
} >"$work/services.yaml"
export HARNESS_DATA_DIR=$work/data
trap '"$bin" -c "$work/services.yaml" stop >/dev/null 2>&1 || true; "$bin" daemon stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin" -c "$work/services.yaml" start >/dev/null
echo "status -o json (1,000 running): $(time_ms "$bin" -c "$work/services.yaml" status -o json)"
