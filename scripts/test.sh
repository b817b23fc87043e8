#!/usr/bin/env bash
# make test: prepares the hosts, vets, runs the unit tests with the race
# detector, then every test (unit and integration) against the real
# daemons, and ends with the slowest tests and the total time.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/one-at-a-time.sh "$@"
start=$(date +%s)

# Where the time goes: each phase's wall time; the CPU time the machine
# spent meanwhile (from /proc/stat), and of it the phase's own processes
# (their children included: go, the test binaries, the lxc and incus
# commands they run; bash's `times`) and the LXD and Incus daemons (all of
# them, summed over /proc; one killed during the phase loses its share);
# the rest is every other process: the containers, the daemons' helpers,
# anything else the machine runs meanwhile. Printed together at the end.
times=""
hz=$(getconf CLK_TCK)
timesf=$(mktemp)
trap 'rm -f "$timesf"' EXIT
machine() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
daemons() { # clock ticks of every lxd and incusd process
  local f t=0 rest
  for f in /proc/[0-9]*/stat; do
    read -r rest 2>/dev/null <"$f" || continue
    case $rest in *" (lxd) "* | *" (incusd) "*) ;; *) continue ;; esac
    rest=${rest##*) }
    set -- $rest
    t=$((t + ${12} + ${13}))
  done
  echo $t
}
own() { # clock ticks of this shell's waited-for children (into $own)
  local u s
  times >"$timesf" # in this shell: a subshell's would count its own
  { read -r _; read -r u s; } <"$timesf"
  own=$(awk -v u="$u" -v s="$s" -v hz="$hz" 'function sec(x, m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    BEGIN { printf "%d\n", (sec(u) + sec(s)) * hz }')
}
phase() { # NAME CMD...: runs CMD, noting its times; returns its status
  local name=$1 s m0 d0 o0 m1 d1 o1 rc=0
  shift
  own
  s=$(date +%s) m0=$(machine) d0=$(daemons) o0=$own
  "$@" || rc=$?
  own
  m1=$(machine) d1=$(daemons) o1=$own
  times+=$(printf '  %-31s %5d s wall, %6d CPU s: %6d its own, %6d the daemons, %6d other' "$name" \
    $(($(date +%s) - s)) $(((m1 - m0) / hz)) $(((o1 - o0) / hz)) $(((d1 - d0) / hz)) $(((m1 - m0 - (o1 - o0) - (d1 - d0)) / hz)))$'\n'
  return $rc
}

phase "hosts, test images, clusters" make --no-print-directory hosts nested-image cloudinit-image cluster
phase "vet (go vet, staticcheck)" make --no-print-directory vet
phase "unit tests with -race (-short)" make --no-print-directory race
status=0
# Packages run side by side (-p, default 3): each test names what it makes
# uniquely and leaves other tests' objects alone, and the fault tests kill
# daemons of their own. The network tests run afterwards, alone: Incus 6.0
# fails to make, change or delete a bridge while any network interface of
# the machine comes or goes (as containers start and stop).
alone='TestNetworks$|TestScripts/.*/host_network$'
every() {
  (
    s=0
    # -timeout bounds a package's binary: cmd/lxkit/command, whose scripts
    # run two at a time (GOMAXPROCS), took 1643 s in ci80 and hit 30m.
    scripts/go.sh test -count=1 -p "${LXKIT_TEST_P:-3}" -timeout 45m -json -skip "$alone" ./... || s=1
    scripts/go.sh test -count=1 -p 1 -timeout 10m -json -run "$alone" ./host ./cmd/lxkit/command || s=1
    exit $s
  ) | scripts/go.sh run ./tools/testreport -slowest 10
}
phase "every test (the daemons' too)" every || status=$?
printf 'make test: where the time went:\n%s' "$times"
echo "make test: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s in all (hosts, vet, race and every test)"
exit $status
