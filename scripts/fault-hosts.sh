#!/usr/bin/env bash
# Sets up the daemons of the fault tests (package testkit/faults), which
# kill them and start them again: an LXD and an Incus of their own, apart
# from the test hosts, each with its state under /var/lib/lxkit-faults, a
# dir pool "default", a default profile with a root disk and no network,
# HTTPS on loopback and the busybox image "testimage", and no instance.
# Idempotent; make hosts runs it.
#
#   fault-hosts.sh IMAGE_TARBALL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=$1
base=/var/lib/lxkit-faults

for d in "lxd lxc LXD_DIR 127.0.0.1:8445" "incus incus INCUS_DIR 127.0.0.1:8446"; do
  set -- $d
  name=$1 cli=$2 var=$3 https=$4 dir=$base/$1
  bash "$here/daemon.sh" start "$name" "$dir"
  export "$var=$dir"
  if ! "$cli" storage show default >/dev/null 2>&1; then
    seed=$'storage_pools:\n- {name: default, driver: dir}\nprofiles:\n- name: default\n  devices:\n    root: {type: disk, path: /, pool: default}\n'
    case $name in
      lxd) out=$(lxd init --preseed <<<"$seed" 2>&1) ;;
      incus) out=$(incus admin init --preseed <<<"$seed" 2>&1) ;;
    esac || { echo "lxkit hosts: fault $name init failed: $out" >&2; exit 1; }
  fi
  # These daemons are the fault tests' alone: what a run cut off left
  # on them (its instances, running) goes.
  for left in $("$cli" list -c n -f csv 2>/dev/null | grep '^lxkit-' || true); do
    echo "lxkit hosts: fault $name: deleting $left, left by an interrupted run" >&2
    "$cli" delete --force "$left" >/dev/null
  done
  [ "$("$cli" config get core.https_address)" = "$https" ] || "$cli" config set core.https_address "$https"
  "$cli" query /1.0/images/aliases/testimage >/dev/null 2>&1 || "$cli" image import "$image" --alias testimage >/dev/null
  printf 'lxkit hosts: fault %-5s %s/unix.socket https://%s\n' "$name" "$dir" "$https" >&2
  unset "$var"
done
