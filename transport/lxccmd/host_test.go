package lxccmd

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
)

// goneContainer is the transport of a container that is not there.
type goneContainer struct{ transport.Transport }

func (goneContainer) Exec(context.Context, transport.Command) (*transport.Result, error) {
	return nil, hostapi.NoInstance("outer", "/var/lib/lxd/unix.socket")
}

// A host inside a missing container is unavailable: its answers are not
// "not found", which would pass for the object asked about.
func TestHostInMissingContainer(t *testing.T) {
	h := &Runner{Via: goneContainer{}, Command: "lxc"}
	_, err := h.Run(context.Background(), nil, "query", "/1.0/images/aliases/testimage")
	if !errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `instance outer not found`) {
		t.Errorf("Run = %v; want ErrUnavailable naming the missing container", err)
	}
	err = h.Stream(context.Background(), io.Discard, "monitor")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "lxc monitor: ") {
		t.Errorf("Stream = %v; want ErrUnavailable", err)
	}
	canceled := &Runner{Via: cancelled{}, Command: "lxc"}
	if _, err := canceled.Run(context.Background(), nil, "query", "/1.0"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled run: %v; want it to match context.Canceled still", err)
	}
}

type cancelled struct{ transport.Transport }

func (cancelled) Exec(context.Context, transport.Command) (*transport.Result, error) {
	return nil, context.Canceled
}

// answers is a command whose results come from a list, one per run.
type answers struct {
	transport.Transport
	results []transport.Result
}

func (a *answers) Exec(context.Context, transport.Command) (*transport.Result, error) {
	r := a.results[0]
	a.results = a.results[1:]
	return &r, nil
}

// A daemon that answered and then refuses connections went away under
// the caller (killed between two commands of one operation): that is a
// lost connection, while a daemon never reached is only not answering.
func TestHostRefusedAfterAnswering(t *testing.T) {
	refused := transport.Result{ExitCode: 1, Stderr: []byte(`Error: Get "http://unix.socket/1.0": dial unix /var/lib/lxd/unix.socket: connect: connection refused` + "\n")}
	h := &Runner{Via: &answers{results: []transport.Result{refused, {Stdout: []byte("{}")}, refused}}, Command: "lxc"}
	ctx := context.Background()
	_, err := h.Run(ctx, nil, "list")
	if !errors.Is(err, errdefs.ErrUnavailable) || strings.Contains(err.Error(), hostapi.LostConnection) {
		t.Errorf("refused before any answer: %v; want ErrUnavailable, not a lost connection", err)
	}
	if _, err := h.Run(ctx, nil, "list"); err != nil {
		t.Fatal(err)
	}
	_, err = h.Run(ctx, nil, "list")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.HasPrefix(err.Error(), hostapi.LostConnection) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused after an answer: %v; want ErrUnavailable saying %q and keeping the daemon's words", err, hostapi.LostConnection)
	}
}
