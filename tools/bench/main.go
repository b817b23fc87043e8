// Command bench compares lxkit with the daemons' own CLIs (lxc, incus) side
// by side in one run, on the same containers, and prints a Markdown report
// with ratios. `make bench` runs it and writes BENCHMARKS.md.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
)

var (
	lxkitBin   = flag.String("lxkit", "bin/lxkit", "the lxkit binary")
	runs       = flag.Int("runs", 20, "repetitions of the latency measurements")
	bigSize    = flag.Int64("big", 1<<30, "size of the large-file test in bytes (0 skips it)")
	withNested = flag.Bool("nested", true, "also benchmark nested containers (LXD, needs `make nested-image`)")
	hosts      = flag.String("hosts", "lxd=/var/lib/lxd/unix.socket=lxc,incus=/var/lib/incus/unix.socket=incus", "name=socket=cli,...")
)

type row struct {
	what, lxkit, base, ratio, goal, met string
}

func main() {
	flag.Parse()
	ctx := context.Background()
	// Both ends work in memory (tmpfs here and in the container), so that
	// the numbers compare the tools, not this machine's noisy disk.
	work, err := os.MkdirTemp(shm(), "lxkit-bench-")
	check(err)
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "tree")
	makeTree(tree, 2000, 12<<20)
	var big string
	if *bigSize > 0 {
		big = filepath.Join(work, "big")
		makeBig(big, *bigSize)
	}

	for _, spec := range strings.Split(*hosts, ",") {
		f := strings.Split(spec, "=")
		name, socket, cli := f[0], f[1], f[2]
		c, err := client.New(ctx, socket)
		if err != nil {
			fmt.Printf("## %s\n\nnot available: %v\n\n", name, err)
			continue
		}
		if *onlyClusters {
			printCluster(c, socket, cli)
			continue
		}
		d := rest.New(c)
		ct := fmt.Sprintf("lxkit-bench-%d", os.Getpid())
		check(d.Create(ctx, ct, driver.CreateOptions{Image: driver.Image{Alias: "testimage"}}))
		atExit = func() { _ = d.Delete(context.Background(), ct); os.RemoveAll(work) }
		if *onlyScale {
			printRows(fmt.Sprintf("## Scale: %s %s (baseline: `%s`)", c.Kind(), c.Server().Environment.ServerVersion, cli), benchScale(ctx, d, ct, socket, cli))
			_ = d.Delete(ctx, ct)
			continue
		}
		rows := part(name+" exec and transfers", func() []row { return benchHost(ctx, d, ct, socket, cli, tree, big, work) })
		rows = append(rows, part(name+" management", func() []row { return benchManage(ctx, d, ct, socket, cli) })...)
		rows = append(rows, part(name+" HTTPS", func() []row { return benchHTTPS(ctx, c, ct, cli) })...)
		rows = append(rows, part(name+" job", func() []row { return benchJob(ctx, d, socket, cli, work) })...)
		var scale []row
		if *withScale {
			scale = part(name+" scale", func() []row { return benchScale(ctx, d, ct, socket, cli) })
		}
		_ = d.Delete(ctx, ct)
		printRows(fmt.Sprintf("## %s %s (baseline: `%s`)", c.Kind(), c.Server().Environment.ServerVersion, cli), rows)
		if *withScale {
			printRows(fmt.Sprintf("## Scale: %s %s, running busybox containers (baseline: `%s`)", c.Kind(), c.Server().Environment.ServerVersion, cli), scale)
		}
		if *withClusters {
			printCluster(c, socket, cli)
		}
		if *withNested && c.Kind() == "lxd" {
			printRows(fmt.Sprintf("## Nesting: %s %s, host -> outer -> middle -> inner (baseline: hand-typed `lxc exec` chain; `lxc file push -r` run in outer; the REST driver)", c.Kind(), c.Server().Environment.ServerVersion),
				part("nesting", func() []row { return benchNested(ctx, c, socket, tree) }))
		}
	}
	printParts()
}

// printCluster prints the rows of the cluster of c's kind.
func printCluster(c *client.Client, socket, cli string) {
	rows := part(c.Kind()+" cluster", func() []row { return benchCluster(c.Kind()+"-cluster", socket, cli) })
	printRows(fmt.Sprintf("## Cluster: %s %s, 3 members on this machine (make cluster; remote %s-cluster; baseline: `%s`)",
		c.Kind(), c.Server().Environment.ServerVersion, c.Kind(), cli), rows)
}

// part runs one part of the bench and says on stderr how long it took.
func part(name string, f func() []row) []row {
	logf("%s: begins", name)
	t, t0 := time.Now(), timedTotal.Load()
	rows := f()
	p := partTime{name, time.Since(t), time.Duration(timedTotal.Load() - t0)}
	parts = append(parts, p)
	logf("%s: took %s, %s of it in timed runs", name, p.wall.Round(time.Second), p.timed.Round(time.Second))
	return rows
}

// partTime is how long a part took, and how much of it went to timed runs
// of lxkit and of the baselines (the rest: making and deleting the
// containers measured on, warm-ups and pauses).
type partTime struct {
	name        string
	wall, timed time.Duration
}

var parts []partTime

// printParts prints where the run's time went.
func printParts() {
	fmt.Println("## Where this run's time went")
	fmt.Println()
	fmt.Println("Timed runs: lxkit's and the baselines' measured calls and commands; the rest is making, starting and deleting what")
	fmt.Println("they run on, warm-ups, and the pauses before each run.")
	fmt.Println()
	fmt.Println("| part | wall | timed runs | the rest |")
	fmt.Println("|---|---|---|---|")
	var wall, tm time.Duration
	for _, p := range parts {
		fmt.Printf("| %s | %s | %s | %s |\n", p.name, p.wall.Round(time.Second), p.timed.Round(time.Second), (p.wall - p.timed).Round(time.Second))
		wall, tm = wall+p.wall, tm+p.timed
	}
	fmt.Printf("| all of the above | %s | %s | %s |\n\n", wall.Round(time.Second), tm.Round(time.Second), (wall - tm).Round(time.Second))
}

func printRows(title string, rows []row) {
	fmt.Printf("%s\n\n", title)
	fmt.Println("| operation | lxkit | baseline | lxkit / baseline | goal | met |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.what, r.lxkit, r.base, r.ratio, r.goal, r.met)
	}
	fmt.Println()
}

func benchHost(ctx context.Context, d *rest.Driver, ct, socket, cli, tree, big, work string) []row {
	tr := d.Transport(ct)
	env := cliEnv(cli, socket)
	shell(env, cli+" exec "+ct+" -- sh -c 'mkdir -p /mnt && mount -t tmpfs -o size=6g tmpfs /mnt'")
	var rows []row

	// Exec round trip.
	m := medians(*runs,
		func() { mustRun(tr.Exec(ctx, transport.Command{Args: []string{"true"}})) },
		func() { shell(env, cli+" exec "+ct+" -- true") },
		func() { shell(env, *lxkitBin+" --host "+socket+" exec "+ct+" -- true") },
		// The least an exec through the API can be: POST and wait, with
		// no websockets and no recorded output (what no caller of Exec
		// gets, since it loses the output).
		func() { check(bareExec(ctx, d, ct)) },
		// The least program making the library call: what any process
		// pays on top of the call, lxkit's command or not.
		func() { shell(env, execFloor()+" "+socket+" "+ct+" true") })
	lib, base, cmd, floor, least := m[0], m[1], m[2], m[3], m[4]
	// The same calls back to back, as a job running steps makes them: this
	// VM's idle vCPUs are slow to wake, which costs a call made after a
	// pause about 15 ms more (the daemon's part of it; the CLI's own start
	// keeps the CPUs awake).
	burst := func(f func()) time.Duration {
		ds := make([]time.Duration, *runs)
		for i := range ds {
			ds[i] = timeIt(f)
		}
		return mid(ds)
	}
	libBurst := burst(func() { mustRun(tr.Exec(ctx, transport.Command{Args: []string{"true"}})) })
	baseBurst := burst(func() { shell(env, cli+" exec "+ct+" -- true") })
	rows = append(rows,
		compare("exec `true` (library call)", lib, base, "<= 0.5", lib <= base/2),
		compare("exec `true` (library call, calls back to back)", libBurst, baseBurst, "<= 0.5", libBurst <= baseBurst/2),
		compare("exec `true`: the API's floor (POST and wait only, no streams)", floor, base, "report", true),
		compare("exec `true` (`lxkit exec` command)", cmd, base, "<= 1.0", cmd <= base),
		compare("exec `true`: the library call against the API's floor", lib, floor, "<= 1.15", float64(lib) <= 1.15*float64(floor)),
		compare("exec `true`: the `lxkit exec` command against the library call", cmd, lib, "<= 1.15", float64(cmd) <= 1.15*float64(lib)),
		compare("exec `true`: the least program making the library call (tools/bench/execfloor) against the library call", least, lib, "report", true),
		compare("exec `true`: the `lxkit exec` command against that least program", cmd, least, "<= 1.15", float64(cmd) <= 1.15*float64(least)))

	// Folder of 2,000 files, both ways. lxkit and the tar pipe alternate,
	// three runs each (median), after a sync so that neither pays for the
	// other's dirty pages; the CLI's slow per-file copy runs once.
	var up, pipeUp, down, pipeDown []time.Duration
	for i := range 3 {
		dir := fmt.Sprintf("/mnt/f%d", i)
		check(mkdirIn(ctx, tr, dir+"/lxkit"))
		check(mkdirIn(ctx, tr, dir+"/pipe"))
		up = append(up, timeSynced(func() { check(transport.UploadFolder(ctx, tr, tree, dir+"/lxkit")) }))
		pipeUp = append(pipeUp, timeSynced(func() {
			shell(env, "tar -C "+filepath.Dir(tree)+" -cf - tree | "+cli+" exec "+ct+" -- tar -xf - -C "+dir+"/pipe")
		}))
		local := filepath.Join(work, fmt.Sprintf("down%d", i))
		check(os.MkdirAll(local+"/lxkit", 0o755))
		check(os.MkdirAll(local+"/pipe", 0o755))
		down = append(down, timeSynced(func() {
			_, err := transport.DownloadFolder(ctx, tr, dir+"/pipe/tree", local+"/lxkit")
			check(err)
		}))
		pipeDown = append(pipeDown, timeSynced(func() {
			shell(env, cli+" exec "+ct+" -- tar -cf - -C "+dir+"/pipe tree | tar -xf - -C "+local+"/pipe")
		}))
		os.RemoveAll(local)
		shell(env, cli+" exec "+ct+" -- rm -rf "+dir)
	}
	check(mkdirIn(ctx, tr, "/mnt/cli"))
	cliUp := timeSynced(func() { shell(env, cli+" file push -r "+tree+" "+ct+"/mnt/cli/") })
	cliDownDir := filepath.Join(work, "down-cli")
	check(os.MkdirAll(cliDownDir, 0o755))
	cliDown := timeSynced(func() { shell(env, cli+" file pull -r "+ct+"/mnt/cli/tree "+cliDownDir) })
	os.RemoveAll(cliDownDir)
	shell(env, cli+" exec "+ct+" -- rm -rf /mnt/cli")
	rows = append(rows,
		compare("upload folder 2,000 files / 12 MB vs `file push -r`", mid(up), cliUp, "<= 0.1", mid(up) <= cliUp/10),
		compare("upload folder vs `tar \\| exec tar` pipe", mid(up), mid(pipeUp), "<= 1.3", float64(mid(up)) <= 1.3*float64(mid(pipeUp))),
		compare("download folder 2,000 files / 12 MB vs `file pull -r`", mid(down), cliDown, "<= 0.1", mid(down) <= cliDown/10),
		compare("download folder vs `exec tar \\| tar` pipe", mid(down), mid(pipeDown), "<= 1.3", float64(mid(down)) <= 1.3*float64(mid(pipeDown))))

	if big != "" {
		size := fmt.Sprintf("%d MiB", *bigSize>>20)
		// Take the median of three, interleaved.
		out := filepath.Join(work, "big.back")
		var libPush, cmdPush, cliPush, libPull, cmdPull, cliPull []time.Duration
		var cmdPushRSS, cliPushRSS, cmdPullRSS, cliPullRSS int64
		// Each copy starts after a pause: the daemon is still busy after a
		// copy of 1 GiB (freeing its memory), which would slow the next.
		timeCopy := func(f func()) time.Duration { time.Sleep(transferSettle); return timeIt(f) }
		measureCopy := func(script string) (time.Duration, int64) {
			time.Sleep(transferSettle)
			return measure(env, script)
		}
		// The CLI's copies, two to four times slower, run once: the close
		// comparison is lxkit's library against its command, which take
		// turns going first (a copy right after another kind of copy ran
		// slower here).
		for i := range 3 {
			lib := func() {
				libPush = append(libPush, timeCopy(func() { check(transport.UploadFile(ctx, tr, big, "/mnt/big", transport.FileOptions{})) }))
			}
			cmd := func() {
				d, r := measureCopy(*lxkitBin + " --host " + socket + " push " + big + " " + ct + ":/mnt/big")
				cmdPush, cmdPushRSS = append(cmdPush, d), max(cmdPushRSS, r)
			}
			inTurn(i, lib, cmd)
			if i == 1 {
				d, r := measureCopy(cli + " file push " + big + " " + ct + "/mnt/big")
				cliPush, cliPushRSS = append(cliPush, d), max(cliPushRSS, r)
			}
		}
		for i := range 3 {
			lib := func() {
				libPull = append(libPull, timeCopy(func() { check(transport.DownloadFile(ctx, tr, "/mnt/big", out)) }))
				os.Remove(out)
			}
			cmd := func() {
				d, r := measureCopy(*lxkitBin + " --host " + socket + " pull " + ct + ":/mnt/big " + out)
				cmdPull, cmdPullRSS = append(cmdPull, d), max(cmdPullRSS, r)
				os.Remove(out)
			}
			inTurn(i, lib, cmd)
			if i == 1 {
				d, r := measureCopy(cli + " file pull " + ct + "/mnt/big " + out)
				cliPull, cliPullRSS = append(cliPull, d), max(cliPullRSS, r)
				os.Remove(out)
			}
		}
		rows = append(rows,
			compare("push "+size+" file (library call)", mid(libPush), mid(cliPush), "<= 1.0", mid(libPush) <= mid(cliPush)),
			compare("push "+size+" file (`lxkit push` command)", mid(cmdPush), mid(cliPush), "<= 1.0", mid(cmdPush) <= mid(cliPush)),
			rss("peak RSS of `lxkit push` vs `file push`", cmdPushRSS, cliPushRSS),
			compare("pull "+size+" file (library call)", mid(libPull), mid(cliPull), "<= 1.0", mid(libPull) <= mid(cliPull)),
			compare("pull "+size+" file (`lxkit pull` command)", mid(cmdPull), mid(cliPull), "<= 1.0", mid(cmdPull) <= mid(cliPull)),
			compare("pull "+size+" file: the library call against the `lxkit pull` command", mid(libPull), mid(cmdPull), "<= 1.0", mid(libPull) <= mid(cmdPull)),
			rssWithin("peak RSS of `lxkit pull` vs `file pull`", cmdPullRSS, cliPullRSS, 8<<20))
		shell(env, cli+" exec "+ct+" -- rm -f /mnt/big")
	}
	return rows
}

func compare(what string, lx, base time.Duration, goal string, met bool) row {
	return progress(row{what, ms(lx), ms(base), fmt.Sprintf("%.2f", float64(lx)/float64(base)), goal, yes(met)})
}

// progress shows a row on stderr as soon as it is measured: the tables
// come out on stdout only once a host is done.
func progress(r row) row {
	logf("%s: %s against %s (%s)", r.what, r.lxkit, r.base, r.ratio)
	return r
}

// began is when the run began: each line on stderr says how long ago, so
// that a run shows where its time goes.
var began = time.Now()

func logf(format string, args ...any) {
	el := time.Since(began).Round(time.Second)
	fmt.Fprintf(os.Stderr, "bench %02d:%02d: %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

func rss(what string, lx, base int64) row {
	return row{what, fmt.Sprintf("%d MiB", lx>>20), fmt.Sprintf("%d MiB", base>>20),
		fmt.Sprintf("%.2f", float64(lx)/float64(base)), "< 64 MiB", yes(lx < 64<<20)}
}

// inTurn calls a then b in even rounds, b then a in odd ones.
func inTurn(round int, a, b func()) {
	if round%2 == 1 {
		a, b = b, a
	}
	a()
	b()
}

// rssWithin is rss with the goal of at most slack more than the baseline.
func rssWithin(what string, lx, base, slack int64) row {
	r := rss(what, lx, base)
	r.goal, r.met = fmt.Sprintf("<= %s + %d MiB", r.base, slack>>20), yes(lx <= base+slack)
	return progress(r)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// medians runs each f n times (slow ones fewer: see roundsBudget) after a
// warm-up, interleaved (f1, f2, ..., f1, f2, ...) so that a change in the
// machine's load hits all alike, and
// returns the median time of each. Each run starts after a pause: a daemon
// goes on tidying up after a command has returned (operation records,
// process reaping), which would otherwise be charged to the next one.
func medians(n int, fs ...func()) []time.Duration {
	times := make([][]time.Duration, len(fs))
	for i, f := range fs {
		f() // warm up
		times[i] = make([]time.Duration, 0, n)
	}
	began := time.Now()
	for round := 0; round < n; round++ {
		if round >= minRounds && round%2 == 1 && time.Since(began) > roundsBudget {
			break // enough for a median of slow calls
		}
		for i, f := range fs {
			time.Sleep(settle)
			times[i] = append(times[i], timeIt(f))
		}
	}
	out := make([]time.Duration, len(fs))
	for i := range fs {
		out[i] = mid(times[i])
	}
	return out
}

// settle is the pause before each latency run, transferSettle before
// each copy of the big file.
const (
	settle         = 150 * time.Millisecond
	transferSettle = time.Second
)

// A row of slow calls stops at an odd number of rounds, at least
// minRounds, once its rounds have taken roundsBudget: fast rows get all
// their runs, and slow ones (a snapshot, a list of 200) still a median.
const (
	minRounds    = 5
	roundsBudget = 10 * time.Second
)

// mid returns the median of a few durations.
func mid(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// timeSynced flushes dirty pages first, then times f.
func timeSynced(f func()) time.Duration {
	syscall.Sync()
	return timeIt(f)
}

func timeIt(f func()) time.Duration {
	start := time.Now()
	f()
	return timed(time.Since(start))
}

// timedTotal adds up every timed run, lxkit's and the baselines', so that
// the run can say how much of it went to what it measures and how much
// to making, waiting for and deleting what it measures on.
var timedTotal atomic.Int64

func timed(d time.Duration) time.Duration {
	timedTotal.Add(int64(d))
	return d
}

// cliEnv points lxc or incus at the socket under test.
func cliEnv(cli, socket string) []string {
	dir := filepath.Dir(socket)
	if cli == "incus" {
		return append(os.Environ(), "INCUS_DIR="+dir)
	}
	return append(os.Environ(), "LXD_DIR="+dir)
}

func shell(env []string, script string) {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		check(fmt.Errorf("%s: %v\n%s", script, err, errb.String()))
	}
}

// measure runs a command and returns its wall time and peak RSS. The RSS
// comes from GNU time, which forks normally: a child this process starts
// itself would report at least this process's own peak (Go starts
// children with vfork, and Linux carries the peak across exec).
func measure(env []string, script string) (time.Duration, int64) {
	out, err := os.CreateTemp("", "lxkit-bench-rss-")
	check(err)
	out.Close()
	defer os.Remove(out.Name())
	args := append([]string{"-f", "%M", "-o", out.Name()}, strings.Fields(script)...)
	cmd := exec.Command("/usr/bin/time", args...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		check(fmt.Errorf("%s: %v\n%s", script, err, errb.String()))
	}
	took := timed(time.Since(start))
	data, err := os.ReadFile(out.Name())
	check(err)
	kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	check(err)
	return took, kib << 10
}

// execFloor builds tools/bench/execfloor once, beside the lxkit binary
// and as it is built (CGO_ENABLED=0), and returns its path.
var execFloor = sync.OnceValue(func() string {
	bin := filepath.Join(filepath.Dir(*lxkitBin), "execfloor")
	cmd := exec.Command("go", "build", "-o", bin, "./tools/bench/execfloor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		check(fmt.Errorf("building execfloor: %v\n%s", err, out))
	}
	return bin
})

// bareExec runs `true` with no websockets and no recorded output.
func bareExec(ctx context.Context, d *rest.Driver, ct string) error {
	c := d.Client()
	op, err := c.Start(ctx, http.MethodPost, hostapi.InstancePath(ct, "exec"),
		api.InstanceExecPost{Command: []string{"true"}, Environment: map[string]string{}}, "")
	if err == nil && op != nil {
		_, err = c.Wait(ctx, op)
	}
	return err
}

func mustRun(res *transport.Result, err error) {
	check(err)
	check(res.Err())
}

func mkdirIn(ctx context.Context, tr transport.Transport, dir string) error {
	_, err := transport.Run(ctx, tr, "mkdir", "-p", dir)
	return err
}

// makeTree writes n files of total bytes in nested folders.
func makeTree(root string, n int, total int64) {
	per := total / int64(n)
	buf := make([]byte, per)
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("e%d", i%7))
		check(os.MkdirAll(dir, 0o755))
		_, _ = rand.Read(buf)
		check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.dat", i)), buf, 0o644))
	}
}

func makeBig(p string, size int64) {
	f, err := os.Create(p)
	check(err)
	defer f.Close()
	_, err = io.CopyN(f, rand.Reader, size)
	check(err)
}

// atExit undoes what the run made, when it stops on an error.
var atExit = func() {}

func shm() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

func check(err error) {
	if err != nil {
		// The error first: an undo that fails comes back here, and
		// exits with its own.
		_, file, line, _ := runtime.Caller(1)
		fmt.Fprintf(os.Stderr, "bench: %s:%d: %v\n", filepath.Base(file), line, err)
		undo := atExit
		atExit = func() {} // once
		undo()
		os.Exit(1)
	}
}

// benchManage times host management: a profile made and deleted, an image
// alias made and deleted, a snapshot taken and deleted, through the
// library, the lxkit command and the daemon's CLI.
func benchManage(ctx context.Context, d *rest.Driver, ct, socket, cli string) []row {
	env := cliEnv(cli, socket)
	h := host.New(d.API())
	lx := *lxkitBin + " --host " + socket
	p := fmt.Sprintf("lxkit-bench-p%d", os.Getpid())
	fp, err := h.Images().Resolve(ctx, "testimage")
	check(err)
	// lxc 5.0 has `lxc snapshot C S` and `lxc delete C/S`; incus has a
	// snapshot command group.
	snapCmds := cli + " snapshot " + ct + " s && " + cli + " delete " + ct + "/s"
	if cli == "incus" {
		snapCmds = "incus snapshot create " + ct + " s && incus snapshot delete " + ct + " s"
	}
	m := medians(*runs,
		func() {
			check(h.Profiles().Create(ctx, api.ProfilesPost{Name: p}))
			check(h.Profiles().Delete(ctx, p))
		},
		func() { shell(env, cli+" profile create "+p+" >/dev/null && "+cli+" profile delete "+p+" >/dev/null") },
		func() { shell(env, lx+" profile create "+p+" && "+lx+" profile delete "+p) },
		func() {
			check(h.Images().CreateAlias(ctx, p, fp, ""))
			check(h.Images().DeleteAlias(ctx, p))
		},
		func() { shell(env, cli+" image alias create "+p+" "+fp+" && "+cli+" image alias delete "+p) },
	)
	snaps := hostapi.InstancePath(ct, "snapshots")
	s := medians(*runs,
		func() {
			check(h.Snapshots(ct).Create(ctx, api.InstanceSnapshotsPost{Name: "s"}))
			check(h.Snapshots(ct).Delete(ctx, "s"))
		},
		func() { shell(env, snapCmds) },
		func() { shell(env, lx+" snapshot create "+ct+" s >/dev/null && "+lx+" snapshot delete "+ct+" s") },
		func() { // the floor: the two operations alone
			_, err := d.API().Do(ctx, http.MethodPost, snaps, api.InstanceSnapshotsPost{Name: "s"}, "")
			check(err)
			_, err = d.API().Do(ctx, http.MethodDelete, snaps+"/s", nil, "")
			check(err)
		},
	)
	return []row{
		compare("profile create + delete (library)", m[0], m[1], "<= 1.0", m[0] <= m[1]),
		compare("profile create + delete (`lxkit profile` commands)", m[2], m[1], "<= 1.0", m[2] <= m[1]),
		compare("image alias create + delete by fingerprint (library)", m[3], m[4], "<= 1.0", m[3] <= m[4]),
		compare("snapshot create + delete (library)", s[0], s[1], "<= 0.5", s[0] <= s[1]/2),
		compare("snapshot create + delete (`lxkit snapshot` commands)", s[2], s[1], "<= 1.0", s[2] <= s[1]),
		compare("snapshot create + delete: the API's floor (the POST and the DELETE, waited for)", s[3], s[1], "report", true),
	}
}
