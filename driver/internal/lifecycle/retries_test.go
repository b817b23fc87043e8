package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
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

// How long the wait for a busy instance lasts is host.SetInstanceState's
// (its TestBusyWaitEnds); here, that Start's ends with its context and
// leaves other errors alone.
func TestBusyWaitEnds(t *testing.T) {
	// A cancelled context ends the wait at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := &busyAPI{refusals: 1 << 30}
	if err := New(b, nil).Start(ctx, "c"); err == nil || b.changes != 1 {
		t.Errorf("cancelled: err %v after %d changes, want an error after 1", err, b.changes)
	}

	// Other errors are not retried.
	b = &busyAPI{other: errors.New("no such storage pool")}
	if err := New(b, nil).Start(context.Background(), "c"); err == nil || b.changes != 1 {
		t.Errorf("other error: err %v after %d changes, want an error after 1", err, b.changes)
	}
}

// initDeaf is a host whose container "c" ignores stop requests until the
// n-th: an init that was not yet listening for the signal.
type initDeaf struct {
	n        int
	timeouts []int // of each stop request
}

func (f *initDeaf) Addr() string { return "fake" }

func (f *initDeaf) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	status := "Running"
	if len(f.timeouts) >= f.n {
		status = "Stopped"
	}
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: status})
	return "", json.Unmarshal(raw, out)
}

func (f *initDeaf) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	req, ok := body.(api.InstanceStatePut)
	if !ok || req.Action != "stop" {
		return nil, errors.New("unexpected request")
	}
	f.timeouts = append(f.timeouts, req.Timeout)
	if len(f.timeouts) < f.n {
		return nil, errors.New("Failed shutting down instance, status is \"Running\": context deadline exceeded")
	}
	return &api.Operation{}, nil
}

// TestStopResends: a graceful stop is sent again soon at first (1, 2, 4, 8
// seconds), then every RetryInterval.
func TestStopResends(t *testing.T) {
	f := &initDeaf{n: 7}
	if err := New(f, nil).Stop(context.Background(), "c", driver.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 4, 8, 10, 10, 10}; !slices.Equal(f.timeouts, want) {
		t.Errorf("stop request timeouts %v, want %v", f.timeouts, want)
	}
	f = &initDeaf{n: 4}
	if err := New(f, nil).Stop(context.Background(), "c", driver.StopOptions{RetryInterval: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 3}; !slices.Equal(f.timeouts, want) {
		t.Errorf("with RetryInterval 3s: timeouts %v, want %v", f.timeouts, want)
	}
}

// failingForce is a host whose running container "c" fails forced stops
// until the n-th.
type failingForce struct {
	n     int
	tries int
}

func (f *failingForce) Addr() string { return "fake" }

func (f *failingForce) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	status := "Running"
	if f.tries >= f.n {
		status = "Stopped"
	}
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: status})
	return "", json.Unmarshal(raw, out)
}

func (f *failingForce) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	if req, ok := body.(api.InstanceStatePut); !ok || !req.Force {
		return nil, errors.New("unexpected request")
	}
	f.tries++
	if f.tries < f.n {
		return nil, errors.New("context deadline exceeded")
	}
	return &api.Operation{}, nil
}

// TestForceStopAsksAgain: a forced stop the daemon fails is sent again, a
// bounded number of times.
func TestForceStopAsksAgain(t *testing.T) {
	f := &failingForce{n: 3}
	if err := New(f, nil).Stop(context.Background(), "c", driver.StopOptions{Force: true}); err != nil || f.tries != 3 {
		t.Errorf("after 2 failures: %v, %d tries; want success on the 3rd", err, f.tries)
	}
	f = &failingForce{n: 100}
	if err := New(f, nil).Stop(context.Background(), "c", driver.StopOptions{Force: true}); err == nil || f.tries != forceAttempts {
		t.Errorf("always failing: %v after %d tries; want an error after %d", err, f.tries, forceAttempts)
	}
}

// failOnce fails the first state change (the first fails+1 ones) with
// err, then succeeds.
type failOnce struct {
	busyAPI
	err   error
	fails int
}

func (f *failOnce) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	f.changes++
	if f.changes <= 1+f.fails {
		return nil, f.err
	}
	return &api.Operation{}, nil
}

func TestStartAsksAgainAfterTheDaemonGaveUp(t *testing.T) {
	defer func(p []time.Duration) { startPauses = p }(startPauses)
	startPauses = []time.Duration{time.Millisecond, time.Millisecond}
	for _, msg := range []string{
		"Failed to run: /usr/bin/lxd forkstart c /var/lib/lxd/containers /var/log/lxd/c/lxc.conf: exit status 1",
		"Failed starting instance: context deadline exceeded",
		"Starting instance: The instance is already running", // Incus, while a stop finishes
	} {
		f := &failOnce{err: errors.New(msg)}
		if err := New(f, nil).Start(context.Background(), "c"); err != nil || f.changes != 2 {
			t.Errorf("%q: %v after %d changes, want success after 2", msg, err, f.changes)
		}
	}
	f := &failOnce{err: errors.New("Failed starting instance: context deadline exceeded"), fails: 1}
	if err := New(f, nil).Start(context.Background(), "c"); err != nil || f.changes != 3 {
		t.Errorf("two failures: %v after %d changes, want success after 3", err, f.changes)
	}
	f = &failOnce{err: errors.New("Failed starting instance: context deadline exceeded"), fails: 9}
	if err := New(f, nil).Start(context.Background(), "c"); err == nil || f.changes != 3 {
		t.Errorf("lasting failure: %v after %d changes, want it after 3", err, f.changes)
	}
	f = &failOnce{err: errors.New("Failed to start device \"eth0\": no such network")}
	if err := New(f, nil).Start(context.Background(), "c"); err == nil || f.changes != 1 {
		t.Errorf("a lasting failure: %v after %d changes, want it after 1", err, f.changes)
	}
}

// unfinishedStop is a host whose container "c" shuts down as Incus 6.0.4
// showed it under load: the first stop's wait runs out, the second is
// refused as not running, and the reads then go through states (status
// and volatile.last_state.power) before the stop is finished.
type unfinishedStop struct {
	stops     int
	states    [][2]string // what the reads after the second stop show, the last one kept; "gone" is not found
	reads     int
	ephemeral bool
}

func (u *unfinishedStop) Addr() string { return "fake" }

func (u *unfinishedStop) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	st := [2]string{"Running", "RUNNING"}
	if u.stops >= 2 {
		st = u.states[min(u.reads, len(u.states)-1)]
		u.reads++
	}
	if st[0] == "gone" {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "Instance not found"}
	}
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: st[0], InstancePut: api.InstancePut{
		Ephemeral: u.ephemeral, Config: map[string]string{"volatile.last_state.power": st[1]}}})
	return "", json.Unmarshal(raw, out)
}

func (u *unfinishedStop) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	u.stops++
	if u.stops == 1 {
		return nil, errors.New(`Failed shutting down instance, status is "Running": context deadline exceeded`)
	}
	return nil, errors.New(`container is not running: "c"`)
}

// TestStopWaitsForTheStopHook: a container found stopped before the
// daemon's stop hook ran (hostapi.StopUnfinished) is stopped only once the
// hook is done; one found running again without it was not stopped.
func TestStopWaitsForTheStopHook(t *testing.T) {
	u := &unfinishedStop{states: [][2]string{
		{"Stopped", "RUNNING"}, {"Stopped", "RUNNING"}, // the hook not yet run
		{"Running", "RUNNING"}, {"Running", "STOPPED"}, // the hook cleaning up
		{"Stopped", "STOPPED"}}}
	if err := New(u, nil).Stop(context.Background(), "c", driver.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if u.reads != 5 || u.stops != 2 {
		t.Errorf("returned after %d reads and %d stops, want 5 and 2", u.reads, u.stops)
	}

	// Still running, and no stop under way: the stop failed.
	u = &unfinishedStop{states: [][2]string{{"Running", "RUNNING"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := New(u, nil).Stop(ctx, "c", driver.StopOptions{RetryCount: 1})
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Stop = %v, want the daemon's refusal", err)
	}
}

// vanishing is a host whose running ephemeral container "c" is deleted
// by its daemon once stopped: the first stop's wait runs out while it
// shuts down, and the stop sent again finds it gone.
type vanishing struct{ stops int }

func (v *vanishing) Addr() string { return "fake" }

func (v *vanishing) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	if v.stops > 0 {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "Instance not found"}
	}
	raw, _ := json.Marshal(api.Instance{Name: "c", Status: "Running", InstancePut: api.InstancePut{Ephemeral: true}})
	return "", json.Unmarshal(raw, out)
}

func (v *vanishing) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	v.stops++
	if v.stops > 1 {
		return nil, &errdefs.StatusError{Status: http.StatusNotFound, Message: "Failed to fetch instance: Instance not found"}
	}
	return nil, errors.New("Failed shutting down instance, status is \"Running\": context deadline exceeded")
}

// TestStopOfEphemeral: a container gone after its stop request is
// stopped (Incus 6.0.4 failed 2 of 15 `lxkit stop` of just-launched
// ephemeral containers before: "Failed to fetch instance").
func TestStopOfEphemeral(t *testing.T) {
	v := &vanishing{}
	if err := New(v, nil).Stop(context.Background(), "c", driver.StopOptions{}); err != nil {
		t.Fatalf("stop of a container deleted as it stopped: %v", err)
	}
	if v.stops != 1 {
		t.Errorf("stop requests: %d, want 1", v.stops)
	}

	// Found stopped after a failed request, before its daemon deleted it
	// (hostapi.EphemeralOutlivesStop): stopped once it is gone, as a stop
	// request that succeeds returns then.
	u := &unfinishedStop{ephemeral: true, states: [][2]string{
		{"Stopped", "STOPPED"}, {"Stopped", "STOPPED"}, {"gone", ""}}}
	if err := New(u, nil).Stop(context.Background(), "c", driver.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if u.reads != 3 {
		t.Errorf("returned after %d reads, want 3 (the last one finding it gone)", u.reads)
	}
}
