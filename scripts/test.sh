#!/usr/bin/env bash
# make test: prepares the hosts, vets, runs the unit tests with the race
# detector, then every test (unit and integration) against the real
# daemons, and ends with the slowest tests and the total time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
make --no-print-directory hosts nested-image cluster vet race
status=0
# Packages run side by side (-p, default 3): each test names what it makes
# uniquely and leaves other tests' objects alone, and the fault tests kill
# daemons of their own. The network tests run afterwards, alone: Incus 6.0
# fails to make, change or delete a bridge while any network interface of
# the machine comes or goes (as containers start and stop).
alone='TestNetworks$|TestScripts/.*/host_network$'
(
  s=0
  scripts/go.sh test -count=1 -p "${LXKIT_TEST_P:-3}" -timeout 30m -json -skip "$alone" ./... || s=1
  scripts/go.sh test -count=1 -p 1 -timeout 10m -json -run "$alone" ./host ./cmd/lxkit/command || s=1
  exit $s
) | scripts/go.sh run ./tools/testreport -slowest 10 || status=$?
echo "make test: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s in all (hosts, vet, race and every test)"
exit $status
