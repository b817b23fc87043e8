package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/testkit/testcmd"
)

// op is one operation under way when the fault comes.
type op struct {
	name string
	done chan struct{}
	err  error // the library's error, or the command's exit and stderr
	at   time.Time
}

// ops are the operations of one round, each in its own goroutine.
type ops struct {
	ctx  context.Context
	list []*op
}

// newOps returns a round whose operations run under ctx. When the test
// ends they are cancelled and waited for (up to a minute), so that none
// writes into the test's folders while they are removed.
func newOps(t *testing.T, ctx context.Context) *ops {
	ctx, cancel := context.WithCancel(ctx)
	r := &ops{ctx: ctx}
	t.Cleanup(func() {
		cancel()
		for _, o := range r.list {
			select {
			case <-o.done:
			case <-time.After(time.Minute):
				t.Errorf("%s: still running a minute after it was cancelled", o.name)
			}
		}
	})
	return r
}

// start runs f in a goroutine of its own.
func (r *ops) start(name string, f func(ctx context.Context) error) {
	o := &op{name: name, done: make(chan struct{})}
	r.list = append(r.list, o)
	go func() {
		err := f(r.ctx)
		o.err, o.at = err, time.Now()
		close(o.done)
	}()
}

// underWay waits until each sign holds, and fails the test if one does
// not within 2 minutes or an operation has ended meanwhile.
func (r *ops) underWay(t *testing.T, signs map[string]func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		for _, o := range r.list {
			select {
			case <-o.done:
				t.Fatalf("%s ended before the fault: %v", o.name, o.err)
			default:
			}
		}
		var missing []string
		for what, ok := range signs {
			if !ok() {
				missing = append(missing, what)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("not under way after 2 minutes: %v", missing)
		}
	}
}

// ended checks that every operation ended within the bound after the
// fault came (at since), with an error that want accepts (described by
// says).
func (r *ops) ended(t *testing.T, since time.Time, within time.Duration, want func(error) bool, says string) {
	t.Helper()
	var slowest time.Duration
	var slowestName string
	for _, o := range r.list {
		select {
		case <-o.done:
		case <-time.After(time.Until(since.Add(within))):
			t.Errorf("%s: still running %s after the fault", o.name, within)
			continue
		}
		took := o.at.Sub(since)
		switch {
		case o.err == nil:
			t.Errorf("%s: no error after the fault", o.name)
		case !want(o.err):
			t.Errorf("%s: %v; want an error that %s", o.name, o.err, says)
		default:
			t.Logf("%s: ended %s after the fault: %v", o.name, took.Round(time.Millisecond), o.err)
		}
		if took > slowest {
			slowest, slowestName = took, o.name
		}
	}
	t.Logf("figure: %d operations ended within %s of the fault (the last: %s)", len(r.list), slowest.Round(time.Millisecond), slowestName)
}

// command is a command's failure as an error, nil when it exited 0.
func command(r testcmd.Result) error {
	if r.Code == 0 {
		return nil
	}
	return fmt.Errorf("exit %d (%v): %s", r.Code, r.Err, strings.TrimSpace(string(r.Stderr)))
}
