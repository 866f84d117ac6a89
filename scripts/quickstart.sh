#!/usr/bin/env bash
# The README's first command: build harness and the quick-start demo on a machine that has only
# Go, then run the main job on the built-in example (examples/quickstart/services.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/harness ./cmd/harness
go build -o examples/quickstart/bin/demo ./examples/quickstart/demo

harness() { ./bin/harness -c examples/quickstart/services.yaml "$@"; }
set -x
harness validate
harness config deps
harness config env api
