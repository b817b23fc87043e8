# lxkit: the two commands a user needs are `make demo` and `make test`.
GO      ?= scripts/go.sh
BIN     := bin/lxkit
# -trimpath keeps the checkout's directory out of what is built, so a
# fresh clone elsewhere (as CI makes) reuses the Go build cache instead of
# compiling every package again for vet, -race and the tests (73 s on
# this machine, measured with `go test -run NONE ./...`, against 14 s).
export GOFLAGS ?= -buildvcs=false -trimpath

.PHONY: all build install man hosts nested-image cloudinit-image cluster cluster-down demo test unit race vet bench faults

all: build

# -buildvcs=auto: the binary carries its commit (lxkit --version) when
# built from a checkout; GOFLAGS turns it off for everything else.
build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o $(BIN) ./cmd/lxkit

# Installs the binary as $(PREFIX)/bin/lxkit and its man pages in
# $(PREFIX)/share/man/man1 (DESTDIR for packaging).
PREFIX ?= /usr/local
install: build man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/lxkit
	install -m 0644 $(MAN)/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# Writes a man page per command into man/man1 (lxkit.1, lxkit-start.1...),
# dated by the last commit so that a commit's pages are always the same.
MAN ?= man/man1
man:
	rm -rf $(MAN)
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(GO) run ./tools/man -o $(MAN)

# Installs and starts LXD and Incus, imports the test image and builds the
# local Debian package source of the cloud-config tests (idempotent).
hosts:
	bash scripts/hosts.sh

# Builds once (cached in /var/cache/lxkit) and imports "nestimage", Debian
# with LXD inside, for nested-container tests (idempotent).
nested-image: hosts
	bash scripts/nested-image.sh

# Builds once (cached in /var/cache/lxkit) and imports "cloudimage",
# Debian with cloud-init whose templates seed it from cloud-init.user-data,
# for the tests of real cloud-init (idempotent).
cloudinit-image: hosts
	bash scripts/cloudinit-image.sh

# Forms two real 3-member clusters on this machine, LXD and Incus, each
# member a daemon in its own network namespace, and adds the remotes
# lxd-cluster and incus-cluster (idempotent; scripts/cluster.sh).
cluster: hosts build
	bash scripts/cluster.sh up

# Stops the clusters' members and removes every trace of them.
cluster-down:
	bash scripts/cluster.sh down

demo: hosts build
	bash scripts/demo.sh

vet:
	@bad=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...
	bash scripts/staticcheck.sh ./...

# Every test, unit and integration, against the real daemons, after the
# unit tests once with -race; ends with the slowest tests and the total
# time (scripts/test.sh).
test:
	@bash scripts/test.sh

# Unit tests only: no daemon needed (-short skips the integration tests).
unit: vet
	$(GO) test -count=1 -short ./...

# The fault tests alone (part of make test): the fault daemons killed,
# stopped and cut off in the middle of lxkit's work (testkit/faults).
faults: hosts
	$(GO) test -count=1 -v -timeout 20m ./testkit/faults/

# The unit tests with the race detector.
# -p 4: several of these unit tests wait on timeouts (fake daemons that
# stall); with the default two packages at a time the CPUs idled, and the
# phase took 135-183 s instead of 77 s.
race:
	$(GO) test -p 4 -count=1 -short -race ./...

bench: hosts build cluster
	bash scripts/bench.sh
