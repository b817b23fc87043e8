package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/transport"
)

// goneContainer is the transport of a container that is not there.
type goneContainer struct{ transport.Transport }

func (goneContainer) Exec(context.Context, transport.Command) (*transport.Result, error) {
	return nil, errdefs.Wrap(errdefs.ErrNotFound, nil, `container "outer" not found on /var/lib/lxd/unix.socket`)
}

// A host inside a missing container is unavailable: its answers are not
// "not found", which would pass for the object asked about.
func TestHostInMissingContainer(t *testing.T) {
	h := &Host{Via: goneContainer{}, Command: "lxc"}
	_, err := h.Run(context.Background(), nil, "query", "/1.0/images/aliases/testimage")
	if !errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `container "outer" not found`) {
		t.Errorf("Run = %v; want ErrUnavailable naming the missing container", err)
	}
	err = h.Stream(context.Background(), io.Discard, "monitor")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "lxc monitor: ") {
		t.Errorf("Stream = %v; want ErrUnavailable", err)
	}
	canceled := &Host{Via: cancelled{}, Command: "lxc"}
	if _, err := canceled.Run(context.Background(), nil, "query", "/1.0"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled run: %v; want it to match context.Canceled still", err)
	}
}

type cancelled struct{ transport.Transport }

func (cancelled) Exec(context.Context, transport.Command) (*transport.Result, error) {
	return nil, context.Canceled
}
