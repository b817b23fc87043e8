# lxkit: the two commands a user needs are `make demo` and `make test`.
GO      ?= scripts/go.sh
BIN     := bin/lxkit
export GOFLAGS ?= -buildvcs=false

.PHONY: all build hosts nested-image demo test unit vet bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lxkit

# Installs and starts LXD and Incus and imports the test image (idempotent).
hosts:
	bash scripts/hosts.sh

# Builds once (cached in /var/cache/lxkit) and imports "nestimage", Debian
# with LXD inside, for nested-container tests (idempotent).
nested-image: hosts
	bash scripts/nested-image.sh

demo: hosts build
	bash scripts/demo.sh

vet:
	@bad=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...

# Every test, unit and integration, against the real daemons. One package
# at a time (-p 1): on 2 cores, two packages' containers at once (nested
# LXDs among them) starve the daemons, which then miss their own deadlines.
test: hosts nested-image vet
	$(GO) test -count=1 -p 1 -timeout 30m ./...

# Unit tests only: no daemon needed.
unit: vet
	$(GO) test -count=1 -short ./...

bench: hosts build
	bash scripts/bench.sh
