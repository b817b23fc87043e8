// Package marker finds a command's processes again by a variable in their
// environment, to signal a command whose own channel to it is gone or was
// never there (recorded-output exec, a `lxc exec` that was killed).
package marker

import (
	"crypto/rand"
	"encoding/hex"
)

// Var names the environment variable that carries a command's marker.
const Var = "LXKIT_EXEC_ID"

// New returns a fresh marker value.
func New() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// script sends $2 to every process whose environment holds Var=$1. The
// processes are stopped (SIGSTOP) before any is signalled and continued
// after, so that none reacts to another's end: a shell whose child dies
// first would otherwise run its next command, and after a SIGKILL exit 0.
// They are found with one grep over every environment where grep reads
// NUL-separated input (-z), else by a loop (busybox). A process may fork
// between the search and the signal: its child carries the marker but
// was not found. After a KILL, whose processes are gone, the search is
// made again until it finds none (five rounds at most): stop 26's CI saw
// a shell, slowed by load, fork as it was killed, and its child live on.
// It prints the processes it signalled.
const script = `v="` + Var + `=$1"
marked() {
  if grep -qz x /dev/null 2>/dev/null || [ $? -eq 1 ]; then
    grep -lsxzF -e "$v" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/||; s|/environ$||'
  else
    for d in /proc/[0-9]*; do
      if tr '\0' '\n' 2>/dev/null <"$d/environ" | grep -qxF -e "$v"; then echo "${d#/proc/}"; fi
    done
  fi
}
all=
for round in 1 2 3 4 5; do
  pids=$(marked)
  [ -n "$pids" ] || break
  kill -STOP $pids 2>/dev/null
  kill -"$2" $pids 2>/dev/null
  kill -CONT $pids 2>/dev/null
  all="$all $pids"
  [ "$2" = KILL ] || break
done
echo $all
exit 0`

// SignalArgv returns the command that sends sig ("TERM", "KILL") to the
// processes marked with m.
func SignalArgv(m, sig string) []string {
	return []string{"/bin/sh", "-c", script, "sh", m, sig}
}
