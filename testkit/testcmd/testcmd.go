// Package testcmd runs the lxkit command as a separate process in tests,
// as users and CI jobs run it: the test binary doubles as lxkit (see
// Main), so no build is needed.
package testcmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command"
)

const asCommand = "LXKIT_TESTCMD_RUN_AS_LXKIT"

// Main is a TestMain for packages that run lxkit: the test binary started
// by Run is lxkit.
func Main(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Exit(command.Main())
	}
	os.Exit(m.Run())
}

// Result is what one lxkit process did.
type Result struct {
	Code           int // exit status; -1 when it did not end by itself
	Stdout, Stderr []byte
	Took           time.Duration
	Err            error // it could not run, or outlived its limit
}

// Options say how to run lxkit.
type Options struct {
	// Conf is the config directory (LXKIT_CONF, with LXD_CONF and
	// INCUS_CONF below it), so that no test sees the user's own.
	Conf string
	// Limit ends (kills) a process that runs longer: a hang is a failure,
	// never a wait. Zero means a minute.
	Limit time.Duration
	// Stdout, if set, also receives the output as it comes.
	Stdout io.Writer
	// Started, if set, receives the process once it has started.
	Started func(*os.Process)
}

// Run runs lxkit with args.
func Run(ctx context.Context, opts Options, args ...string) Result {
	limit := opts.Limit
	if limit == 0 {
		limit = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := exec.CommandContext(ctx, os.Args[0], args...)
	c.Env = append(os.Environ(), asCommand+"=1")
	if opts.Conf != "" {
		c.Env = append(c.Env, "LXKIT_CONF="+opts.Conf, "LXD_CONF="+opts.Conf+"/lxc", "INCUS_CONF="+opts.Conf+"/incus")
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if opts.Stdout != nil {
		c.Stdout = io.MultiWriter(&out, opts.Stdout)
	}
	start := time.Now()
	err := c.Start()
	if err == nil {
		if opts.Started != nil {
			opts.Started(c.Process)
		}
		err = c.Wait()
	}
	r := Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code, r.Err = -1, ctx.Err()
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		r.Code, r.Err = -1, err
	}
	return r
}
