package testhost

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/host"
)

// EventsWait bounds the wait for any one expected event.
const EventsWait = 30 * time.Second

// Subscription is a running host.Events call whose events land in a
// channel.
type Subscription struct {
	events chan api.Event
	ended  chan error // Events's result
	cancel context.CancelFunc
}

// Subscribe calls h.Events in the background until the test ends or
// Cancel is called.
func Subscribe(t testing.TB, h *host.Host, opts api.EventOptions) *Subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{events: make(chan api.Event, 4096), ended: make(chan error, 1), cancel: cancel}
	go func() {
		s.ended <- h.Events(ctx, opts, func(ev api.Event) error {
			select {
			case s.events <- ev:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	t.Cleanup(cancel)
	return s
}

// Cancel ends the Events call; Ended then gives its result.
func (s *Subscription) Cancel() { s.cancel() }

// Ended gives the Events call's result once it has returned.
func (s *Subscription) Ended() <-chan error { return s.ended }

// Next returns the first event that match accepts (dropping the others)
// within d, or an error when none comes or when Events ends.
func (s *Subscription) Next(d time.Duration, match func(api.Event) bool) (api.Event, error) {
	timeout := time.After(d)
	for {
		select {
		case ev := <-s.events:
			if match(ev) {
				return ev, nil
			}
		case err := <-s.ended:
			s.ended <- err // for whoever asks next
			return api.Event{}, fmt.Errorf("the Events call ended: %v", err)
		case <-timeout:
			return api.Event{}, fmt.Errorf("nothing within %s", d)
		}
	}
}

// WaitFor is Next that fails the test, naming what it waited for.
func (s *Subscription) WaitFor(t testing.TB, d time.Duration, what string, match func(api.Event) bool) api.Event {
	t.Helper()
	ev, err := s.Next(d, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return ev
}

// WaitForAll returns, by name, the first event each of want accepts,
// whatever order they come in, all within d; it fails the test when one
// does not come or when Events ends.
func (s *Subscription) WaitForAll(t testing.TB, d time.Duration, want map[string]func(api.Event) bool) map[string]api.Event {
	t.Helper()
	got := map[string]api.Event{}
	_, err := s.Next(d, func(ev api.Event) bool {
		for name, match := range want {
			if _, seen := got[name]; !seen && match(ev) {
				got[name] = ev
			}
		}
		return len(got) == len(want)
	})
	if err != nil {
		var missing []string
		for name := range want {
			if _, seen := got[name]; !seen {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		t.Fatalf("waiting for %s: %v", strings.Join(missing, ", "), err)
	}
	return got
}

// Lifecycle matches a lifecycle event with this action and source.
func Lifecycle(action, source string) func(api.Event) bool {
	return func(ev api.Event) bool {
		a, s := host.LifecycleAction(ev)
		return a == action && s == source
	}
}

// Ready waits, at most wait, until s receives events of changes made
// through h: nothing tells when a subscription is in place (or, on a
// cluster, when the member it listens to relays another's events), so it
// updates a profile of its own through h until it sees that.
func (s *Subscription) Ready(t testing.TB, h *host.Host, wait time.Duration) {
	t.Helper()
	ctx := Context(t, wait+time.Minute)
	name := Short("lxkev")
	if err := h.Profiles().Create(ctx, api.ProfilesPost{Name: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Profiles().Delete(context.Background(), name) })
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		err := h.Profiles().Update(ctx, name, func(p *api.ProfilePut) error {
			p.Description = fmt.Sprint("sync ", i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Next(time.Second, Lifecycle("profile-updated", "/1.0/profiles/"+name))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscription did not start within %s: %v", wait, err)
		}
	}
}
