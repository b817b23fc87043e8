package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// busyAPI refuses state changes of its instance as busy, refusals times
// first: the moment after a stop that a real daemon shows only now and
// then.
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

func TestBusyWaitEnds(t *testing.T) {
	start := api.InstanceStatePut{Action: "start", Timeout: -1}
	b := &busyAPI{refusals: 3}
	if err := New(b).SetInstanceState(context.Background(), "c", start); err != nil || b.changes != 4 {
		t.Errorf("after 3 busy answers: %v after %d changes, want success after 4", err, b.changes)
	}

	defer func(p time.Duration) { busyPatience = p }(busyPatience)
	busyPatience = 300 * time.Millisecond
	b = &busyAPI{refusals: 1 << 30}
	t0 := time.Now()
	err := New(b).SetInstanceState(context.Background(), "c", start)
	if err == nil || !hostapi.Busy.In(err) {
		t.Fatalf("a forever busy instance: %v, want the busy error", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("gave up after %s, want about %s", took, busyPatience)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b = &busyAPI{refusals: 1 << 30}
	if err := New(b).SetInstanceState(ctx, "c", start); err == nil || b.changes != 1 {
		t.Errorf("cancelled: err %v after %d changes, want an error after 1", err, b.changes)
	}

	b = &busyAPI{other: errors.New("no such storage pool")}
	if err := New(b).SetInstanceState(context.Background(), "c", start); err == nil || b.changes != 1 {
		t.Errorf("other error: err %v after %d changes, want an error after 1", err, b.changes)
	}
}

// stoppingAPI answers the state of "c" as Incus 6.0.4 does when the
// container stops while the state is rendered, races times, then with
// the state of a stopped container.
type stoppingAPI struct {
	busyAPI
	racesFor time.Duration // the state fails to render until then
	start    time.Time
	reads    int
}

func (s *stoppingAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	if !strings.HasSuffix(path, "/state") {
		return s.busyAPI.Query(ctx, method, path, body, out)
	}
	if s.reads++; s.reads == 1 {
		s.start = time.Now()
	}
	if time.Since(s.start) < s.racesFor {
		return "", errdefs.Wrap(errdefs.ErrInternal, nil, "Invalid PID '\uFFFD'")
	}
	raw, _ := json.Marshal(api.InstanceState{Status: "Stopped"})
	return "", json.Unmarshal(raw, out)
}

func TestStateOfAStoppingInstance(t *testing.T) {
	// A stop that takes half a second: the state reads fail until then.
	s := &stoppingAPI{racesFor: 500 * time.Millisecond}
	st, err := New(s).InstanceState(context.Background(), "c")
	if err != nil || st.Status != "Stopped" {
		t.Errorf("a stop of 0.5 s: %+v, %v after %d reads; want the stopped state", st, err, s.reads)
	}
	defer func(p []time.Duration) { statePauses = p }(statePauses)
	statePauses = []time.Duration{time.Millisecond, time.Millisecond}
	s = &stoppingAPI{racesFor: time.Hour}
	if _, err := New(s).InstanceState(context.Background(), "c"); !hostapi.StateRace.In(err) || s.reads != 3 {
		t.Errorf("always racing: %v after %d reads; want the daemon's error after 3", err, s.reads)
	}
	// The caller's context ends the pauses.
	statePauses = []time.Duration{time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := New(&stoppingAPI{racesFor: time.Hour}).InstanceState(ctx, "c"); !hostapi.StateRace.In(err) {
		t.Errorf("a context that ends: %v; want the daemon's error", err)
	}
}
