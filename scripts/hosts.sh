#!/usr/bin/env bash
# Sets up the two local daemons lxkit's integration tests use, LXD and Incus:
# installs them, starts them, gives each a dir pool "default", a btrfs pool
# "cow" on a loop file (copy-on-write tests), a bridge with NAT off and a
# busybox image "testimage". Idempotent and quiet; it refuses to touch a
# daemon that is already configured differently.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LXKIT_CACHE:-/var/cache/lxkit}
image=$cache/testimage-busybox-v1.tar.xz # bump v1 when build_image changes

die() { echo "lxkit hosts: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make hosts"
bash "$here/install-hosts.sh"

# configure NAME CLI BRIDGE ADDRESS INIT...: preseeds whatever is missing of
# pool, bridge and default profile; dies if something exists but differs.
configure() {
  local name=$1 cli=$2 br=$3 addr=$4 v k want
  shift 4
  local bad=() seed="" devs=""
  if v=$("$cli" storage show default 2>/dev/null); then
    v=$(sed -n 's/^driver: //p' <<<"$v")
    [ "$v" = dir ] || bad+=("storage pool default has driver $v, want dir")
  else
    seed+=$'storage_pools:\n- {name: default, driver: dir}\n'
  fi
  # ipv4.routing=false keeps the host from forwarding container traffic out.
  local netcfg=("ipv4.address=$addr" ipv4.nat=false ipv4.firewall=false ipv4.routing=false ipv6.address=none)
  if v=$("$cli" network show "$br" 2>/dev/null); then
    if grep -qx 'managed: true' <<<"$v" && grep -qx 'type: bridge' <<<"$v"; then
      for k in "${netcfg[@]}"; do
        want=${k#*=} k=${k%%=*}
        v=$("$cli" network get "$br" "$k")
        [ "$v" = "$want" ] || bad+=("network $br has $k='$v', want '$want'")
      done
    else
      bad+=("$br exists but is not a bridge managed by $name")
    fi
  else
    seed+="networks:"$'\n'"- name: $br"$'\n  type: bridge\n  config:\n'
    for k in "${netcfg[@]}"; do seed+="    ${k%%=*}: \"${k#*=}\""$'\n'; done
  fi
  # Default profile: root disk on pool default, eth0 on the bridge.
  local have; have=$("$cli" profile device list default)
  for dev in "root type=disk path=/ pool=default" "eth0 type=nic name=eth0 network=$br"; do
    set -- $dev
    local d=$1; shift
    if grep -qx "$d" <<<"$have"; then
      for k in "$@"; do
        v=$("$cli" profile device get default "$d" "${k%%=*}")
        [ "$v" = "${k#*=}" ] || bad+=("default profile device $d has ${k%%=*}='$v', want '${k#*=}'")
      done
    else
      devs+="    $d: {$(IFS=,; echo "${*//=/: }")}"$'\n' # {type: disk,path: /,...}
    fi
  done
  if [ ${#bad[@]} -gt 0 ]; then
    v=$(printf '%s; ' "${bad[@]}")
    die "$name is already configured differently, not touching it: ${v%; }"
  fi
  [ -z "$devs" ] || seed+=$'profiles:\n- name: default\n  devices:\n'"$devs"
  [ -n "$seed" ] || return 0
  case $name in
    lxd) v=$(lxd init --preseed <<<"$seed" 2>&1) ;;
    incus) v=$(incus admin init --preseed <<<"$seed" 2>&1) ;;
  esac || die "$name init --preseed failed: $v"
}

# cow_pool NAME CLI: a btrfs pool "cow" on a loop file of cow_size (sparse:
# it takes what its volumes hold), for the copy-on-write tests (templates and
# their clones). One of that name with another driver is refused, one with
# driver btrfs is left as it is.
cow_size=3GiB
cow_pool() {
  local name=$1 cli=$2 v
  if v=$("$cli" storage show cow 2>/dev/null); then
    v=$(sed -n 's/^driver: //p' <<<"$v")
    [ "$v" = btrfs ] || die "$name is already configured differently, not touching it: storage pool cow has driver $v, want btrfs"
    return 0
  fi
  v=$("$cli" storage create cow btrfs "size=$cow_size" 2>&1) || die "$name: creating the btrfs pool cow failed: $v"
}

# build_image OUT: writes a unified busybox image tarball to OUT.
build_image() {
  local t; t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  local r=$t/rootfs a
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,run,root,tmp,var/log,home/lxkit} "$t/templates"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(busybox --list-full); do [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"; done
  chmod 1777 "$r/tmp"; chmod 700 "$r/root"; chown 1000:1000 "$r/home/lxkit"
  printf 'root:x:0:0:root:/root:/bin/sh\nlxkit:x:1000:1000:lxkit:/home/lxkit:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\nlxkit:x:1000:\n' >"$r/etc/group"
  printf '/bin/sh\n' >"$r/etc/shells"
  : >"$r/etc/fstab"
  echo bb >"$r/etc/hostname"
  # busybox init: LXD/Incus stop with SIGPWR, which busybox init takes as halt
  # and runs the shutdown action. Its own kill-and-halt sleeps 2 s, so the
  # action ends everything itself, quickly. udhcpc respawns (1 s apart).
  cat >"$r/etc/inittab" <<'EOF'
::sysinit:/bin/mount -a
::sysinit:/sbin/ip link set lo up
::respawn:/bin/sh -c '/sbin/udhcpc -f -i eth0 -s /etc/udhcpc.script; sleep 1'
::shutdown:/etc/halt.sh
EOF
  cat >"$r/etc/halt.sh" <<'EOF'
#!/bin/sh
# TERM every process, give them up to 1 s to exit, unmount, halt now.
kill -TERM -1
for i in 1 2 3 4 5 6 7 8 9 10; do
  set -- /proc/[0-9]*; [ $# -le 2 ] && break; usleep 100000 # left: init, us
done
umount -a -r 2>/dev/null
halt -f
EOF
  cat >"$r/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: put the leased address (and default route) on the interface.
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip -4 addr show dev "$interface" | grep -q "inet $ip/$mask " ||
    { ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; }
  [ -z "$router" ] || ip route replace default via "${router%% *}" dev "$interface" ;;
esac
EOF
  chmod 755 "$r/etc/udhcpc.script" "$r/etc/halt.sh"
  echo '{{ container.name }}' >"$t/templates/hostname.tpl"
  printf '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n' >"$t/templates/hosts.tpl"
  cat >"$t/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: lxkit busybox test image
  os: busybox
  release: "$(busybox | sed -n '1s/^BusyBox v\([^ ]*\) .*/\1/p')"
templates:
  /etc/hostname: {when: [create, copy], template: hostname.tpl}
  /etc/hosts: {when: [create, copy], template: hosts.tpl}
EOF
  mkdir -p "$(dirname "$1")"
  tar -C "$t" --numeric-owner -cJf "$1.tmp" metadata.yaml rootfs templates
  mv "$1.tmp" "$1"
  rm -rf "$t"; trap - EXIT
}

bash "$here/daemon.sh" start lxd
bash "$here/daemon.sh" start incus
configure lxd lxc lxdbr0 10.77.0.1/24
configure incus incus incusbr0 10.78.0.1/24
cow_pool lxd lxc
cow_pool incus incus

[ -f "$image" ] || build_image "$image"
fp=$(sha256sum "$image" | cut -d' ' -f1) # a unified image's fingerprint
for cli in lxc incus; do
  if "$cli" query /1.0/images/aliases/testimage >/dev/null 2>&1; then continue; fi
  if "$cli" image info "$fp" >/dev/null 2>&1; then # imported, alias gone
    "$cli" image alias create testimage "$fp"
  else
    "$cli" image import "$image" --alias testimage >/dev/null
  fi
done

# The local Debian package source of the cloud-config tests.
bash "$here/debrepo.sh"

# Summary.
for d in "LXD lxc ${LXD_DIR:-/var/lib/lxd}" "Incus incus ${INCUS_DIR:-/var/lib/incus}"; do
  set -- $d
  printf 'lxkit hosts: %-5s %-6s %s testimage=%.12s\n' "$1" \
    "$("$2" version | sed -n 's/^Server version: //p')" "$3/unix.socket" \
    "$("$2" image info testimage | sed -n 's/^Fingerprint: //p')" >&2
done

# The fault tests' own daemons, apart from these two.
bash "$here/fault-hosts.sh" "$image"
