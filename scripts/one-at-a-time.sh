# Sourced by make test and make bench (after cd to the checkout): runs the
# sourcing script again holding a lock, so that one run at a time uses
# this machine's daemons. Runs share the daemons and the clusters' spare
# member m4, and two at once fail each other's tests (a second run's
# TestJoinAndRemove met the first run's m4). A second run waits.
#
# flock -o: the lock's descriptor is closed for the script itself, so
# nothing it starts (a daemon outliving the run) holds the lock after it.
lock=/run/lock/lxkit-daemons.lock
if [ "${LXKIT_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  export LXKIT_LOCK=$lock
  rc=0
  flock -n -o -E 75 "$lock" bash "$0" "$@" || rc=$?
  if [ "$rc" != 75 ]; then exit "$rc"; fi
  echo "waiting for another make test or make bench on this machine to end" >&2
  exec flock -o "$lock" bash "$0" "$@"
fi
