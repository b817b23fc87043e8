package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
)

// gaveUp is a host whose stopped container "c" the daemon never starts:
// each start fails as LXD's does when its start hook timed out. The
// first start cancels the caller's context a moment later.
type gaveUp struct {
	cancel  context.CancelFunc
	changes int
}

func (g *gaveUp) Addr() string { return "fake" }

func (g *gaveUp) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: "Stopped"})
	return "", json.Unmarshal(raw, out)
}

func (g *gaveUp) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	if g.changes++; g.changes == 1 {
		time.AfterFunc(20*time.Millisecond, g.cancel)
	}
	return nil, errors.New("Failed to run: /usr/bin/lxd forkstart c /var/lib/lxd/containers /var/log/lxd/c/lxc.conf: exit status 1")
}

// The pause before a start is asked for again ends with the caller's
// context (it slept its whole second before).
func TestStartPauseEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &gaveUp{cancel: cancel}
	t0 := time.Now()
	err := New(g, nil).Start(ctx, "c")
	if took := time.Since(t0); took > 500*time.Millisecond {
		t.Errorf("Start returned %s after its context ended 20 ms in (%v)", took, err)
	}
	if err == nil || g.changes != 1 {
		t.Errorf("Start: %v after %d changes, want an error after 1", err, g.changes)
	}
}

// raced is a host where another caller's create of "c" always holds the
// name and its record never shows: each create fails as LXD 5.0.2's
// does. The tenth create cancels the caller's context a moment later,
// while the create waits 500 ms before its next try.
type raced struct {
	cancel  context.CancelFunc
	creates int
	tenth   time.Time
}

func (r *raced) Addr() string { return "fake" }

func (r *raced) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	if strings.HasPrefix(path, "/1.0/images/aliases/") {
		raw, _ := json.Marshal(api.ImageAliasesEntry{Name: "img", Target: "abc"})
		return "", json.Unmarshal(raw, out)
	}
	return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "Instance not found")
}

func (r *raced) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	if method != http.MethodPost || path != "/1.0/instances" {
		return nil, errors.New("unexpected " + method + " " + path)
	}
	if r.creates++; r.creates == 10 {
		r.tenth = time.Now()
		time.AfterFunc(20*time.Millisecond, r.cancel)
	}
	return nil, errors.New(`Creating instance: Failed creating instance record: Instance is busy running a "create" operation`)
}

// The pause between creates that lost the race ends with the caller's
// context (it slept its whole pause before).
func TestCreateRacePauseEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &raced{cancel: cancel}
	err := New(r, nil).Create(ctx, "c", driver.CreateOptions{Image: driver.Image{Alias: "img"}})
	if err == nil || r.creates != 10 {
		t.Fatalf("Create: %v after %d creates, want an error after 10", err, r.creates)
	}
	if took := time.Since(r.tenth); took > 300*time.Millisecond {
		t.Errorf("Create returned %s after its tenth try, its context ending 20 ms in", took)
	}
}
