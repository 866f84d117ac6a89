#!/usr/bin/env bash
# The README's first command: build harness and the quick-start demo on a machine that has only
# Go, then run the main job on the built-in example (examples/quickstart/services.yaml): check
# it, start it through the daemon (started on demand), show its state and its logs, ask the
# api, and stop everything. The daemon's data dir is a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/harness ./cmd/harness
go build -o examples/quickstart/bin/demo ./examples/quickstart/demo

export HARNESS_DATA_DIR
HARNESS_DATA_DIR=$(mktemp -d)
harness() { ./bin/harness -c examples/quickstart/services.yaml "$@"; }
cleanup() {
	harness stop >/dev/null 2>&1 || true
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
harness stop
harness status
