#!/usr/bin/env bash
# The README's first command: build harness and the demo on a machine that has only Go, then
# run the main job on a built-in example: check it, start it through the daemon (started on
# demand), show its state and its logs, and stop everything. The daemon's data dir is a
# temporary directory, removed at the end.
#
#   ./scripts/quickstart.sh          examples/quickstart: two local processes
#   ./scripts/quickstart.sh mixed    examples/mixed: the store in a Docker container (needs a
#                                    Docker engine), the api a local process
set -euo pipefail
cd "$(dirname "$0")/.."

example=${1:-quickstart}
case $example in
quickstart | mixed) ;;
*)
	echo "quickstart: unknown example $example (quickstart or mixed)" >&2
	exit 2
	;;
esac

go build -o bin/harness ./cmd/harness
# Static, so that the mixed example's image can be built FROM scratch around it.
CGO_ENABLED=0 go build -o "examples/$example/bin/demo" ./examples/quickstart/demo

export HARNESS_DATA_DIR
HARNESS_DATA_DIR=$(mktemp -d)
harness() { ./bin/harness -c "examples/$example/services.yaml" "$@"; }
cleanup() {
	harness down >/dev/null 2>&1 || true
	./bin/harness daemon stop >/dev/null 2>&1 || true
	rm -rf "$HARNESS_DATA_DIR"
}
trap cleanup EXIT

set -x
harness validate
harness config deps
harness start
harness status
harness logs
harness down
harness status
