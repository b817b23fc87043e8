package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/transport/local"
	"github.com/lxkit/lxkit/transport/ssh"
)

// eachEventSource runs f for each daemon through the REST driver (over
// the unix socket and over HTTPS) and the CLI driver, in parallel. For
// the CLI driver, mark is the value of $LXKIT_TEST_MARK in the
// environment of every command it runs, to find its processes; else "".
func eachEventSource(t *testing.T, f func(t *testing.T, d driver.Driver, h *host.Host, mark string)) {
	testhost.Integration(t)
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("rest", func(t *testing.T) {
				t.Parallel()
				d := rest.New(testhost.Connect(t, th))
				f(t, d, host.New(d.API()), "")
			})
			t.Run("https", func(t *testing.T) {
				t.Parallel()
				d := rest.New(testhost.ConnectHTTPS(t, th))
				f(t, d, host.New(d.API()), "")
			})
			t.Run("cli", func(t *testing.T) {
				t.Parallel()
				mark := short("mark")
				o := cli.ForSocket(th.Socket)
				o.Env["LXKIT_TEST_MARK"] = mark
				d, err := cli.New(testhost.Context(t, 30*time.Second), local.New(), o)
				if err != nil {
					testhost.Unavailable(t, "%s through its command: %v", th.Name, err)
				}
				f(t, d, host.New(d.API()), mark)
			})
		})
	}
}

// stopped cancels s and checks that Events returns context.Canceled
// promptly and that no process of the test's CLI driver (marked mark)
// is left behind.
func stopped(t *testing.T, s *testhost.Subscription, mark string) {
	t.Helper()
	if mark != "" && len(marked(t, mark)) == 0 {
		t.Fatalf("no process is marked %s while the monitor runs: is /proc readable?", mark)
	}
	start := time.Now()
	s.Cancel()
	select {
	case err := <-s.Ended():
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Events after cancel: %v, want context.Canceled", err)
		}
		t.Logf("Events returned %s after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("Events did not return within 10s of cancel")
	}
	if mark != "" {
		if left := marked(t, mark); len(left) > 0 {
			t.Fatalf("processes left behind after Events returned: %v", left)
		}
	}
}

// marked returns the command lines of the processes whose environment
// has LXKIT_TEST_MARK=mark.
func marked(t *testing.T, mark string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("LXKIT_TEST_MARK=" + mark)
	var found []string
	for _, dir := range dirs {
		env, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil || !slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return bytes.Equal(v, want) }) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		found = append(found, fmt.Sprintf("%s: %s", filepath.Base(dir), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return found
}

func TestEventsOfAContainer(t *testing.T) {
	eachEventSource(t, containerEvents)
}

// TestEventsOverSSH runs `lxc monitor` over SSH (a private sshd on
// loopback), as --host ssh://... does: the monitor must end with ctx.
func TestEventsOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	th := testhost.Hosts()[0]
	testhost.Connect(t, th) // skips, or fails under CI, when it is down
	srv := testsshd.Start(t)
	ctx := testhost.Context(t, time.Minute)
	tr, err := ssh.Dial(ctx, srv.Config())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.URL(), err)
	}
	t.Cleanup(func() { tr.Close() })
	mark := short("mark")
	o := cli.ForSocket(th.Socket)
	o.Env["LXKIT_TEST_MARK"] = mark
	d, err := cli.New(ctx, tr, o)
	if err != nil {
		t.Fatalf("%s over %s: %v", th.Name, srv.URL(), err)
	}
	containerEvents(t, d, host.New(d.API()), mark)
}

// TestEventsNested runs the monitor of the LXD inside a container, through
// that container's transport: cancelling must stop it inside.
func TestEventsNested(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	th := testhost.Hosts()[0]
	top := rest.New(testhost.Connect(t, th))
	outer := testhost.LaunchNested(t, top, "evouter", testhost.NestImage)
	mark := short("mark")
	d, err := cli.New(testhost.Context(t, time.Minute), top.Transport(outer),
		cli.Options{Where: outer, Env: map[string]string{"LXKIT_TEST_MARK": mark}})
	if err != nil {
		t.Fatal(err)
	}
	containerEvents(t, d, host.New(d.API()), mark)
}

// containerEvents checks that the operation and lifecycle events of a
// container's creation, start and deletion arrive, then that cancelling
// ends Events at once and leaves no process marked mark.
func containerEvents(t *testing.T, d driver.Driver, h *host.Host, mark string) {
	start := time.Now()
	s := testhost.Subscribe(t, h, api.EventOptions{Types: []string{api.EventTypeLifecycle, api.EventTypeOperation}})
	s.Ready(t, h, testhost.EventsWait)
	t.Logf("subscribed in %s", time.Since(start).Round(time.Millisecond))

	ctx := testhost.Context(t, 3*time.Minute)
	name := testhost.Name("events")
	t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
	start = time.Now()
	if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
		t.Fatal(err)
	}
	source := "/1.0/instances/" + name
	// The daemons deliver events in no set order (hostapi.EventsUnordered):
	// the operation's and the lifecycle's are awaited together.
	got := s.WaitForAll(t, testhost.EventsWait, map[string]func(api.Event) bool{
		"the operation creating " + name: func(ev api.Event) bool {
			res, _ := ev.Metadata["resources"].(map[string]any)
			insts, _ := res["instances"].([]any)
			return ev.Type == api.EventTypeOperation && slices.Contains(insts, any(source))
		},
		name + " created": testhost.Lifecycle("instance-created", source),
		name + " started": testhost.Lifecycle("instance-started", source),
	})
	if op := got["the operation creating "+name]; op.Project != "default" {
		t.Errorf("operation event of project %q, want default", op.Project)
	}
	if created := got[name+" created"]; created.Timestamp.IsZero() || created.Project != "default" {
		t.Errorf("instance-created event lacks its timestamp or project: %+v", created)
	}
	if err := d.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, testhost.EventsWait, name+" deleted", testhost.Lifecycle("instance-deleted", source))
	t.Logf("created, started and deleted seen in %s", time.Since(start).Round(time.Millisecond))
	stopped(t, s, mark)
}

func TestEventsEndWithFn(t *testing.T) {
	eachEventSource(t, func(t *testing.T, d driver.Driver, h *host.Host, mark string) {
		ctx := testhost.Context(t, 2*time.Minute)
		name := short("lxkev")
		if err := h.Profiles().Create(ctx, api.ProfilesPost{Name: name}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Profiles().Delete(context.Background(), name) })
		stop := errors.New("seen")
		ended := make(chan error, 1)
		go func() {
			ended <- h.Events(ctx, api.EventOptions{Types: []string{api.EventTypeLifecycle}}, func(ev api.Event) error {
				if testhost.Lifecycle("profile-updated", "/1.0/profiles/"+name)(ev) {
					return fmt.Errorf("fn: %w", stop)
				}
				return nil
			})
		}()
		// Update the profile until Events returns fn's error.
		deadline := time.After(testhost.EventsWait)
		for i := 0; ; i++ {
			if err := h.Profiles().Update(ctx, name, func(p *api.ProfilePut) error {
				p.Description = fmt.Sprint("update ", i)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-ended:
				if !errors.Is(err, stop) || err.Error() != "fn: seen" {
					t.Fatalf("Events: %v, want fn's error as it is", err)
				}
				if mark != "" {
					if left := marked(t, mark); len(left) > 0 {
						t.Fatalf("processes left behind after Events returned: %v", left)
					}
				}
				return
			case <-time.After(time.Second):
			case <-deadline:
				t.Fatalf("Events did not return fn's error within %s", testhost.EventsWait)
			}
		}
	})
}

func TestEventsRefusesUnknownTypes(t *testing.T) {
	eachEventSource(t, func(t *testing.T, d driver.Driver, h *host.Host, mark string) {
		ctx := testhost.Context(t, 30*time.Second)
		called := false
		err := h.Events(ctx, api.EventOptions{Types: []string{"lifecycle", "bogus"}}, func(api.Event) error {
			called = true
			return nil
		})
		mustClass(t, "type bogus", err, errdefs.ErrInvalidArgument, `"bogus"`, "lifecycle, logging, operation")
		if called {
			t.Error("fn was called")
		}
	})
}

// noEvents is an API that cannot stream events.
type noEvents struct{ hostapi.API }

func (noEvents) Addr() string { return "nowhere" }

func TestEventsNotImplemented(t *testing.T) {
	err := host.New(noEvents{}).Events(context.Background(), api.EventOptions{}, func(api.Event) error { return nil })
	mustClass(t, "an API without events", err, errdefs.ErrNotImplemented, "nowhere")
}

func TestEventTypes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string // nil: refused
	}{
		{nil, []string{"lifecycle", "logging", "operation"}},
		{[]string{"operation"}, []string{"operation"}},
		{[]string{"lifecycle", "operation", "lifecycle"}, []string{"lifecycle", "operation"}},
		{[]string{"lifecycle", "Logging"}, nil},
		{[]string{""}, nil},
		{[]string{"lifecycle,logging"}, nil},
		{[]string{"network-acl"}, nil}, // Incus only
	} {
		got, err := api.EventOptions{Types: tc.in}.EventTypes()
		if !slices.Equal(got, tc.want) || (err != nil) != (tc.want == nil) {
			t.Errorf("EventTypes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
