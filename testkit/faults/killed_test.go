package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/dirsnap"
	"github.com/lxkit/lxkit/testkit/testcmd"
	"github.com/lxkit/lxkit/testkit/testdrivers"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// deadline is how soon after the kill every call must have ended.
const deadline = 30 * time.Second

// TestDaemonKilled kills each fault daemon with SIGKILL while lxkit is in
// the middle of: a streamed exec printing (for minutes), a 1 GiB push, a 1 GiB
// pull, a pull of a folder of 2,000 files, an apply of a 6-instance fleet
// (--parallel 3), a job and a monitor, all at once, through the REST
// driver and then the CLI driver. Each must end within 30 s with an error
// that says the connection to the daemon was lost; no download may leave a
// file or folder that looks complete; once the daemon is started again the
// next call works, the same apply converges and job reap removes the
// job's container; the library leaks no goroutine or open file.
func TestDaemonKilled(t *testing.T) {
	for _, d := range daemons {
		t.Run(d.Name, func(t *testing.T) {
			src := newSource(t, d)
			for _, drv := range []string{"rest", "cli"} {
				// One round at a time: the leak check counts the whole
				// process.
				t.Run(drv, func(t *testing.T) { killRound(t, d, drv, src) })
			}
		})
	}
}

// source is a container to pull from: a 1 GiB file (sparse) and a folder
// of 2,000 files of 64 KiB (enough for the daemon to die in its middle).
// It runs on through the daemon's deaths.
type source struct {
	name string
}

func newSource(t *testing.T, d daemon) source {
	ctx := testhost.Context(t, 3*time.Minute)
	setup := d.driver(t, "rest")
	name := testhost.Name("src")
	t.Cleanup(func() { _ = setup.Delete(context.Background(), name) })
	if err := setup.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Run(ctx, setup.Transport(name), "sh", "-c", `truncate -s 1G /root/big && mkdir /root/tree && cd /root/tree &&
head -c 65536 /dev/zero > f0 && i=1 && while [ $i -lt 2000 ]; do cp f0 f$i; i=$((i+1)); done`); err != nil {
		t.Fatal(err)
	}
	return source{name: name}
}

func killRound(t *testing.T, d daemon, drv string, src source) {
	ctx := testhost.Context(t, 5*time.Minute)
	dr := d.driver(t, drv)
	setup := d.driver(t, "rest")
	prefix := testhost.Name("k" + drv[:1])
	work := t.TempDir()
	conf := t.TempDir()
	lxkit := func(ctx context.Context, out io.Writer, args ...string) testcmd.Result {
		return testcmd.Run(ctx, testcmd.Options{Conf: conf, Limit: 3 * time.Minute, Stdout: out},
			append([]string{"--host", d.Socket(), "--driver", drv}, args...)...)
	}

	// A local 1 GiB file to push, a fleet of 6 and a job.
	name := src.name
	t.Cleanup(func() { cleanup(t, setup, prefix) })
	bigLocal := sparseFile(t, work, 1<<30)
	fleet := "fleet: " + prefix + "\ninstances:\n"
	for i := range 6 {
		fleet += fmt.Sprintf("  %s-f%d: inst.yaml\n", prefix, i)
	}
	write(t, work, "fleet.yaml", fleet)
	write(t, work, "inst.yaml", "image: "+testhost.Image+"\n")
	job := strings.TrimPrefix(prefix, "lxkit-") + "-job"
	write(t, work, "job.yaml", "name: "+job+"\nimage: "+testhost.Image+"\nsteps:\n  - echo started; sleep 300\n")
	pulled, pulledDir := mkdir(t, work, "pulled"), mkdir(t, work, "pulled-dir")

	base := countResources()
	round := newOps(t, ctx)
	start := round.start
	// Signs that each operation is in its middle.
	var execLines, pushed atomic.Int64
	jobStarted, monitorSaw := newSignal(), newSignal()

	tr := dr.Transport(name)
	// First what runs for long: the exec, the events, the job, the
	// monitor; then the apply, whose instances come quickly; then the
	// transfers, each a few seconds long; the kill comes as soon as each
	// is under way.
	start("library exec", func(ctx context.Context) error { return printing(ctx, tr, &execLines) })
	start("library events", func(ctx context.Context) error {
		return host.New(dr.API()).Events(ctx, api.EventOptions{}, func(api.Event) error { return nil })
	})
	start("lxkit job run", func(ctx context.Context) error {
		return command(lxkit(ctx, jobStarted.on("started"), "job", "run", filepath.Join(work, "job.yaml")))
	})
	start("lxkit monitor", func(ctx context.Context) error {
		return command(lxkit(ctx, monitorSaw.on(""), "monitor"))
	})
	round.underWay(t, map[string]func() bool{
		"exec output":      func() bool { return execLines.Load() > 0 },
		"job step running": jobStarted.seen,
		"event monitored":  monitorSaw.seen,
	})
	start("lxkit apply", func(ctx context.Context) error {
		return command(lxkit(ctx, nil, "apply", filepath.Join(work, "fleet.yaml"), "--parallel", "3"))
	})
	round.underWay(t, map[string]func() bool{
		"fleet instance": func() bool { return len(testdrivers.Named(t, setup, prefix+"-f")) > 0 },
	})
	start("library push", func(ctx context.Context) error { return pushFile(ctx, tr, bigLocal, &pushed) })
	start("lxkit pull", func(ctx context.Context) error {
		return command(lxkit(ctx, nil, "pull", name+":/root/big", pulled+"/"))
	})
	start("lxkit pull -r", func(ctx context.Context) error {
		return command(lxkit(ctx, nil, "pull", "-r", name+":/root/tree", pulledDir))
	})
	round.underWay(t, map[string]func() bool{
		"bytes pushed":   func() bool { return pushed.Load() > 0 },
		"partial pull":   func() bool { return partial(pulled) },
		"partial folder": func() bool { return partial(pulledDir) },
	})

	d.kill(t)
	round.ended(t, time.Now(), deadline, lostConnection, "says the connection to the daemon was lost")
	if t.Failed() {
		d.start(t)
		return
	}

	// Nothing that looks complete was left by the downloads.
	for _, dir := range []string{pulled, pulledDir} {
		if names := dirsnap.Names(t, dir); len(names) > 0 {
			t.Errorf("%s holds %v after a download cut short", dir, names)
		}
	}

	d.start(t)
	// The library let go of what it held.
	if now, ok := settles(base, 2); !ok {
		t.Error(now.leak(base))
	}
	// The next call works with no manual step.
	if r := lxkit(ctx, nil, "list"); r.Code != 0 {
		t.Fatalf("list after the restart: %v", command(r))
	}
	// The same apply converges: the fleet's 6 instances, running, once.
	if r := lxkit(ctx, nil, "apply", filepath.Join(work, "fleet.yaml"), "--parallel", "3"); r.Code != 0 {
		t.Fatalf("apply after the restart: %v\n%s", command(r), r.Stdout)
	}
	got := testdrivers.Named(t, setup, prefix+"-f")
	if len(got) != 6 {
		t.Errorf("after apply again: %v; want the fleet's 6 instances", got)
	}
	for _, n := range got {
		if st, err := setup.Status(ctx, n); err != nil || st != driver.StatusRunning {
			t.Errorf("%s: %s, %v; want running", n, st, err)
		}
	}
	// job reap removes the job's container: its runner has ended.
	if r := lxkit(ctx, nil, "job", "reap", "--job", job); r.Code != 0 {
		t.Fatalf("job reap: %v", command(r))
	}
	if left, err := buildhost.Containers(ctx, setup); err != nil {
		t.Fatal(err)
	} else {
		for _, c := range left {
			if c.Job == job {
				t.Errorf("job reap left %s", c.Name)
			}
		}
	}
}

// lostConnection reports an error that says the connection to the daemon
// was lost.
func lostConnection(err error) bool {
	msg := err.Error()
	return (errors.Is(err, errdefs.ErrUnavailable) || strings.HasPrefix(msg, "exit ")) &&
		strings.Contains(msg, "connection to the daemon lost")
}

// partial reports whether a download is in its middle in dir: a partial
// file or folder beside its destination, with bytes or files in it.
func partial(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, ".*.part"))
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Size() > 0 {
			return true
		}
		if des, _ := os.ReadDir(name); fi.IsDir() && len(des) > 0 {
			return true
		}
	}
	return false
}

// cleanup deletes the round's instances and job containers.
func cleanup(t *testing.T, d driver.Driver, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all, err := d.List(ctx)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	job := strings.TrimPrefix(prefix, "lxkit-") + "-job"
	for _, i := range all {
		if strings.HasPrefix(i.Name, prefix) || i.Config[buildhost.KeyJob] == job {
			if err := d.Delete(ctx, i.Name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// countingFile counts the bytes read from a file, and keeps its Stat (a
// transport sends files of known size their own way).
type countingFile struct {
	f *os.File
	n *atomic.Int64
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingFile) Stat() (os.FileInfo, error) { return c.f.Stat() }

// signal is set once output holding a word has come.
type signal struct {
	mu  sync.Mutex
	buf []byte
	set atomic.Bool
}

func newSignal() *signal { return &signal{} }

func (s *signal) seen() bool { return s.set.Load() }

// on returns a writer that sets s once word (any output, if empty) came.
func (s *signal) on(word string) io.Writer {
	return writerFunc(func(p []byte) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.buf = append(s.buf, p...)
		if strings.Contains(string(s.buf), word) {
			s.set.Store(true)
		}
	})
}
