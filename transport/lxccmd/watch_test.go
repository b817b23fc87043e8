package lxccmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/transport"
)

// ready plays the start of an `lxc exec` run by the transport: it
// passes the command's marker on, writes the ready line on both streams
// and reads the line that lets the command go on (see readyGate).
func ready(cmd transport.Command, marks chan<- string) error {
	args := cmd.Args[1:]
	for i, a := range args[:len(args)-1] {
		if mark, ok := strings.CutPrefix(args[i+1], marker.Var+"="); a == "--env" && ok {
			marks <- mark
			io.WriteString(cmd.Stdout, "lxkit-ready-"+mark+"\n")
			io.WriteString(cmd.Stderr, "lxkit-ready-"+mark+"\n")
		}
	}
	_, err := bufio.NewReader(cmd.Stdin).ReadString('\n')
	return err
}

// missedEnd is a machine whose `lxc exec` prints its output, exits 3 and
// then waits for ever, as lxc does when it misses the end of its
// operation (hostapi.OperationEndLost); `lxc query` shows that operation
// ended.
type missedEnd struct{ marker chan string }

func (m *missedEnd) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	args := cmd.Args[1:]
	switch args[0] {
	case "exec":
		if err := ready(cmd, m.marker); err != nil {
			return nil, err
		}
		io.WriteString(cmd.Stdout, "hi\n")
		<-ctx.Done() // the end it missed
		return &transport.Result{Args: cmd.Args, ExitCode: -1}, ctx.Err()
	case "query":
		mark := <-m.marker
		m.marker <- mark
		op := api.Operation{ID: "0b7e4bd0-9b8f-4a39-9f4e-1d2c3b4a5f60", Class: "websocket", Description: "Executing command",
			Status: "Success", StatusCode: api.OperationSuccess,
			Metadata: map[string]any{"environment": map[string]any{marker.Var: mark}, "return": 3}}
		var out any = op
		if strings.Contains(args[len(args)-1], "?recursion=1") {
			out = map[string][]api.Operation{"success": {op}}
		}
		b, _ := json.Marshal(out)
		return &transport.Result{Args: cmd.Args, Stdout: b}, nil
	}
	return nil, errors.New("unexpected command " + strings.Join(args, " "))
}

func (m *missedEnd) ReadFile(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("unused")
}

func (m *missedEnd) WriteFile(context.Context, string, io.Reader, transport.FileOptions) error {
	return errors.New("unused")
}

// TestExecWhoseEndIsMissed: lxc exec waits on after its command ended;
// the transport sees the operation's end, stops lxc and returns the
// output and the exit code.
func TestExecWhoseEndIsMissed(t *testing.T) {
	defer func(a, g time.Duration) { watchAfter, endGrace = a, g }(watchAfter, endGrace)
	watchAfter, endGrace = 100*time.Millisecond, 200*time.Millisecond
	h := &Runner{Via: &missedEnd{marker: make(chan string, 1)}, Command: "lxc"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	start := time.Now()
	res, err := h.Container("c1").Exec(ctx, transport.Command{Args: []string{"echo", "hi"}, Stdout: &out})
	if err != nil || res.ExitCode != 3 || out.String() != "hi\n" {
		t.Fatalf("exec: %+v, %q, %v; want exit code 3 and hi", res, out.String(), err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("exec took %s", took)
	}
}

// slowStart is a machine whose `lxc exec` takes a while to end by
// itself, and whose daemon lists the exec's operation as "Pending" at
// first, as a daemon under load does before it has sent the response
// that starts it; the operation's wait answers once the command ended.
type slowStart struct {
	marker chan string
	ended  chan struct{}
}

func (m *slowStart) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	args := cmd.Args[1:]
	switch args[0] {
	case "exec":
		if err := ready(cmd, m.marker); err != nil {
			return nil, err
		}
		select {
		case <-time.After(time.Second): // five times endGrace
		case <-ctx.Done():
			return &transport.Result{Args: cmd.Args, ExitCode: -1}, ctx.Err()
		}
		io.WriteString(cmd.Stdout, "hi\n")
		close(m.ended)
		return &transport.Result{Args: cmd.Args, ExitCode: 0}, nil
	case "query":
		mark := <-m.marker
		m.marker <- mark
		op := api.Operation{ID: "5d0c7f39-2a61-4b8e-8a3f-6c1e2d9b0a47", Class: "websocket", Description: "Executing command",
			Status: "Pending", StatusCode: api.OperationPending,
			Metadata: map[string]any{"environment": map[string]any{marker.Var: mark}}}
		var out any = map[string][]api.Operation{"pending": {op}}
		if !strings.Contains(args[len(args)-1], "?recursion=1") {
			select {
			case <-m.ended:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			op.Status, op.StatusCode, op.Metadata["return"] = "Success", api.OperationSuccess, 0
			out = op
		}
		b, _ := json.Marshal(out)
		return &transport.Result{Args: cmd.Args, Stdout: b}, nil
	}
	return nil, errors.New("unexpected command " + strings.Join(args, " "))
}

func (m *slowStart) ReadFile(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("unused")
}

func (m *slowStart) WriteFile(context.Context, string, io.Reader, transport.FileOptions) error {
	return errors.New("unused")
}

// TestExecFoundPending: an exec whose operation is found "Pending" has
// not ended; the transport waits for it and lets lxc end by itself
// (ci76 stopped such an lxc exec and reported no exit code).
func TestExecFoundPending(t *testing.T) {
	defer func(a, g time.Duration) { watchAfter, endGrace = a, g }(watchAfter, endGrace)
	watchAfter, endGrace = 100*time.Millisecond, 200*time.Millisecond
	h := &Runner{Via: &slowStart{marker: make(chan string, 1), ended: make(chan struct{})}, Command: "lxc"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	res, err := h.Container("c1").Exec(ctx, transport.Command{Args: []string{"echo", "hi"}, Stdout: &out})
	if err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
		t.Fatalf("exec: %+v, %q, %v; want exit code 0 and hi", res, out.String(), err)
	}
}

// lxcSays is a machine whose `lxc exec` prints stderr and exits 1, after
// the command's markers when began (the command's own words), before
// any otherwise (lxc's own).
type lxcSays struct {
	stderr string
	began  bool
}

func (m *lxcSays) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if m.began {
		if err := ready(cmd, make(chan string, 1)); err != nil {
			return nil, err
		}
	}
	io.WriteString(cmd.Stderr, m.stderr)
	return &transport.Result{Args: cmd.Args, ExitCode: 1, Tail: []byte(m.stderr)}, nil
}

func (m *lxcSays) ReadFile(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("unused")
}

func (m *lxcSays) WriteFile(context.Context, string, io.Reader, transport.FileOptions) error {
	return errors.New("unused")
}

// TestExecOfMissingInstance: lxc's own "not found" is lxkit's error
// alone (not lxc's line as well); a command that prints the same words
// and exits 1 is a command that exited 1.
func TestExecOfMissingInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs strings.Builder
	h := &Runner{Via: &lxcSays{stderr: "Error: Instance not found\n"}, Command: "lxc"}
	_, err := h.Container("c1").Exec(ctx, transport.Command{Args: []string{"true"}, Stderr: &errs})
	if !errors.Is(err, errdefs.ErrNotFound) || errs.Len() != 0 {
		t.Errorf("missing instance: %v, stderr %q; want ErrNotFound and no lxc line", err, errs.String())
	}
	errs.Reset()
	h = &Runner{Via: &lxcSays{stderr: "Error: Instance not found\n", began: true}, Command: "lxc"}
	res, err := h.Container("c1").Exec(ctx, transport.Command{Args: []string{"sh"}, Stderr: &errs})
	if err != nil || res.ExitCode != 1 || errs.String() != "Error: Instance not found\n" {
		t.Errorf("the command's own words: %+v, %v, stderr %q; want exit code 1 and its line", res, err, errs.String())
	}
	errs.Reset()
	h = &Runner{Via: &lxcSays{stderr: "Error: something lxkit does not know\n"}, Command: "lxc"}
	res, err = h.Container("c1").Exec(ctx, transport.Command{Args: []string{"true"}, Stderr: &errs})
	if err != nil || res.ExitCode != 1 || errs.String() != "Error: something lxkit does not know\n" {
		t.Errorf("an lxc error lxkit does not classify: %+v, %v, stderr %q; want it shown", res, err, errs.String())
	}
}
