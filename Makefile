# lxkit: the two commands a user needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/lxkit
export GOFLAGS ?= -buildvcs=false

.PHONY: all build hosts demo test unit vet bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lxkit

# Installs and starts LXD and Incus and imports the test image (idempotent).
hosts:
	bash scripts/hosts.sh

demo: hosts build
	bash scripts/demo.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# Every test, unit and integration, against the real daemons.
test: hosts vet
	$(GO) test -count=1 -timeout 20m ./...

# Unit tests only: no daemon needed.
unit: vet
	$(GO) test -count=1 -short ./...

bench: hosts build
	bash scripts/bench.sh
