// Package procid names a running process so that another process can
// later tell whether it still runs: its machine's boot, its PID and its
// start time (a PID alone is reused). It reads Linux's /proc.
package procid

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Self returns the ID of this process, or "" where /proc does not say.
func Self() string {
	boot, err := bootID()
	if err != nil {
		return ""
	}
	start, err := startTime(os.Getpid())
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s/%d/%d", boot, os.Getpid(), start)
}

// Gone reports whether the process id names has ended. It is false when
// that cannot be told: id is another machine's (or an earlier boot's), or
// not an ID at all.
func Gone(id string) bool {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return false
	}
	boot, err := bootID()
	if err != nil || parts[0] != boot {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := startTime(pid)
	return err != nil || strconv.FormatUint(start, 10) != parts[2]
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
}

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
