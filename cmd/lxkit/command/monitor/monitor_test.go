package monitor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

func TestLine(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	when := ts.Local().Format(timeLayout)
	for _, tc := range []struct {
		ev   api.Event
		want string
	}{
		{api.Event{Type: "lifecycle", Timestamp: ts, Project: "default", Metadata: map[string]any{
			"action": "instance-started", "source": "/1.0/instances/c1", "requestor": map[string]any{"username": "root"}}},
			when + "  lifecycle  instance-started /1.0/instances/c1"},
		{api.Event{Type: "lifecycle", Timestamp: ts, Project: "p1", Metadata: map[string]any{
			"action": "instance-created", "source": "/1.0/instances/c1?project=p1"}},
			when + "  lifecycle  [p1] instance-created /1.0/instances/c1?project=p1"},
		{api.Event{Type: "logging", Timestamp: ts, Metadata: map[string]any{
			"level": "info", "message": "Creating instance\nsecond line", "context": map[string]any{"project": "default", "instance": "c1", "note": "a b"}}},
			when + `  logging    info: Creating instance second line instance=c1 note="a b" project=default`},
		{api.Event{Type: "operation", Timestamp: ts, Project: "default", Metadata: map[string]any{
			"description": "Creating instance", "status": "Running",
			"resources": map[string]any{"containers": []any{"/1.0/containers/c1"}, "instances": []any{"/1.0/instances/c1"}}}},
			when + "  operation  Creating instance: Running /1.0/instances/c1"},
		{api.Event{Type: "operation", Timestamp: ts, Metadata: map[string]any{
			"description": "Starting instance", "status": "Failure", "err": "no such device"}},
			when + "  operation  Starting instance: Failure (no such device)"},
		{api.Event{Type: "network-acl", Timestamp: ts, Metadata: map[string]any{"x": 1.0}},
			when + `  network-acl  {"x":1}`},
		{api.Event{Type: "lifecycle", Timestamp: ts, Metadata: map[string]any{"action": 7.0}},
			when + `  lifecycle  {"action":7}`}, // a malformed event still prints
	} {
		if got := line(tc.ev); got != tc.want {
			t.Errorf("line(%+v)\n got %q\nwant %q", tc.ev, got, tc.want)
		}
	}
}

func TestPrinterFormats(t *testing.T) {
	ev := api.Event{Type: "lifecycle", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Project: "default",
		Metadata: map[string]any{"action": "instance-started", "source": "/1.0/instances/c1"}}
	for format, want := range map[string]string{
		cmdutil.FormatJSON: `{"type":"lifecycle","timestamp":"2026-01-02T03:04:05Z","metadata":{"action":"instance-started","source":"/1.0/instances/c1"},"location":"","project":"default"}` + "\n",
		cmdutil.FormatYAML: "---\ntype: lifecycle\ntimestamp: \"2026-01-02T03:04:05Z\"\nmetadata:\n  action: instance-started\n  source: /1.0/instances/c1\nlocation: \"\"\nproject: default\n",
	} {
		var out bytes.Buffer
		show := printer(&out, format)
		if err := show(ev); err != nil {
			t.Fatal(err)
		}
		if err := show(ev); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != want+want {
			t.Errorf("%s:\n got %q\nwant %q", format, got, want+want)
		}
	}
}

func TestFlags(t *testing.T) {
	run := func(args ...string) (*Options, error) {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.Globals{Format: cmdutil.FormatTable}}
		var got *Options
		cmd := NewCmdMonitor(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SetOut(ios.ErrOut)
		cmd.SetErr(ios.ErrOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		return got, cmd.ExecuteContext(context.Background())
	}
	o, err := run("--type", "lifecycle, operation", "--all-projects")
	if err != nil || !slices.Equal(o.Types, []string{"lifecycle", "operation"}) || !o.AllProjects {
		t.Fatalf("parsed %+v, %v", o, err)
	}
	o, err = run()
	if err != nil || o.Types != nil || o.AllProjects {
		t.Fatalf("no flags: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"--type", "lifecycle,bogus"}, {"--type", "lifecycle,"}, {"extra"}} {
		if _, err := run(bad...); !cmdutil.IsUsage(err) {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

// syncBuffer is a buffer that the command writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// printed reports whether out, in format, holds a lifecycle event with
// action and source.
func printed(out, format, action, source string) bool {
	for _, l := range strings.Split(out, "\n") {
		if format == cmdutil.FormatTable && strings.HasSuffix(l, "  "+action+" "+source) {
			return true
		}
		var ev api.Event
		if format == cmdutil.FormatJSON && json.Unmarshal([]byte(l), &ev) == nil {
			if a, s := host.LifecycleAction(ev); a == action && s == source {
				return true
			}
		}
	}
	return false
}

// waitPrinted waits up to 30 seconds for printed to hold, doing step (if
// not nil) once a second meanwhile.
func waitPrinted(t *testing.T, out *syncBuffer, done <-chan error, format, action, source string, step func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !printed(out.String(), format, action, source) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s printed within 30s; output:\n%s", action, source, out)
		}
		if step != nil {
			step()
		}
		select {
		case err := <-done:
			t.Fatalf("monitor ended: %v; output:\n%s", err, out)
		case <-time.After(time.Second):
		}
	}
}

var tableLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)  lifecycle  (\[\S+\] )?[a-z-]+ /1\.0\S*$`)

// TestMonitor runs `lxkit monitor --type lifecycle` on each daemon through
// each driver, in the table and JSON formats, while a container is
// created and started, then interrupts it.
func TestMonitor(t *testing.T) {
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			t.Parallel()
			drivers := map[string]func(t *testing.T) driver.Driver{
				"rest": func(t *testing.T) driver.Driver { return rest.New(testhost.Connect(t, th)) },
				"cli": func(t *testing.T) driver.Driver {
					d, err := cli.New(testhost.Context(t, 30*time.Second), local.New(), cli.ForSocket(th.Socket))
					if err != nil {
						testhost.Unavailable(t, "%s through its command: %v", th.Name, err)
					}
					return d
				},
			}
			for dname, open := range drivers {
				for _, format := range []string{cmdutil.FormatTable, cmdutil.FormatJSON} {
					t.Run(dname+"/"+format, func(t *testing.T) {
						t.Parallel()
						monitorContainer(t, open(t), format)
					})
				}
			}
		})
	}
}

func monitorContainer(t *testing.T, d driver.Driver, format string) {
	ctx := testhost.Context(t, 3*time.Minute)
	ios, _, _, _ := iostreams.Test()
	out := &syncBuffer{}
	ios.Out = out
	opts := &Options{IO: ios, Globals: &cmdutil.Globals{Format: format},
		Driver: func(context.Context) (driver.Driver, error) { return d, nil }, Types: []string{api.EventTypeLifecycle}}
	mctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	done := make(chan error, 1)
	go func() { done <- monitorRun(mctx, opts) }()

	// Nothing tells when the monitor is subscribed: update a profile of
	// the test's own until the monitor prints it.
	h := host.New(d.API())
	profile := "lxkmon" + fresh()
	if err := h.Profiles().Create(ctx, api.ProfilesPost{Name: profile}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Profiles().Delete(context.Background(), profile) })
	i := 0
	waitPrinted(t, out, done, format, "profile-updated", "/1.0/profiles/"+profile, func() {
		i++
		if err := h.Profiles().Update(ctx, profile, func(p *api.ProfilePut) error { p.Description = fmt.Sprint(i); return nil }); err != nil {
			t.Fatal(err)
		}
	})

	name := testhost.Name("monitor")
	t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
	if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
		t.Fatal(err)
	}
	waitPrinted(t, out, done, format, "instance-created", "/1.0/instances/"+name, nil)
	waitPrinted(t, out, done, format, "instance-started", "/1.0/instances/"+name, nil)

	interrupt()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted monitor: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not end within 10s of the interrupt")
	}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		switch format {
		case cmdutil.FormatTable:
			if !tableLine.MatchString(l) {
				t.Errorf("table line %q", l)
			}
		case cmdutil.FormatJSON:
			var ev api.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type != api.EventTypeLifecycle || ev.Timestamp.IsZero() {
				t.Errorf("JSON line %q: %v", l, err)
			}
		}
	}
}

func TestMonitorFailure(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	want := errors.New("no host")
	opts := &Options{IO: ios, Globals: &cmdutil.Globals{Format: cmdutil.FormatTable},
		Driver: func(context.Context) (driver.Driver, error) { return nil, want }}
	if err := monitorRun(context.Background(), opts); err != want {
		t.Fatalf("monitorRun: %v, want the driver's error", err)
	}
}

func fresh() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
