// Package lxccmd reaches an LXD or Incus host through its command, `lxc`
// or `incus`, run through any transport: this machine's, a container's
// (whose own LXD then serves), or a chain of them. Runner runs the
// command; Transport is a container transport over `lxc exec` and `lxc
// file`.
package lxccmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
)

// Runner reaches an LXD or Incus host by running its command.
type Runner struct {
	// Via runs the command: transport/local for this machine, a
	// container's transport for the daemon inside that container.
	Via transport.Transport
	// Command is "lxc" or "incus"; empty runs whichever the machine has
	// (lxc first), chosen by a shell there at each call: no extra round
	// trip to find out.
	Command string
	// Env is added to the command's environment (LXD_DIR, INCUS_DIR).
	Env map[string]string
	// Remote, when set, is the command's remote for the host ("name" is
	// passed as "name:").
	Remote string
	// Where names the host in messages, e.g. "lxc in outer".
	Where string
	// Project, when set, is passed to every command (--project) but
	// query, whose path names it (QueryTarget).
	Project string

	reached atomic.Bool // a command has succeeded: the daemon answered
	// captureDirs holds, by container, the folder its captured outputs
	// were last found in (see execRecorded).
	captureDirs sync.Map
}

// Target returns how the command names an instance: "remote:name".
func (h *Runner) Target(name string) string {
	if h.Remote == "" {
		return name
	}
	return h.Remote + ":" + name
}

// QueryTarget returns how `query` names an API path: with the project in
// the path, since query refuses --project.
func (h *Runner) QueryTarget(path string) string {
	return h.Target(hostapi.WithProject(path, h.Project))
}

// Addr names the host in messages.
func (h *Runner) Addr() string {
	if h.Where != "" {
		return h.Where
	}
	if h.Remote != "" {
		return h.name() + " remote " + h.Remote
	}
	return h.name()
}

// Run runs the command with args and returns its standard output; a
// failure is classified into errdefs classes (see Classify). The output is
// only captured, never streamed, which lets a container transport below
// use its most reliable path (the daemon records it).
func (h *Runner) Run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	return h.run(ctx, transport.Command{Args: h.argv(args...), Stdin: stdin, Capture: true}, args)
}

// RunTee is Run, with standard error also written to stderr as it comes:
// to follow what the command reports while it runs.
func (h *Runner) RunTee(ctx context.Context, stderr io.Writer, args ...string) ([]byte, error) {
	return h.run(ctx, transport.Command{Args: h.argv(args...), Stderr: stderr, Capture: true}, args)
}

func (h *Runner) run(ctx context.Context, cmd transport.Command, args []string) ([]byte, error) {
	res, err := h.Exec(ctx, cmd)
	if err != nil {
		return nil, h.unreachable(args, err)
	}
	if err := h.classify(res.ExitCode, res.Stderr); err != nil {
		return res.Stdout, h.missing(res.ExitCode, err)
	}
	return res.Stdout, nil
}

// Stream runs the command with args, writing its standard output to
// stdout as it comes, and waits for it to end: for commands that run
// until stopped, such as `lxc monitor`. When ctx ends the command is
// stopped (the transport signals it) and Stream returns ctx.Err() once it
// is gone. A failure is classified as Run's is, from the end of standard
// error, the only part of it kept.
func (h *Runner) Stream(ctx context.Context, stdout io.Writer, args ...string) error {
	stderr := &tailBuffer{max: transport.TailSize}
	res, err := h.Exec(ctx, transport.Command{Args: h.argv(args...), Stdout: stdout, Stderr: stderr})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return h.unreachable(args, err)
	}
	if err := h.classify(res.ExitCode, stderr.buf); err != nil {
		return h.missing(res.ExitCode, err)
	}
	return nil
}

// classify is Classify, remembering whether the daemon has answered: once
// it has, a refused connection means it went away under the caller.
func (h *Runner) classify(code int, stderr []byte) error {
	err := classify(code, stderr, h.reached.Load())
	if err == nil {
		h.reached.Store(true)
	}
	return err
}

// unreachable is the error of a command that could not be run at all. A
// missing container on the way to the host (Via's, on a nested path)
// makes the host unavailable: as "not found" it would pass for what the
// command asked about ("image alias testimage not found" when the
// container that runs the daemon is missing).
func (h *Runner) unreachable(args []string, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s %s: %v", h.name(), firstWord(args), err)
	}
	return fmt.Errorf("%s %s: %w", h.name(), firstWord(args), err)
}

// OnMember names the cluster member that instance name is on when err is
// the daemon's answer, in words that name none, that a member does not
// answer (hostapi.MemberDown): it asks the daemon where the instance is.
// Any other error, or a failure to ask, is returned as it was.
func (h *Runner) OnMember(ctx context.Context, name string, err error) error {
	if !hostapi.MemberDown.In(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	list, lerr := h.Run(ctx, nil, "query", h.QueryTarget("/1.0/instances?recursion=1"))
	if lerr != nil {
		return err
	}
	return hostapi.NameMember(err, name, list)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// Exec runs a command line through Via with the host's environment.
func (h *Runner) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if len(h.Env) > 0 {
		env := make(map[string]string, len(h.Env)+len(cmd.Env))
		for k, v := range h.Env {
			env[k] = v
		}
		for k, v := range cmd.Env {
			env[k] = v
		}
		cmd.Env = env
	}
	return h.Via.Exec(ctx, cmd)
}

// either runs lxc if the machine has it, else incus.
const either = `if command -v lxc >/dev/null 2>&1; then exec lxc "$@"; fi; exec incus "$@"`

func (h *Runner) argv(args ...string) []string {
	// query refuses --project; QueryTarget puts the project in its path.
	if h.Project != "" && firstWord(args) != "query" {
		args = append([]string{"--project", h.Project}, args...)
	}
	if h.Command == "" {
		return append([]string{"/bin/sh", "-c", either, "sh"}, args...)
	}
	return append([]string{h.Command}, args...)
}

// name is the command's name in messages.
func (h *Runner) name() string {
	if h.Command == "" {
		return "lxc (or incus)"
	}
	return h.Command
}

// missing turns "command not found" into a clear unavailability.
func (h *Runner) missing(code int, err error) error {
	if code == 127 {
		return fmt.Errorf("%s is not installed where it should run (%s): %w", h.name(), h.Addr(), err)
	}
	return err
}

func firstWord(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
