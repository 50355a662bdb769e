# grelmicro-go: make test runs everything CI runs.
#
#   make test          servers up (scripts/testenv start), go vet, gofmt check,
#                      go test -race ./..., fuzz smoke run, bench/ go vet
#   make bench         servers up, the side-by-side benchmarks in bench/
#                      (output in bench/last-run.txt, ours/theirs ratios in
#                      bench/last-ratios.md)
#   make lint          golangci-lint (pinned, installed into ./bin)
#   make cover         coverage over ./... with the servers (coverage.out)
#   make fuzz          every fuzz target for FUZZTIME (default 10000x: ten
#                      thousand inputs) each
#   make testenv-up    start the test servers (Redis, PostgreSQL, etcd,
#                      kube-apiserver); make testenv-down stops them
#   make run           the example service on embedded defaults
#
# Servers: make test starts them if they are not running and, locally, leaves
# them up afterwards, so the next run (and a plain `go test ./pkg/...`, which
# finds .testenv/env on its own) reuses them in about 0.1s. Stop them with
# make testenv-down. Under CI=true, make test stops the servers it started,
# whether the tests passed or not.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

GO ?= go
TESTENV := scripts/testenv
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report its own deadline as a failure (`context deadline exceeded`, no
# failing input) when a loaded machine's worker is mid-input as the time
# runs out (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline
# to race; 10000 inputs take 0.1s to 30s per target here.
FUZZTIME ?= 10000x
TEST_TIMEOUT ?= 30m
GOLANGCI_VERSION := v2.15.0
GOLANGCI := bin/golangci-lint-$(GOLANGCI_VERSION)

# Exports the variables of .testenv/env into the recipe's shell.
LOAD_ENV := set -a; source <($(TESTENV) env); set +a
# True when CI holds a true value (what internal/testenv.InCI accepts).
IS_CI := ci="$${CI:-}"; [[ "$${ci,,}" =~ ^[[:space:]]*(1|t|true|y|yes|on)[[:space:]]*$$ ]]

.PHONY: run test test-steps vet fmt-check test-go bench-vet bench lint cover fuzz testenv-up testenv-down

run:
	$(GO) run ./examples/service

test:
	@status=0; \
	if $(TESTENV) start; then \
		$(LOAD_ENV); \
		$(MAKE) --no-print-directory test-steps || status=$$?; \
	else \
		status=$$?; \
	fi; \
	if $(IS_CI); then $(TESTENV) stop || true; fi; \
	if [ "$$status" -ne 0 ]; then echo "make test: FAILED (exit $$status)" >&2; fi; \
	exit $$status

# The steps of make test, in order; they expect the servers to be up.
TEST_STEPS ?= vet fmt-check test-go fuzz bench-vet

# make bench BENCH=Breaker BENCH_FLAGS='-cpu 1,8' narrows or widens the run.
BENCH ?= .
BENCH_FLAGS ?=
test-steps: $(TEST_STEPS)

vet:
	$(GO) vet ./...

fmt-check:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt: these files need gofmt -w:" >&2; echo "$$files" >&2; exit 1; fi; \
	echo "gofmt: clean"

test-go:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

fuzz:
	scripts/fuzz-smoke $(FUZZTIME)

bench-vet:
	cd bench && $(GO) vet ./...

bench:
	@$(TESTENV) start
	@$(LOAD_ENV); cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 1 $(BENCH_FLAGS) -timeout 60m ./... | tee last-run.txt
	@cd bench && $(GO) run ./cmd/benchratio < last-run.txt | tee last-ratios.md

$(GOLANGCI):
	@mkdir -p bin
	GOBIN="$(CURDIR)/bin" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv bin/golangci-lint $@

lint: $(GOLANGCI)
	@status=0; \
	$(GOLANGCI) run ./... || status=$$?; \
	(cd bench && ../$(GOLANGCI) run --config ../.golangci.yml ./...) || status=$$?; \
	exit $$status

cover:
	@$(TESTENV) start
	@$(LOAD_ENV); status=0; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -covermode=atomic -coverprofile=coverage.out ./... || status=$$?; \
	$(GO) tool cover -func=coverage.out | tail -n 1; \
	exit $$status

testenv-up:
	$(TESTENV) start

testenv-down:
	$(TESTENV) stop
