# lbd build, test and demo targets. Go 1.26 or newer must be on PATH.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/lbd

.PHONY: build test test-short test-browser demo vet clean

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

## fuzz: each fuzz target for FUZZTIME (default 30s): task frames, the authenticated handshake,
## API request bodies, config files and store records
FUZZTIME ?= 30s
FUZZ_TARGETS := wire:FuzzRecv wire:FuzzFastDecode wire:FuzzHandshake api:FuzzDecodeRequest config:FuzzLoadFile store:FuzzDecodeRecord
.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "fuzz $$name in ./$$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg; \
	done

## demo: a master and two workers as separate processes hash every file under DEMO_DIR
demo: build
	./scripts/demo.sh

clean:
	rm -rf bin

# ---- packages, images and the container and systemd tests ----

TOOLS       := $(CURDIR)/bin/tools
NFPM        := $(TOOLS)/nfpm
PKG_VERSION ?= $(shell ./packaging/version.sh)
PKG_ARCH    ?= $(shell $(GO) env GOARCH)
PKG_DIR     := bin/packages
IMAGE       ?= lbd:latest
DEBIAN_IMAGE ?= lbd:debian

.PHONY: packages image image-debian container-test systemd-test

$(NFPM):
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

## packages: bin/packages/lbd_VERSION_ARCH.deb and lbd-VERSION.ARCH.rpm with nfpm
packages: build $(NFPM)
	mkdir -p $(PKG_DIR)
	rm -f $(PKG_DIR)/*.deb $(PKG_DIR)/*.rpm
	VERSION=$(PKG_VERSION) ARCH=$(PKG_ARCH) $(NFPM) package -f packaging/nfpm.yaml -p deb -t $(PKG_DIR)/
	VERSION=$(PKG_VERSION) ARCH=$(PKG_ARCH) $(NFPM) package -f packaging/nfpm.yaml -p rpm -t $(PKG_DIR)/
	ls -l $(PKG_DIR)

## image: the FROM scratch container image $(IMAGE) with the static binary
image: build
	./packaging/image.sh scratch $(IMAGE)

## image-debian: $(DEBIAN_IMAGE), a debootstrap'ed Debian rootfs plus lbd
image-debian: build
	./packaging/image.sh debian $(DEBIAN_IMAGE)

## container-test: a master and workers as containers on a private network (needs docker)
container-test: image
	LBDTEST_CONTAINER=1 LBDTEST_IMAGE=$(IMAGE) $(GO) test -count=1 -timeout 10m -v -run 'Container' ./packaging/

## systemd-test: the .deb under systemd as pid 1 in a privileged container (needs docker)
systemd-test: packages
	LBDTEST_SYSTEMD=1 $(GO) test -count=1 -timeout 15m -v -run 'Systemd' ./packaging/

## test-browser: the status page in headless Chromium; the screenshot goes to bin/screenshots
test-browser:
	mkdir -p bin/screenshots
	LBDTEST_SCREENSHOT_DIR=$(CURDIR)/bin/screenshots $(GO) test -race -run TestStatusPageInBrowser -v ./api

## bench: lbd against gearmand, beanstalkd and NATS JetStream on loopback (slow; BENCH_FLAGS=-quick for a short run)
.PHONY: bench
bench:
	./bench/install-peers.sh
	cd bench && $(GO) run ./cmd/lbd-bench $(BENCH_FLAGS)
