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

// script signals every process whose environment holds the marker.
const script = `for d in /proc/[0-9]*; do
  if tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "` + Var + `=$1"; then kill -"$2" "${d#/proc/}" 2>/dev/null; fi
done; true`

// SignalArgv returns the command that sends sig ("TERM", "KILL") to the
// processes marked with m.
func SignalArgv(m, sig string) []string {
	return []string{"/bin/sh", "-c", script, "sh", m, sig}
}
