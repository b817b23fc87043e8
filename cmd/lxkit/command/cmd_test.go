package command_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// fakeDriver answers Status, Create and Update from memory and runs
// commands through fakeTransport. Other methods are not used by the tests
// (the embedded nil interface would panic).
type fakeDriver struct {
	driver.Driver
	status  map[string]string
	created map[string]driver.CreateOptions
	updated map[string]driver.UpdateOptions
	stopped map[string]driver.StopOptions
}

func newFake() *fakeDriver {
	return &fakeDriver{status: map[string]string{"web": "running"},
		created: map[string]driver.CreateOptions{}, updated: map[string]driver.UpdateOptions{},
		stopped: map[string]driver.StopOptions{}}
}

func (d *fakeDriver) Status(_ context.Context, name string) (string, error) {
	if s, ok := d.status[name]; ok {
		return s, nil
	}
	return "", hostapi.NoInstance(name, "fake")
}

func (d *fakeDriver) Instance(ctx context.Context, name string) (*api.Instance, error) {
	s, err := d.Status(ctx, name)
	return &api.Instance{Name: name, Status: s}, err
}

func (d *fakeDriver) Create(_ context.Context, name string, opts driver.CreateOptions) error {
	d.created[name] = opts
	return nil
}

func (d *fakeDriver) Update(_ context.Context, name string, opts driver.UpdateOptions) error {
	d.updated[name] = opts
	return nil
}

func (d *fakeDriver) Stop(_ context.Context, name string, opts driver.StopOptions) error {
	d.stopped[name] = opts
	return nil
}

func (d *fakeDriver) Transport(name string) transport.Transport { return fakeTransport{} }

// fakeTransport runs "sh": it reads stdin, prints to both streams and
// exits 3; any other command is missing (127).
type fakeTransport struct{ transport.Transport }

func (fakeTransport) Exec(_ context.Context, c transport.Command) (*transport.Result, error) {
	out := transport.NewOutput(c)
	if c.Args[0] != "sh" {
		return out.Result(127), nil
	}
	in := "<nil>"
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	io.WriteString(out.Stdout(), "out stdin="+in+"\n")
	io.WriteString(out.Stderr(), "err\n")
	return out.Result(3), nil
}

func run(t *testing.T, d driver.Driver, stdin string, stdinTTY bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdinTTY(stdinTTY)
	f := cmdutil.NewFactory(ios)
	f.Driver = func(context.Context) (driver.Driver, error) { return d, nil }
	code = command.Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	tests := []struct {
		args           []string
		stdin          string
		stdinTTY       bool
		code           int
		stdout, stderr string // substrings; "-" means empty
	}{
		{args: []string{"status", "web"}, code: 0, stdout: "running\n", stderr: "-"},
		{args: []string{"status", "web", "--format", "json"}, code: 0, stdout: "\"status\": \"running\""},
		{args: []string{"status", "web", "--format", "yaml"}, code: 0, stdout: "name: web\nstatus: running\n"},
		{args: []string{"status", "gone"}, code: 1, stdout: "-", stderr: "Error: instance gone not found on fake\n"},
		{args: []string{"status", "1bad"}, code: 1, stderr: "Error: invalid instance name \"1bad\": must start with a letter\n"},
		{args: []string{"status"}, code: 2, stderr: "Run 'lxkit status --help' for usage."},
		{args: []string{"status", "a", "b"}, code: 2, stderr: "expected one container name"},
		{args: []string{"bogus"}, code: 2, stderr: "unknown command \"bogus\""},
		{args: []string{"--format", "xml", "status", "web"}, code: 2, stderr: "--format \"xml\""},
		{args: []string{"list", "--bogus"}, code: 2, stderr: "unknown flag: --bogus"},
		{args: []string{"stop", "web", "--timeout", "soon"}, code: 2, stderr: "invalid argument \"soon\""},
		{args: []string{"stop", "web", "--retry-count", "-1"}, code: 2, stderr: "must not be negative"},
		{args: []string{"delete", "ok", "bad_name"}, code: 1, stderr: "invalid instance name \"bad_name\""},
		{args: []string{"launch", "web"}, code: 2, stderr: "--image is required"},
		{args: []string{"launch", "web", "--image", "x", "-c", "k"}, code: 2, stderr: "-c: \"k\": expected KEY=VALUE"},
		{args: []string{"launch", "web", "--image", "x", "--device", "d"}, code: 2, stderr: "--device: device \"d\": missing type"},
		{args: []string{"launch", "web", "--image", "x", "--server", "https://h", "--skip-index-check"}, code: 2, stderr: "--skip-index-check is for --protocol simplestreams"},
		{args: []string{"update", "web"}, code: 2, stderr: "nothing to update"},
		{args: []string{"update", "web", "--device", "d,type=none", "--remove-device", "d"}, code: 2, stderr: "both added and removed"},
		{args: []string{"update", "gone", "-c", "a=b"}, code: 1, stderr: "instance gone not found"},
		{args: []string{"wait", "web", "dhcp"}, code: 2, stderr: "use ip or cloud-init"},
		{args: []string{"cat", "web"}, code: 2, stderr: "expected NAME:PATH"},
		{args: []string{"cat", "web:etc"}, code: 2, stderr: "must be absolute"},
		{args: []string{"cat", "bad_name:/etc"}, code: 1, stderr: "invalid instance name"},
		{args: []string{"write", "web:/x", "--mode", "8"}, code: 2, stderr: "--mode: mode \"8\""},
		{args: []string{"push", "x"}, code: 2, stderr: "expected LOCAL... NAME:PATH"},
		{args: []string{"pull", "web:/x"}, code: 2, stderr: "expected NAME:PATH... LOCAL"},
		// exec: the command's streams and status, nothing added.
		{args: []string{"exec", "web", "--", "sh", "-c", "x"}, stdin: "data", code: 3,
			stdout: "out stdin=data\n", stderr: "err\n"},
		// a terminal on stdin is not passed without -t...
		{args: []string{"exec", "web", "--", "sh"}, stdin: "data", stdinTTY: true, code: 3, stdout: "stdin=<nil>"},
		// ...and is with -t.
		{args: []string{"exec", "-t", "web", "--", "sh"}, stdin: "data", stdinTTY: true, code: 3, stdout: "stdin=data"},
		{args: []string{"exec", "web", "--", "missing"}, code: 127, stdout: "-", stderr: "-"},
		{args: []string{"exec", "web"}, code: 2, stderr: "expected a container name and a command"},
		{args: []string{"exec", "web", "extra", "--", "sh"}, code: 2, stderr: "expected one container name before --"},
		{args: []string{"exec", "web", "-e", "X", "--", "sh"}, code: 2, stderr: "--env: \"X\""},
		// host management: usage errors before any daemon is asked.
		{args: []string{"profile", "show"}, code: 2, stdout: "-", stderr: "Run 'lxkit profile show --help' for usage."},
		{args: []string{"storage", "volume", "list"}, code: 2, stderr: "expected one storage pool"},
		{args: []string{"snapshot", "create", "web", "a", "b"}, code: 2, stderr: "at most one snapshot name"},
		{args: []string{"config", "set", "novalue"}, code: 2, stderr: "expected KEY=VALUE"},
		{args: []string{"network", "frob"}, code: 2, stderr: "expected a subcommand: list, show, create"},
		{args: []string{"profile", "show", "bad_host/p"}, code: 1, stderr: "Error: container path \"bad_host\": invalid instance name"},
		// flags that name something, given empty, are not their default.
		{args: []string{"--host", "", "status", "web"}, code: 2, stderr: "--host: empty: leave it out for the default remote"},
		{args: []string{"--project=", "status", "web"}, code: 2, stderr: "--project: empty"},
		{args: []string{"job", "run", "--name", "", "job.yaml"}, code: 2, stderr: "--name: empty"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, newFake(), tt.stdin, tt.stdinTTY, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d; want %d (stderr %q)", code, tt.code, stderr)
			}
			check := func(stream, got, want string) {
				if want == "-" {
					if got != "" {
						t.Errorf("%s = %q; want nothing", stream, got)
					}
					return
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s = %q; want it to contain %q", stream, got, want)
				}
			}
			check("stdout", stdout, tt.stdout)
			check("stderr", stderr, tt.stderr)
			if strings.Count(stderr, "Error:") > 1 {
				t.Errorf("stderr has more than one Error line: %q", stderr)
			}
		})
	}
}

func TestRunPassesOptions(t *testing.T) {
	d := newFake()
	code, _, stderr := run(t, d, "", false, "launch", "new", "--image", "testimage", "--profile", "default",
		"--profile", "extra", "-c", "user.a=1", "-c", "user.b=x=y", "--device", "data,type=disk,source=/s,path=/d", "--no-start")
	if code != 0 {
		t.Fatalf("launch: exit %d: %s", code, stderr)
	}
	want := driver.CreateOptions{
		Image:    driver.Image{Alias: "testimage"},
		Profiles: []string{"default", "extra"},
		Config:   map[string]string{"user.a": "1", "user.b": "x=y"},
		Devices:  map[string]map[string]string{"data": {"type": "disk", "source": "/s", "path": "/d"}},
		NoStart:  true,
	}
	if got := d.created["new"]; !reflect.DeepEqual(got, want) {
		t.Errorf("launch passed %+v; want %+v", got, want)
	}

	code, _, stderr = run(t, d, "", false, "launch", "srv", "--image", "busybox", "--server", "https://127.0.0.1:8999",
		"--protocol", "simplestreams", "--skip-index-check")
	if img := d.created["srv"].Image; code != 0 || !img.SkipIndexCheck || img.Server != "https://127.0.0.1:8999" || img.Alias != "busybox" {
		t.Errorf("launch --skip-index-check: exit %d, image %+v (%s)", code, img, stderr)
	}

	code, _, stderr = run(t, d, "", false, "launch", "other", "--image", "testimage")
	if code != 0 || d.created["other"].Profiles != nil {
		t.Errorf("launch without --profile: exit %d, profiles %v (%s); want nil profiles", code, d.created["other"].Profiles, stderr)
	}

	code, _, stderr = run(t, d, "", false, "update", "web", "-c", "user.a=", "-c", "user.b=2",
		"--device", "n,type=none", "--remove-device", "old", "--profile", "p1")
	if code != 0 {
		t.Fatalf("update: exit %d: %s", code, stderr)
	}
	wantU := driver.UpdateOptions{
		Config:   map[string]string{"user.a": "", "user.b": "2"},
		Devices:  map[string]map[string]string{"n": {"type": "none"}, "old": nil},
		Profiles: []string{"p1"},
	}
	if got := d.updated["web"]; !reflect.DeepEqual(got, wantU) {
		t.Errorf("update passed %+v; want %+v", got, wantU)
	}

	code, _, stderr = run(t, d, "", false, "stop", "web", "--timeout", "30", "--retry-interval", "2s", "--retry-count", "4")
	wantS := driver.StopOptions{Timeout: 30 * time.Second, RetryInterval: 2 * time.Second, RetryCount: 4}
	if code != 0 || d.stopped["web"] != wantS {
		t.Errorf("stop: exit %d (%s), passed %+v; want %+v", code, stderr, d.stopped["web"], wantS)
	}
	code, _, _ = run(t, d, "", false, "stop", "--force", "web")
	if code != 0 || d.stopped["web"] != (driver.StopOptions{Force: true}) {
		t.Errorf("stop --force passed %+v", d.stopped["web"])
	}
}

// TestFlagHelp reads every flag's help in the command tree: pflag adds
// "(default X)" itself, so a help text that says its default must keep
// pflag from saying it again, and a backquoted word in a help text names
// the flag's value, so it must be one word.
func TestFlagHelp(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(fl)
			if strings.ContainsAny(name, " \t") {
				t.Errorf("%s --%s: its value is named %q (a backquoted phrase in its help)", c.CommandPath(), fl.Name, name)
			}
		})
		for _, line := range strings.Split(c.LocalFlags().FlagUsages(), "\n") {
			if strings.Count(line, "(default") > 1 {
				t.Errorf("%s: %q says its default twice", c.CommandPath(), strings.TrimSpace(line))
			}
			// pflag v1.1.0 writes every boolean flag so, "--help[=true|false]":
			// go.mod keeps v1.0.10, whose help reads as lxc's does.
			if strings.Contains(line, "[=true|false]") {
				t.Errorf("%s: %q", c.CommandPath(), strings.TrimSpace(line))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(command.NewCmdRoot(cmdutil.NewFactory(ios)))
}
