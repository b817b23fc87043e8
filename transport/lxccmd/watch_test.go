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
	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/transport"
)

// missedEnd is a machine whose `lxc exec` prints its output, exits 3 and
// then waits for ever, as lxc does when it misses the end of its
// operation (hostapi.OperationEndLost); `lxc query` shows that operation
// ended.
type missedEnd struct{ marker chan string }

func (m *missedEnd) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	args := cmd.Args[1:]
	switch args[0] {
	case "exec":
		for i, a := range args[:len(args)-1] {
			if a == "--env" && strings.HasPrefix(args[i+1], marker.Var+"=") {
				m.marker <- strings.TrimPrefix(args[i+1], marker.Var+"=")
				ready := "lxkit-ready-" + strings.TrimPrefix(args[i+1], marker.Var+"=")
				io.WriteString(cmd.Stdout, ready+"\n")
				io.WriteString(cmd.Stderr, ready+"\n")
			}
		}
		if _, err := bufio.NewReader(cmd.Stdin).ReadString('\n'); err != nil {
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
