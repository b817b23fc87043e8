#!/usr/bin/env bash
# Starts an LXD or Incus daemon unless it answers already, and waits until
# it is ready: through systemd where it runs, else by hand, detached. The
# test hosts (make hosts) and the fault tests, which kill a daemon and
# start it again, start daemons this one way.
#
#   daemon.sh start lxd|incus [DIR]
#   daemon.sh pids lxd|incus [DIR]   (the pids of that daemon, if it runs)
#
# DIR is the daemon's state directory (LXD_DIR, INCUS_DIR): the system's
# by default; another one runs a separate daemon of its own, always by
# hand, logging to DIR/daemon.log.
set -euo pipefail

die() { echo "lxkit hosts: $*" >&2; exit 1; }
case "${1:-}" in start | pids) ;; *) false ;; esac && [ $# -ge 2 ] ||
  die "usage: daemon.sh start|pids lxd|incus [DIR]"
verb=$1 name=$2 dir=${3:-}
case $name in
  lxd) cli=lxc envvar=LXD_DIR log=/var/log/lxd/lxd.log comm=lxd
       run=(lxd --group root) waitready=(lxd waitready) ;;
  incus) cli=incus envvar=INCUS_DIR log=/var/log/incus/incus.log comm=incusd
       run=(/usr/libexec/incus/incusd --group incus-admin) waitready=(/usr/libexec/incus/incusd waitready)
       getent group incus-admin >/dev/null || groupadd --system incus-admin ;;
  *) die "unknown daemon $name" ;;
esac
if [ -n "$dir" ]; then
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  export "$envvar=$dir"
  log=$dir/daemon.log
fi
# A daemon runs in /, not in the directory of whoever started it: its
# rsync (the dir pool's snapshots and copies) fails with "getcwd(): No
# such file or directory" once that directory is removed, as a test
# clone is.
cd /

# pids of the daemons named $name (not their helpers, nor the other
# kind: the system's LXD has no INCUS_DIR either) whose state directory is
# this one: $envvar in their environment, or none for the system's daemon.
daemons_here() {
  local p cmd env
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = "$comm" ] || continue
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    case $cmd in *"$comm --group "*) ;; *) continue ;; esac
    env=$(tr '\0' '\n' <"$p/environ" 2>/dev/null | sed -n "s/^$envvar=//p")
    [ "$env" = "$dir" ] && echo "${p#/proc/}"
  done
  return 0 # not the last test's status: set -e and pipefail would stop the script
}
if [ "$verb" = pids ]; then daemons_here; exit 0; fi
# A daemon left stopped (SIGSTOP, as testkit/faults does; a run cut off
# there never sends SIGCONT) answers nothing: resume it rather than start
# a second one on the same state.
for p in $(daemons_here); do
  if [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ]; then
    echo "lxkit hosts: $name (pid $p) was stopped (SIGSTOP): resuming it" >&2
    kill -CONT "$p"
  fi
done

# A daemon running in a removed directory is restarted (SIGTERM leaves its
# containers running).
running=$(timeout 10 "$cli" query /1.0 2>/dev/null | sed -n 's/.*"server_pid": *\([0-9][0-9]*\).*/\1/p' || true)
if [ -n "$running" ] && [[ "$(readlink "/proc/$running/cwd" 2>/dev/null)" == *" (deleted)" ]]; then
  echo "lxkit hosts: $name (pid $running) runs in a removed directory, where its rsync fails: restarting it" >&2
  kill -TERM "$running" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$running" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$running" 2>/dev/null || true
fi

pid=""
if ! timeout 10 "$cli" query /1.0 >/dev/null 2>&1; then
  # One that runs but does not answer (starting, or shutting down after
  # SIGTERM) is waited for, up to 60 s, and never doubled.
  end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ] && [ -n "$(daemons_here)" ]; do
    "${waitready[@]}" --timeout 1 >/dev/null 2>&1 && exit 0
    sleep 0.5
  done
  alive=$(daemons_here | tr '\n' ' ')
  [ -z "$alive" ] || die "$name ${dir:-/var/lib/$name} runs (pid ${alive% }) but has not answered for 60 s; stop it or wait for it"
  if [ -z "$dir" ] && [ -d /run/systemd/system ]; then
    systemctl start "$name" || die "'systemctl start $name' failed: see 'journalctl -u $name'"
  else # No systemd (containers, CI), or a daemon of our own: by hand.
    mkdir -p "$(dirname "$log")"
    # Keep it off the network: its own fetches (instance types from
    # images.linuxcontainers.org, at start and daily) go to a closed
    # loopback port. Loopback and private addresses are not proxied.
    env https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
      no_proxy=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16 PATH=/usr/libexec/incus:$PATH \
      setsid "${run[@]}" --logfile "$log" </dev/null >/dev/null 2>&1 &
    pid=$!
  fi
fi
# Wait up to 60 s, giving up early if the daemon we started has died.
for _ in $(seq 60); do
  "${waitready[@]}" --timeout 1 >/dev/null 2>&1 && exit 0
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
done
echo "lxkit hosts: $name did not start; last lines of $log:" >&2
tail -n 5 "$log" 2>/dev/null | sed 's/^/    /' >&2
exit 1
