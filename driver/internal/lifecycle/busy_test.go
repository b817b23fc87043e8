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
)

// busyAPI is a host whose instance "c" is stopped and whose state changes
// are refused as busy a number of times first: the moment after a stop
// that a real daemon shows only now and then.
type busyAPI struct {
	refusals int // busy answers left
	changes  int // state changes asked for
	other    error
}

func (b *busyAPI) Addr() string { return "fake" }

func (b *busyAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: "Stopped"})
	return "", json.Unmarshal(raw, out)
}

func (b *busyAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	if method != http.MethodPut || !strings.HasSuffix(path, "/state") {
		return nil, errors.New("unexpected " + method + " " + path)
	}
	b.changes++
	if b.other != nil {
		return nil, b.other
	}
	if b.refusals > 0 {
		b.refusals--
		return nil, errors.New(`Failed to create instance start operation: Instance is busy running a "stop" operation`)
	}
	return &api.Operation{}, nil
}

func TestStartWaitsForABusyInstance(t *testing.T) {
	ctx := context.Background()
	b := &busyAPI{refusals: 3}
	if err := New(b, nil).Start(ctx, "c"); err != nil {
		t.Fatalf("Start after 3 busy answers: %v", err)
	}
	if b.changes != 4 {
		t.Errorf("state changes sent: %d, want 4", b.changes)
	}
}

func TestBusyWaitEnds(t *testing.T) {
	defer func(p time.Duration) { busyPatience = p }(busyPatience)
	busyPatience = 300 * time.Millisecond
	b := &busyAPI{refusals: 1 << 30}
	start := time.Now()
	err := New(b, nil).Start(context.Background(), "c")
	if err == nil || !busy(err) {
		t.Fatalf("Start on a forever busy instance: %v, want the busy error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %s, want about %s", took, busyPatience)
	}

	// A cancelled context ends the wait at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b = &busyAPI{refusals: 1 << 30}
	if err := New(b, nil).Start(ctx, "c"); err == nil || b.changes != 1 {
		t.Errorf("cancelled: err %v after %d changes, want an error after 1", err, b.changes)
	}

	// Other errors are not retried.
	b = &busyAPI{other: errors.New("no such storage pool")}
	if err := New(b, nil).Start(context.Background(), "c"); err == nil || b.changes != 1 {
		t.Errorf("other error: err %v after %d changes, want an error after 1", err, b.changes)
	}
}
