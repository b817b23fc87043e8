// Package reliability holds the tests that put lxkit under load: many
// lxkit processes at once against the real daemons, each one what a user
// or a CI job would run. (The daemon faults are in package faults.)
package reliability

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lxkit/lxkit/internal/cmd"
)

// TestMain makes the test binary double as the lxkit command: run with
// LXKIT_RUN_AS_CMD=1, it is lxkit.
func TestMain(m *testing.M) {
	if os.Getenv("LXKIT_RUN_AS_CMD") == "1" {
		os.Exit(cmd.Main())
	}
	os.Exit(m.Run())
}

// result is what one lxkit process did.
type result struct {
	code           int
	stdout, stderr []byte
	took           time.Duration
	err            error // it could not run, or outlived its deadline
}

// lxkit runs the lxkit command with args, in a config directory of the
// test's own, and gives up on it after limit (a process that hangs is a
// failure, never a wait).
func lxkit(ctx context.Context, conf string, limit time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := exec.CommandContext(ctx, os.Args[0], args...)
	c.Env = append(os.Environ(), "LXKIT_RUN_AS_CMD=1", "LXKIT_CONF="+conf, "LXD_CONF="+conf+"/lxc", "INCUS_CONF="+conf+"/incus")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	r := result{stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code, r.err = -1, err
		if ctx.Err() != nil {
			r.err = ctx.Err()
		}
	}
	return r
}
