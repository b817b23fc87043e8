// Package faults holds the tests in which a daemon or the network fails
// in the middle of lxkit's work: SIGKILL of the daemon, a cut HTTPS
// connection, a daemon that stops answering. They run against daemons of
// their own (scripts/fault-hosts.sh, run by make hosts), which they kill
// and start again the way make hosts starts daemons (scripts/daemon.sh),
// so that the test hosts the other tests use are never touched.
package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/testcmd"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

func TestMain(m *testing.M) { testcmd.Main(m) }

// daemon is one of the fault tests' daemons.
type daemon struct {
	Name  string // lxd or incus
	Dir   string // its state directory
	HTTPS string // where it listens for HTTPS
}

var daemons = []daemon{
	{Name: "lxd", Dir: "/var/lib/lxkit-faults/lxd", HTTPS: "127.0.0.1:8445"},
	{Name: "incus", Dir: "/var/lib/lxkit-faults/incus", HTTPS: "127.0.0.1:8446"},
}

func (d daemon) Socket() string { return filepath.Join(d.Dir, "unix.socket") }

// connect returns a client of the daemon; a daemon that is not there
// skips the test, and fails it under CI.
func (d daemon) connect(t testing.TB) *client.Client {
	t.Helper()
	testhost.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, d.Socket())
	if err != nil {
		testhost.Unavailable(t, "fault daemon %s not available: %v (make hosts starts it)", d.Name, err)
	}
	return c
}

// driver returns a driver of the daemon: "rest" or "cli".
func (d daemon) driver(t testing.TB, kind string) driver.Driver {
	t.Helper()
	c := d.connect(t)
	if kind == "rest" {
		return rest.New(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cd, err := cli.New(ctx, local.New(), cli.ForSocket(d.Socket()))
	if err != nil {
		t.Fatal(err)
	}
	return cd
}

// pid returns the PID of the process listening on the daemon's socket.
func (d daemon) pid(t testing.TB) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	inode := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path; St 01: listening.
		if len(f) == 8 && f[7] == d.Socket() && f[5] == "01" {
			inode = f[6]
		}
	}
	if inode == "" {
		t.Fatalf("nothing listens on %s", d.Socket())
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if link, err := os.Readlink(fd); err == nil && link == "socket:["+inode+"]" {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.HasPrefix(string(comm), map[string]string{"lxd": "lxd", "incus": "incusd"}[d.Name]) {
				return pid
			}
		}
	}
	t.Fatalf("no %s process holds %s", d.Name, d.Socket())
	return 0
}

// signal sends sig to the daemon and returns its PID.
func (d daemon) signal(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	pid := d.pid(t)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	return pid
}

// kill kills the daemon with SIGKILL and waits until it is gone.
func (d daemon) kill(t testing.TB) {
	t.Helper()
	pid := d.signal(t, syscall.SIGKILL)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return
		}
	}
	t.Fatalf("%s (pid %d) outlived SIGKILL by 30 s", d.Name, pid)
}

// start starts the daemon again, as make hosts does.
func (d daemon) start(t testing.TB) {
	t.Helper()
	out, err := exec.Command("bash", testhost.Script(t, "daemon.sh"), "start", d.Name, d.Dir).CombinedOutput()
	if err != nil {
		t.Fatalf("starting %s again: %v\n%s", d.Name, err, out)
	}
}

// resources counts this process's goroutines and open files, for leaks.
type resources struct {
	goroutines, fds int
	open            map[string]int // what the files are: a path, "socket", "pipe"...
}

func countResources() resources {
	fds, _ := os.ReadDir("/proc/self/fd")
	open := map[string]int{}
	for _, fd := range fds {
		link, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		kind, _, _ := strings.Cut(link, ":[") // socket:[123] -> socket
		open[kind]++
	}
	return resources{goroutines: runtime.NumGoroutine(), fds: len(fds), open: open}
}

// leak describes what was open then and now, and the goroutines.
func (now resources) leak(base resources) string {
	var stacks strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	return fmt.Sprintf("leak: %d goroutines and %d open files, %d and %d before; open now %v, before %v\n%s",
		now.goroutines, now.fds, base.goroutines, base.fds, now.open, base.open, stacks.String())
}

// settles waits up to 10 s for the counts to come back to at most base's
// (plus slack for the test's own helpers), and returns the last counts.
// It collects garbage first: Go keeps the pipes of its splice(2) copies
// (a socket to a file) in a sync.Pool, closed only when collected.
func settles(base resources, slack int) (resources, bool) {
	var now resources
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		runtime.GC()
		now = countResources()
		if now.goroutines <= base.goroutines+slack && now.fds <= base.fds+slack {
			return now, true
		}
	}
	return now, false
}

// TestDaemonPidsOfItsKind checks that daemon.sh takes for a daemon of a
// state directory only a process of that kind: when it took the system's
// LXD (no INCUS_DIR either) for the system's Incus, make hosts refused to
// start Incus. The "daemons" here are sleep(1) under the daemons' names.
func TestDaemonPidsOfItsKind(t *testing.T) {
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	fake := func(comm string) int {
		path := filepath.Join(dir, comm)
		if err := os.Symlink(sleep, path); err != nil {
			t.Fatal(err)
		}
		// comm is the file's name; the command line reads "COMM --group x 600".
		cmd := &exec.Cmd{Path: path, Args: []string{comm + " --group x", "600"},
			Env: []string{"LXD_DIR=" + dir, "INCUS_DIR=" + dir}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd.Process.Pid
	}
	pids := map[string]int{"lxd": fake("lxd"), "incus": fake("incusd")}
	for name, want := range pids {
		out, err := exec.Command("bash", testhost.Script(t, "daemon.sh"), "pids", name, dir).CombinedOutput()
		if err != nil {
			t.Fatalf("daemon.sh pids %s: %v\n%s", name, err, out)
		}
		if got := strings.Fields(string(out)); len(got) != 1 || got[0] != strconv.Itoa(want) {
			t.Errorf("daemon.sh pids %s %s = %q, want only %d (lxd %d, incusd %d)", name, dir, got, want, pids["lxd"], pids["incus"])
		}
	}
}
