package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/dirsnap"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// answerWithin bounds each command's answer to a bad name: a hang or
// work without bound fails, while the CLI driver's several lxc calls on
// a machine busy with other tests still fit (the slowest is logged).
const answerWithin = 10 * time.Second

// badName is a hostile name for an object, by what makes it hostile.
type badName struct{ label, value string }

// badNames are the names of issue 11: empty, longer than allowed (long
// bytes), "/", "..", a leading "-", Unicode, shell metacharacters and a
// NUL byte. All but the empty one and ".." carry own, so that anything
// made by mistake is the test's to find and delete.
func badNames(own string, long int) []badName {
	return []badName{
		{"empty", ""},
		{"long", own + strings.Repeat("x", max(long-len(own), 1))},
		{"slash", own + "/x"},
		{"dotdot", ".."},
		{"dash", "-" + own},
		{"unicode", own + "-ünï"},
		{"semicolon", own + ";rm -rf /"},
		{"dollar", own + "$(id)"},
		{"backquote", own + "`id`"},
		{"quotes", own + `'q"`},
		{"pipe", own + "|x"},
		{"amp", own + "&x"},
		{"star", own + "*"},
		{"nul", own + "\x00x"},
	}
}

// nameKind is a kind of object and the commands that take its name.
type nameKind struct {
	name string
	// words name the kind in messages: one of them, or the name, must be
	// in the error.
	words []string
	// long is the length that is too long for the kind.
	long int
	// commands are the command lines for a name; converge marks those
	// for which success is correct too (deleting what is missing).
	commands func(n string) [][]string
	converge map[string]bool
	// only limits the bad names tried (nil: all of them).
	only map[string]bool
	// control is a command line with a good name that must succeed: the
	// harness can tell success from failure.
	control []string
}

// fixtures are the objects the commands act on, made before the first
// state is taken: a stopped container with a snapshot s0, a profile, a
// project, a volume of pool default, and a remote in lxkit's own
// configuration.
type fixtures struct {
	own                                 string
	container, profile, project, volume string
	remote, remotesDir, jobFile         string
	socket                              string
}

func nameKinds(fx fixtures) []nameKind {
	img := testhost.Image
	return []nameKind{
		{
			name: "instance", words: []string{"instance", "container"}, long: 64,
			commands: func(n string) [][]string {
				return [][]string{
					{"launch", "--image", img, "--no-start", "--", n},
					{"update", "-c", "user.a=b", "--", n},
					{"start", "--", n}, {"stop", "--", n}, {"status", "--", n}, {"show", "--", n},
					{"exec", n, "--", "true"},
					{"cat", n + ":/etc/hostname"},
					{"delete", "--", n},
				}
			},
			control: []string{"status", fx.container},
		},
		{
			name: "profile", words: []string{"profile"}, long: 300,
			commands: func(n string) [][]string {
				return [][]string{
					{"profile", "create", "--", n},
					{"profile", "show", "--", n},
					{"profile", "set", "--", n, "user.a=b"},
					{"profile", "rename", "--", fx.profile, n},
					{"profile", "device", "add", "--", n, "d", "none"},
					// A container of a good name must not be made with it.
					{"launch", "--image", img, "--no-start", "--profile", n, "--", fx.own + "-l"},
					{"profile", "delete", "--", n},
				}
			},
			converge: map[string]bool{"profile delete": true},
			control:  []string{"profile", "show", fx.profile},
		},
		{
			name: "project", words: []string{"project"}, long: 300,
			commands: func(n string) [][]string {
				return [][]string{
					{"project", "create", "--", n},
					{"project", "show", "--", n},
					{"project", "set", "--", n, "user.a=b"},
					{"project", "rename", "--", fx.project, n},
					{"--project", n, "list"},
					{"project", "delete", "--", n},
				}
			},
			converge: map[string]bool{"project delete": true},
			control:  []string{"--project", fx.project, "list"},
		},
		{
			name: "volume", words: []string{"volume", "storage pool"}, long: 300,
			commands: func(n string) [][]string {
				return [][]string{
					{"storage", "volume", "create", "--", "default", n},
					{"storage", "volume", "show", "--", "default", n},
					{"storage", "volume", "set", "--", "default", n, "user.a=b"},
					{"storage", "volume", "rename", "--", "default", fx.volume, n},
					// The name as a pool's.
					{"storage", "create", "--", n, "dir"},
					{"storage", "volume", "create", "--", n, fx.own + "-w"},
					{"storage", "volume", "list", "--", n},
					{"storage", "volume", "delete", "--", "default", n},
				}
			},
			converge: map[string]bool{"storage volume delete": true},
			control:  []string{"storage", "volume", "show", "default", fx.volume},
		},
		{
			// Only names refused before anything is made: a bridge that
			// comes and goes disturbs Incus 6.0 (see host_network.txtar).
			name: "network", words: []string{"network"}, long: 16,
			commands: func(n string) [][]string {
				return [][]string{
					{"network", "create", "--", n, "ipv4.address=none", "ipv6.address=none"},
					{"network", "show", "--", n},
					{"network", "set", "--", n, "user.a=b"},
					{"network", "rename", "--", "lxknone0", n},
					{"network", "delete", "--", n},
				}
			},
			converge: map[string]bool{"network delete": true},
			control:  []string{"network", "list"},
		},
		{
			name: "snapshot", words: []string{"snapshot", "instance", "container"}, long: 300,
			commands: func(n string) [][]string {
				return [][]string{
					{"snapshot", "create", "--", fx.container, n},
					{"snapshot", "show", "--", fx.container, n},
					{"snapshot", "rename", "--", fx.container, "s0", n},
					{"snapshot", "restore", "--", fx.container, n},
					// The name as the container's.
					{"snapshot", "create", "--", n, "s1"},
					{"snapshot", "list", "--", n},
					{"snapshot", "delete", "--", fx.container, n},
				}
			},
			converge: map[string]bool{"snapshot delete": true},
			control:  []string{"snapshot", "show", fx.container, "s0"},
		},
		{
			name: "remote", words: []string{"remote"}, long: 65,
			commands: func(n string) [][]string {
				return [][]string{
					{"remote", "add", "--", n, "unix://" + fx.socket},
					{"remote", "rename", "--", fx.remote, n},
					{"remote", "switch", "--", n},
					{"remote", "remove", "--", n},
					{"--host", n, "list", fx.own},
				}
			},
			control: []string{"--host", fx.remote, "list", fx.own},
		},
		{
			// A job's container name (--name); a job's own name is a
			// label, tested by TestJobLabel.
			name: "job", words: []string{"instance", "--name"}, long: 64,
			commands: func(n string) [][]string {
				return [][]string{{"job", "run", "--name", n, "--", fx.jobFile}}
			},
			control: []string{"job", "list"},
		},
		{
			// The names a job file's name: may not have.
			name: "job-file", words: []string{"job name"}, long: buildhost.MaxNameLen + 1,
			only: map[string]bool{"long": true, "nul": true},
			commands: func(n string) [][]string {
				q, _ := json.Marshal(n)
				file := filepath.Join(filepath.Dir(fx.jobFile), "named.yaml")
				if err := os.WriteFile(file, []byte("name: "+string(q)+"\nimage: "+img+"\nsteps: [\"true\"]\n"), 0o644); err != nil {
					panic(err)
				}
				return [][]string{{"job", "run", "--", file}}
			},
			control: []string{"job", "list"},
		},
	}
}

// TestHostileNames gives every kind of object bad names through the
// lxkit command, on each daemon through each driver: each command must
// fail (or, for a delete, converge) with one clear error line within
// answerWithin, without a panic, and leave the host's state (and lxkit's
// remotes) as it was.
func TestHostileNames(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the LXD and Incus daemons")
	}
	t.Parallel() // beside TestScripts: each leaves the other's objects alone
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		fx := makeFixtures(t, c)
		keep := testhost.NotOthers(fx.own)
		state := testhost.TakeState(t, c, keep)
		var slowest time.Duration
		var slowestRun string
		cases := 0
		for _, drv := range []string{"rest", "cli"} {
			t.Run(drv, func(t *testing.T) {
				for _, k := range nameKinds(fx) {
					args := append([]string{"--host", fx.socket, "--driver", drv}, k.control...)
					if res := runLxkit(fx, args...); res.code != 0 {
						t.Fatalf("control %q: exit %d: %s", strings.Join(k.control, " "), res.code, res.stderr)
					}
					for _, bad := range badNames(fx.own, k.long) {
						if k.only != nil && !k.only[bad.label] {
							continue
						}
						cases++
						t.Run(k.name+"/"+bad.label, func(t *testing.T) {
							remotesBefore := dirsnap.Must(t, fx.remotesDir)
							for _, line := range k.commands(bad.value) {
								args := append([]string{"--host", fx.socket, "--driver", drv}, line...)
								res := runLxkit(fx, args...)
								if res.took > slowest {
									slowest, slowestRun = res.took, strings.Join(args, " ")
								}
								checkRefused(t, k, bad, line, res)
							}
							after := testhost.TakeState(t, c, keep)
							if diff := state.Diff(after); diff != nil {
								t.Errorf("the host's state changed:\n%s", strings.Join(diff, "\n"))
							}
							state = after
							if diff := dirsnap.Diff(remotesBefore, dirsnap.Must(t, fx.remotesDir)); diff != nil {
								t.Errorf("lxkit's remotes changed:\n%s", strings.Join(diff, "\n"))
							}
						})
					}
				}
			})
		}
		t.Logf("figure: %d kind x name cases per driver, slowest answer %v (%q)", cases/2, slowest, slowestRun)
	})
}

// result is what one lxkit run did.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
	panicked       any
}

// runLxkit runs the lxkit command in this process, with lxkit's remotes
// in fx.remotesDir and no lxc or incus remotes.
func runLxkit(fx fixtures, args ...string) (res result) {
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.NewFactory(ios)
	f.Remotes = func() (*remotes.Store, error) { return remotes.OpenDir(fx.remotesDir, "", "") }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	defer func() {
		res.took = time.Since(start)
		res.stdout, res.stderr = out.String(), errOut.String()
		if r := recover(); r != nil {
			res.panicked, res.code = r, -1
		}
	}()
	res.code = command.Run(ctx, f, args)
	return res
}

// checkRefused checks one command's answer to a bad name.
func checkRefused(t *testing.T, k nameKind, bad badName, line []string, res result) {
	t.Helper()
	what := strings.Join(line, " ")
	if res.panicked != nil {
		t.Errorf("%q: panic: %v", what, res.panicked)
		return
	}
	if res.took > answerWithin {
		t.Errorf("%q: answered in %v; want under %v", what, res.took, answerWithin)
	}
	if res.code == 0 {
		if verb, _, _ := strings.Cut(what, " --"); !k.converge[verb] {
			t.Errorf("%q: succeeded (%s%s); want an error", what, res.stdout, res.stderr)
		}
		return
	}
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if line[0] == "exec" {
		// What comes before lxkit's error is the command's stderr: lxc
		// exec prints its own error there too.
		for i := len(lines) - 1; i > 0; i-- {
			if strings.HasPrefix(lines[i], "Error: ") {
				lines = lines[i:]
				break
			}
		}
	}
	if !strings.HasPrefix(lines[0], "Error: ") || len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "Run 'lxkit")) {
		t.Errorf("%q: exit %d with stderr %q; want one Error line", what, res.code, res.stderr)
		return
	}
	msg := strings.ToLower(lines[0])
	words := k.words
	if strings.Contains(bad.value, "/") {
		words = append(words, "container", "instance") // the part before the slash names one
	}
	named := bad.value != "" && (strings.Contains(lines[0], bad.value) || strings.Contains(lines[0], strings.Trim(strconv.Quote(bad.value), `"`)))
	for _, w := range words {
		named = named || strings.Contains(msg, w)
	}
	if !named {
		t.Errorf("%q: %q names neither the %s nor %q", what, lines[0], k.name, bad.value)
	}
}

// makeFixtures makes the objects the commands act on, and deletes
// everything named after them when the test ends.
func makeFixtures(t *testing.T, c *client.Client) fixtures {
	t.Helper()
	own := testhost.Name("names")
	dir := t.TempDir()
	fx := fixtures{
		own: own, container: own + "-c", profile: own + "-p", project: own + "-j", volume: own + "-v",
		remote: own + "-r", remotesDir: filepath.Join(dir, "lxkit"), jobFile: filepath.Join(dir, "job.yaml"),
		socket: c.Addr(),
	}
	t.Cleanup(func() {
		deleteAll(t, c, own)
		deleteHostObjects(t, c, own, own)
	})
	ctx := testhost.Context(t, 2*time.Minute)
	d := rest.New(c)
	hh := host.New(d.API())
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture %s: %v", what, err)
		}
	}
	must("container", d.Create(ctx, fx.container, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, NoStart: true}))
	must("snapshot", hh.Snapshots(fx.container).Create(ctx, api.InstanceSnapshotsPost{Name: "s0"}))
	must("profile", hh.Profiles().Create(ctx, api.ProfilesPost{Name: fx.profile}))
	must("project", hh.Projects().Create(ctx, api.ProjectsPost{Name: fx.project}))
	must("volume", hh.Volumes("default").Create(ctx, api.StorageVolumesPost{Name: fx.volume}))
	store, err := remotes.OpenDir(fx.remotesDir, "", "")
	must("remotes", err)
	must("remote", store.Add(remotes.Remote{Name: fx.remote, Addr: "unix://" + fx.socket}, nil))
	must("job file", os.WriteFile(fx.jobFile, []byte("image: "+testhost.Image+"\nsteps: [\"true\"]\n"), 0o644))
	return fx
}

// TestJobLabel runs a job whose name is made of every kind of bad
// character a job's name may have (it is a label: the container's name
// is made of its letters and digits), on each daemon through each
// driver: the label arrives as written, nothing reaches a shell, and the
// host is as it was once the job's container is gone.
func TestJobLabel(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the LXD and Incus daemons")
	}
	const label = "-lxkit-names ../x/ $(id);rm -rf / `id` 'q\" |&* ünï"
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		fx := makeFixtures(t, c)
		q, _ := json.Marshal(label)
		file := filepath.Join(filepath.Dir(fx.jobFile), "label.yaml")
		if err := os.WriteFile(file, []byte("name: "+string(q)+"\nimage: "+testhost.Image+"\nsteps:\n  - echo \"[$LXKIT_JOB]\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		keep := testhost.NotOthers(fx.own)
		before := testhost.TakeState(t, c, keep)
		for _, drv := range []string{"rest", "cli"} {
			t.Run(drv, func(t *testing.T) {
				name := fx.own + "-job-" + drv
				res := runLxkit(fx, "--host", fx.socket, "--driver", drv, "job", "run", "--keep", "always", "--name", name, "--", file)
				if res.code != 0 || res.panicked != nil {
					t.Fatalf("job run: exit %d, panic %v: %s", res.code, res.panicked, res.stderr)
				}
				if !strings.Contains(res.stdout, "["+label+"]") {
					t.Errorf("the job's output does not show its name as written: %q", res.stdout)
				}
				var inst api.Instance
				ctx := testhost.Context(t, time.Minute)
				if _, err := c.Query(ctx, http.MethodGet, "/1.0/instances/"+url.PathEscape(name), nil, &inst); err != nil {
					t.Fatal(err)
				}
				if got := inst.Config[buildhost.KeyJob]; got != label {
					t.Errorf("%s = %q; want %q", buildhost.KeyJob, got, label)
				}
				if err := rest.New(c).Delete(ctx, name); err != nil {
					t.Fatal(err)
				}
			})
		}
		testhost.Unchanged(t, c, keep, before, fmt.Sprintf("a job named %q", label))
	})
}
