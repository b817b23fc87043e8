#!/usr/bin/env bash
# make cluster: two real 3-member clusters on this machine, one of LXD and
# one of Incus, each member a daemon of its own in its own network
# namespace (the way LXD's own test suite forms clusters). Idempotent:
# seconds when all is up already.
#
#   cluster.sh [up]   form the clusters (needs make hosts and make build)
#   cluster.sh down   stop the members and remove every trace of them
#   cluster.sh spare KIND | spare-down KIND
#                     a fresh daemon m4 of KIND in no cluster, for the
#                     tests of joining and removing members; and gone
#   cluster.sh kill KIND MEMBER | start KIND MEMBER
#                     SIGKILL of a member's daemon (its containers run
#                     on); and its daemon started again, as it was
#
# Network: the members sit on a host bridge (lxkitcl0, 10.99.0.1/24) with
# no uplink, no NAT and no forwarding; no namespace has a default route;
# the clusters' own container bridges (10.98.x.0/24) exist only inside
# the namespaces, and the host routes 10.98.0.0/16 nowhere. Nothing a
# member or its containers send can leave this machine.
#
# Afterwards the lxkit remotes lxd-cluster and incus-cluster, and the lxc
# and incus remotes of the same names, reach the clusters over HTTPS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
base=/var/lib/lxkit-cluster
bridge=lxkitcl0 subnet=10.99.0 inner=10.98.0.0/16
image=${LXKIT_CACHE:-/var/cache/lxkit}/testimage-busybox-v1.tar.xz
lxkit=$root/bin/lxkit
members="m1 m2 m3"
offline_threshold=60

# has GREP-ARGS...: stdin has a matching line. It reads all of stdin:
# under pipefail, `cmd | grep -q` fails when grep leaves at the first
# match and cmd, still writing, dies of SIGPIPE (ip writes its output in
# several writes: 281 of 2,000 `ip addr show | grep -q` missed an address
# that was there, and the add that followed failed, ci60).
has() { [ "$(grep -c "$@")" -gt 0 ]; }
die() { echo "lxkit cluster: $*" >&2; exit 1; }
say() { echo "lxkit cluster: $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make cluster"

# kind_vars KIND: the client, its state variable, and the addresses.
kind_vars() {
  case $1 in
    lxd) cli=lxc var=LXD_DIR octet=2 ;;
    incus) cli=incus var=INCUS_DIR octet=1 ;;
  esac
}
ns_of() { echo "lxkit-$1-$2"; }               # KIND MEMBER
dir_of() { echo "$base/$1-$2"; }              # KIND MEMBER
addr_of() { echo "$subnet.${octet}${2#m}"; }  # KIND MEMBER (after kind_vars)
mac_of() { local IFS=.; printf '02:00:%02x:%02x:%02x:%02x' $1; }  # ADDRESS: one MAC for it, always
on() { local d; d=$(dir_of "$1" "$2"); shift 2; env "$var=$d" "$@"; } # KIND MEMBER CMD...

network_up() {
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
  fi
  ip addr show dev "$bridge" | has "inet $subnet.1/24" || ip addr add "$subnet.1/24" dev "$bridge"
  ip link set "$bridge" up
  # The container bridges inside the namespaces: nowhere from the host.
  ip route show type unreachable | has "^unreachable $inner" || ip route add unreachable "$inner"
  # Belt and braces: nothing is routed into or out of the bridge (frames
  # between its ports, which br_netfilter shows to FORWARD with the bridge
  # on both sides, pass).
  for rule in "-i $bridge ! -o $bridge" "-o $bridge ! -i $bridge"; do
    iptables -C FORWARD $rule -j DROP 2>/dev/null || iptables -I FORWARD $rule -j DROP
  done
}

# member_net KIND MEMBER: the namespace, its veth on the bridge, its address.
member_net() {
  local ns veth a
  ns=$(ns_of "$1" "$2") veth=cl-$1-$2 a=$(addr_of "$1" "$2")
  ip netns list | has -w "^$ns" || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    # A fixed MAC for each address: a member made again (the spare, in
    # each test that uses it) must not get a new one, or the host's
    # neighbour entry, still REACHABLE for up to 45 s, sends its packets
    # to the old one and connections time out (seen: 20 s curl timeouts).
    ip link add "$veth" type veth peer name cl0 address "$(mac_of "$a")" netns "$ns"
    # and an entry left from before fixed MACs (or by anyone) goes.
    ip neigh del "$a" dev "$bridge" >/dev/null 2>&1 || true
  fi
  ip link set "$veth" master "$bridge" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr show dev cl0 | has "inet $a/24" || ip -n "$ns" addr add "$a/24" dev cl0
  ip -n "$ns" link set cl0 up
  [ -z "$(ip -n "$ns" route show default)" ] || die "namespace $ns has a default route: refusing to start a member there"
}

# The host's cgroup mounts, replayed inside a namespace: ip netns exec
# mounts a fresh /sys, which hides them, and the daemons need them.
cgroup_mounts() {
  local src mp type opts rest
  while read -r src mp type opts rest; do
    case $mp in /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
    printf 'mkdir -p %q && mount -t %q -o %q %q %q; ' "$mp" "$type" "$opts" "$src" "$mp"
  done </proc/self/mounts
}

# member_up KIND MEMBER: the member's daemon, started unless it answers.
member_up() {
  local ns d
  ns=$(ns_of "$1" "$2") d=$(dir_of "$1" "$2")
  if on "$1" "$2" timeout 10 "$cli" query /1.0 >/dev/null 2>&1; then return 0; fi
  mkdir -p "$d"
  ip netns exec "$ns" bash -c "$(cgroup_mounts) exec bash $(printf %q "$here/daemon.sh") start $1 $(printf %q "$d")" ||
    die "$1 $2 did not start: see $d/daemon.log"
}

init_preseed() { # KIND MEMBER (preseed on stdin)
  case $1 in
    lxd) on "$1" "$2" lxd init --preseed ;;
    incus) on "$1" "$2" incus admin init --preseed ;;
  esac
}

clustered() { on "$1" "$2" "$cli" query /1.0/cluster 2>/dev/null | has '"enabled": *true'; }

bootstrap() { # KIND
  clustered "$1" m1 && return 0
  local a; a=$(addr_of "$1" m1)
  init_preseed "$1" m1 >/dev/null <<EOF || die "$1 m1: bootstrap failed"
config:
  core.https_address: $a:8443
storage_pools:
- name: default
  driver: dir
networks:
- name: clbr0
  type: bridge
  config:
    ipv4.address: 10.98.${octet}1.1/24
    ipv4.nat: "false"
    ipv4.firewall: "false"
    ipv4.routing: "false"
    ipv6.address: none
profiles:
- name: default
  devices:
    root: {type: disk, path: /, pool: default}
    eth0: {type: nic, name: eth0, network: clbr0}
cluster:
  server_name: m1
  enabled: true
EOF
}

join() { # KIND MEMBER
  clustered "$1" "$2" && return 0
  # A token left from an earlier attempt that did not join is revoked.
  on "$1" m1 "$cli" cluster revoke-token "$2" >/dev/null 2>&1 || true
  local token
  token=$(on "$1" m1 "$cli" cluster add "$2" 2>/dev/null | tail -n 1) || die "$1: no join token for $2"
  init_preseed "$1" "$2" >/dev/null <<EOF || die "$1 $2: join failed"
cluster:
  enabled: true
  server_name: $2
  server_address: $(addr_of "$1" "$2"):8443
  cluster_address: $(addr_of "$1" m1):8443
  cluster_token: $token
  member_config: []
EOF
}

# trust KIND: the lxkit remote and the lxc/incus remote KIND-cluster.
trust() {
  local name=$1-cluster token out
  if ! "$lxkit" --host "$name" cluster list >/dev/null 2>&1; then
    "$lxkit" remote remove "$name" >/dev/null 2>&1 || true
    token=$("$lxkit" --host "unix://$(dir_of "$1" m1)/unix.socket" trust token "lxkit-$name")
    out=$("$lxkit" remote add "$name" --token "$token" 2>&1) || die "lxkit remote add $name failed: $out"
  fi
  if ! timeout 20 "$cli" cluster list "$name:" >/dev/null 2>&1; then
    "$cli" remote remove "$name" >/dev/null 2>&1 || true
    case $1 in # LXD 5.0 takes the client's name as a flag, Incus 6.0 as an argument
      lxd) token=$(on "$1" m1 lxc config trust add --name "lxc-$name" 2>/dev/null | tail -n 1) ;;
      incus) token=$(on "$1" m1 incus config trust add "incus-$name" 2>/dev/null | tail -n 1) ;;
    esac
    out=$("$cli" remote add "$name" "$token" --accept-certificate 2>&1) || die "$cli remote add $name failed: $out"
  fi
}

# memory: the RSS of every LXD and Incus process on this machine (the two
# host daemons, the fault daemons, the members and their helpers), in MiB.
memory() {
  ps -eo rss=,comm= | awk '$2 ~ /^(lxd|incusd|dnsmasq|lxcfs)$/ || $2 ~ /^\[lxc monitor\]/ {s += $1} END {printf "%d", s / 1024}'
}

up() {
  [ -x "$lxkit" ] || die "no $lxkit: run make build first"
  [ -f "$image" ] || die "no test image $image: run make hosts first"
  network_up
  local k m
  for k in incus lxd; do
    kind_vars "$k"
    for m in $members; do member_net "$k" "$m"; done
    # Side by side: a member of a formed cluster whose daemon starts again
    # waits for the others before it is ready (its database needs them).
    local pids=()
    for m in $members; do
      member_up "$k" "$m" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || die "$k: a member did not start"; done
    bootstrap "$k"
    for m in $members; do [ "$m" = m1 ] || join "$k" "$m"; done
    # A run that was interrupted (killed, or its machine restarted) while
    # a test had the spare m4 in the cluster left it there, with its
    # token; the next run's join tests then met "The cluster already has
    # a member with name: m4" (CI after ci69). The clusters start from
    # their three members, always.
    spare_down "$k"
    # A member counts as offline when its last heartbeat is older than
    # cluster.offline_threshold (20 s by default). Under make test's load
    # on a 2-core machine the leader's heartbeat round, which sets every
    # member's heartbeat when it ends, took 26-29 s when a member left in
    # the middle of it (Incus 6.0.4: "Cluster heartbeat took too long
    # duration=28.3s interval=10s"); the other members then counted as
    # offline for a moment, and a move to m3 was refused "Target cluster
    # member is offline" (ci61). 60 s is longer than any round seen.
    [ "$(on "$k" m1 "$cli" config get cluster.offline_threshold)" = "$offline_threshold" ] ||
      on "$k" m1 "$cli" config set cluster.offline_threshold "$offline_threshold"
    on "$k" m1 "$cli" query /1.0/images/aliases/testimage >/dev/null 2>&1 ||
      on "$k" m1 "$cli" image import "$image" --alias testimage >/dev/null
    trust "$k"
    # Members whose daemons started again are online once they have
    # heartbeated: wait for all of them (some 10 s after a restart).
    local online=0
    for _ in $(seq 120); do
      online=$(on "$k" m1 "$cli" cluster list -f csv 2>/dev/null | grep -c ',ONLINE,' || true)
      [ "$online" -ge 3 ] && break
      sleep 0.5
    done
    [ "$online" -ge 3 ] || die "$k: only $online of 3 members online after 60 s: see $(dir_of "$k" m1)/daemon.log"
    say "$(printf '%-5s %s members online at https://%s:8443 (remote %s-cluster)' "$k" "$online" "$(addr_of "$k" m1)" "$k")"
  done
  say "memory of all LXD and Incus processes on this machine: $(memory) MiB"
}

# member_down KIND MEMBER: the member's daemon, helpers and containers
# ended, its namespace and state removed.
member_down() {
  local ns d pids
  ns=$(ns_of "$1" "$2") d=$(dir_of "$1" "$2")
  if [ -S "$d/unix.socket" ]; then
    case $1 in
      lxd) on "$1" "$2" timeout 60 lxd shutdown >/dev/null 2>&1 || true ;;
      incus) on "$1" "$2" timeout 60 incus admin shutdown >/dev/null 2>&1 || true ;;
    esac
  fi
  if ip netns list | has -w "^$ns"; then
    pids=$(ip netns pids "$ns")
    if [ -n "$pids" ]; then
      kill -KILL $pids 2>/dev/null || true
      for _ in $(seq 50); do [ -z "$(ip netns pids "$ns")" ] && break; sleep 0.1; done
    fi
    ip netns delete "$ns"
  fi
  ip link delete "cl-$1-$2" >/dev/null 2>&1 || true
  rm -rf "$d"
}

# spare KIND: a fresh daemon m4, in no cluster, listening on its address
# (for the tests of joining and removing a member). What an earlier test
# left of m4 (one that panicked, or a run that was killed) goes first.
spare() {
  spare_down "$1"
  network_up
  member_net "$1" m4
  member_up "$1" m4
  local a; a=$(addr_of "$1" m4):8443
  [ "$(on "$1" m4 "$cli" config get core.https_address)" = "$a" ] || on "$1" m4 "$cli" config set core.https_address "$a"
}

# spare_down KIND: m4 out of the cluster (if it joined) and gone.
spare_down() {
  if on "$1" m1 "$cli" cluster list -f csv 2>/dev/null | has '^m4,'; then
    on "$1" m1 "$cli" cluster remove m4 --force --yes >/dev/null 2>&1 || true
  fi
  on "$1" m1 "$cli" cluster revoke-token m4 >/dev/null 2>&1 || true
  member_down "$1" m4
}

# kill_member KIND MEMBER: the member's daemon killed, and gone.
kill_member() {
  local pid
  pid=$(on "$1" "$2" timeout 10 "$cli" query /1.0 2>/dev/null | sed -n 's/.*"server_pid": *\([0-9][0-9]*\).*/\1/p')
  [ -n "$pid" ] || die "$1 $2: no daemon answers"
  kill -KILL "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  die "$1 $2: daemon $pid still there 5 s after SIGKILL"
}

down() {
  local k m
  for k in incus lxd; do
    kind_vars "$k"
    for m in m4 m3 m2 m1; do member_down "$k" "$m"; done
    "$cli" remote remove "$k-cluster" >/dev/null 2>&1 || true
    [ ! -x "$lxkit" ] || "$lxkit" remote remove "$k-cluster" >/dev/null 2>&1 || true
  done
  rm -rf "$base"
  ip link delete "$bridge" >/dev/null 2>&1 || true
  ip route del unreachable "$inner" >/dev/null 2>&1 || true
  for rule in "-i $bridge ! -o $bridge" "-o $bridge ! -i $bridge"; do iptables -D FORWARD $rule -j DROP 2>/dev/null || true; done
  say "down"
}

case ${1:-up} in
  up) up ;;
  down) down ;;
  spare | spare-down)
    case ${2:-} in lxd | incus) kind_vars "$2" ;; *) die "usage: cluster.sh $1 lxd|incus" ;; esac
    if [ "$1" = spare ]; then spare "$2"; else spare_down "$2"; fi ;;
  kill | start)
    case ${2:-} in lxd | incus) kind_vars "$2" ;; *) die "usage: cluster.sh $1 lxd|incus MEMBER" ;; esac
    [ -d "$(dir_of "$2" "${3:-}")" ] && [ -n "${3:-}" ] || die "usage: cluster.sh $1 $2 MEMBER (no member ${3:-})"
    if [ "$1" = kill ]; then kill_member "$2" "$3"; else member_up "$2" "$3"; fi ;;
  *) die "usage: cluster.sh [up|down|spare KIND|spare-down KIND|kill KIND MEMBER|start KIND MEMBER]" ;;
esac
