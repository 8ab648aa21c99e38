# lbd build, test and demo targets. Go 1.26 or newer must be on PATH.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/lbd

.PHONY: build test test-short demo vet clean

## build: the static lbd binary at bin/lbd
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lbd

## vet: go vet over every package
vet:
	$(GO) vet ./...

## test: go vet, then every test with the race detector (integration tests start real lbd processes)
test: vet build
	LBDTEST_BINARY=$(CURDIR)/$(BIN) $(GO) test -race -timeout 20m ./...

## test-short: the tests without the slow cluster and chaos tests
test-short:
	$(GO) test -short -timeout 10m ./...

## demo: a master and two workers as separate processes hash every file under DEMO_DIR
demo: build
	./scripts/demo.sh

clean:
	rm -rf bin
