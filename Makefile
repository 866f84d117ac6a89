# Thin wrappers: every target is one go command (house rule 10). The whole suite, with the
# infrastructure it needs, is `sudo ./scripts/test-all.sh`.

FUZZTIME ?= 20s

.DEFAULT_GOAL := help
.PHONY: help build test test-integration lint fuzz golden

help: ## list the targets
	@awk -F ":.*## " '/^[a-z-]+:.*## /{printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/harness
	go build -o bin/harness ./cmd/harness

test: ## unit tests with the race detector
	go test -race ./...

test-integration: ## integration tests (Docker, netns, sshd; see scripts/test-all.sh)
	go test -tags integration ./...

lint: ## go vet and staticcheck
	go vet ./... && go tool staticcheck ./...

fuzz: ## every fuzz target for FUZZTIME (default 20s)
	FUZZTIME=$(FUZZTIME) ./scripts/test-all.sh --fuzz-only

golden: ## rewrite the config goldens under testdata/
	go test ./config/... -update
