#!/usr/bin/env bash
# make test: prepares the hosts, vets, runs the unit tests with the race
# detector, then every test (unit and integration) against the real
# daemons, and ends with the slowest tests and the total time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
make --no-print-directory hosts nested-image vet race
status=0
# One package at a time (-p 1): the daemons are shared, and the fault
# tests stop and kill them.
scripts/go.sh test -count=1 -p 1 -timeout 30m -json ./... | scripts/go.sh run ./tools/testreport -slowest 10 || status=$?
echo "make test: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s in all (hosts, vet, race and every test)"
exit $status
