# Yurt: edge Kubernetes. `make local-up` starts a local cloud; `make test` runs every test.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
KUBE_BIN := $(BIN)/kube
OUTPUT := $(CURDIR)/_output
BINARIES := yurt-apiserver yurtctl yurthub yurt-manager yurt-coordinator
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=v0.0.0-yurt-$(VERSION)
CROSS_PLATFORMS := linux/amd64 linux/arm64 linux/arm
# go test flags; e.g. make test GOTESTFLAGS='-run TestNodePool -v'
GOTESTFLAGS ?=

.PHONY: all build kube-binaries cross test test-unit test-e2e verify update-codegen local-up local-down bench fuzz clean

all: build

## build: every binary into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))

## kube-binaries: kube-apiserver, kube-controller-manager, kube-proxy, kubemark from hack/tools into bin/kube/
kube-binaries:
	hack/tools/build.sh $(KUBE_BIN)

## cross: every binary for linux/amd64, arm64 and arm into bin/<os>_<arch>/
cross:
	@set -e; for p in $(CROSS_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; mkdir -p $(BIN)/$${os}_$${arch}; \
	  echo "building $$p"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$${os}_$${arch}/ $(addprefix ./cmd/,$(BINARIES)); \
	done

## test: unit tests, then the end-to-end tests against real Kubernetes binaries
test: build kube-binaries
	hack/ensure-test-tools.sh
	$(GO) test $(GOTESTFLAGS) ./...

## test-unit: the tests that need no Kubernetes binaries
test-unit:
	$(GO) test $(GOTESTFLAGS) $$($(GO) list ./... | grep -v /test/)

## test-e2e: only the end-to-end and conformance tests
test-e2e: build kube-binaries
	hack/ensure-test-tools.sh
	$(GO) test $(GOTESTFLAGS) ./test/...

## verify: generated code is current, gofmt and go vet are clean
verify:
	hack/verify-codegen.sh
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## update-codegen: regenerate zz_generated files and generated/
update-codegen:
	hack/update-codegen.sh

## local-up: a local cloud (API servers, controllers, built-in filters) and demo pool-a (coordinator, hollow nodes behind their own yurthubs) on loopback; Ctrl-C or make local-down stops it
local-up: build kube-binaries
	$(BIN)/yurtctl local up --dir $(OUTPUT)/local --bin-dir $(BIN)

## local-down: stop what make local-up started
local-down:
	$(BIN)/yurtctl local down --dir $(OUTPUT)/local

## bench: end-to-end benchmarks; the report goes to _output/bench/
bench: build kube-binaries
	@mkdir -p $(OUTPUT)/bench
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/... | tee $(OUTPUT)/bench/raw.txt

## fuzz: a short run of every fuzz target
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzzing $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg; \
	  done; done

clean:
	rm -rf $(BIN) $(OUTPUT)
