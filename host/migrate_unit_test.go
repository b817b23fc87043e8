package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// moveAPI is a host with one instance, c, that records its state
// changes; it cannot start a migration (no hostapi.Starter), so every
// copy from it fails where the transfer would begin. As a destination
// it has no instance at all.
type moveAPI struct {
	status  string
	changes []string // the actions of the state changes asked for
}

func (m *moveAPI) Addr() string { return "fake" }

func (m *moveAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	var v any
	switch {
	case path == "/1.0":
		v = api.Server{Environment: api.ServerEnvironment{Server: "lxd", ServerVersion: "5.0.2"}}
	case m.status == "" || !strings.HasPrefix(path, "/1.0/instances/c"):
		return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "not found")
	default:
		v = api.Instance{Name: "c", Status: m.status, Type: "container"}
	}
	raw, _ := json.Marshal(v)
	return "", json.Unmarshal(raw, out)
}

func (m *moveAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	put, ok := body.(api.InstanceStatePut)
	if method != http.MethodPut || !strings.HasSuffix(path, "/state") || !ok {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "unexpected %s %s", method, path)
	}
	m.changes = append(m.changes, put.Action)
	m.status = map[string]string{"stop": "Stopped", "start": "Running"}[put.Action]
	return &api.Operation{}, nil
}

// A stateless move stops a running source before anything moves (no
// daemon freezes it: hostapi.FreezeHangs), and starts it again when the
// copy fails.
func TestStatelessMoveStopsFirst(t *testing.T) {
	src, dst := &moveAPI{status: "Running"}, &moveAPI{}
	err := New(src).MoveInstanceTo(context.Background(), New(dst), "c", "c", TransferOptions{Stateless: true})
	if !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Fatalf("move from a host that cannot start a migration: %v, want its refusal", err)
	}
	if got := strings.Join(src.changes, ","); got != "stop,start" || src.status != "Running" {
		t.Errorf("source state changes %q, now %s; want stop,start and running as before", got, src.status)
	}

	// Without --stateless, a running source is refused untouched.
	src = &moveAPI{status: "Running"}
	err = New(src).MoveInstanceTo(context.Background(), New(dst), "c", "c", TransferOptions{})
	if !errors.Is(err, errdefs.ErrPreconditionFailed) || len(src.changes) > 0 {
		t.Errorf("move of a running source without --stateless: %v after %q; want refused, untouched", err, src.changes)
	}
}
