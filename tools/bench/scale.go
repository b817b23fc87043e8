package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/transport"
)

var (
	withScale = flag.Bool("scale", true, "also time list, apply and exec as the work grows (hundreds of containers)")
	onlyScale = flag.Bool("only-scale", false, "time only what grows with the work")
)

// scaleParallel is how many launches each way runs at once, and
// execParallel how many execs.
const (
	scaleParallel = 4
	execParallel  = 8
)

// benchScale times, on one daemon, what grows with the number of
// containers: `lxkit list` against `lxc list` at 10, 50 and 200 running
// containers (with the fixed part and the slope of each), `lxkit apply`
// of 20- and 100-instance fleets against an equally parallel `lxc
// launch` loop, plan and apply with nothing to do, and execs per second
// with 8 at once.
func benchScale(ctx context.Context, d *rest.Driver, ct, socket, cli string) []row {
	work, err := os.MkdirTemp(shm(), "lxkit-bench-scale-")
	check(err)
	defer os.RemoveAll(work)
	env := cliEnv(cli, socket)
	c := d.Client()
	lx := *lxkitBin + " -q --host " + socket
	prefix := fmt.Sprintf("lxkit-bs%d", os.Getpid())
	names := func(tag string, n int) []string { return benchNames(prefix, tag, n) }
	var live []string // what to delete at the end
	var mu sync.Mutex
	each := func(list []string, f func(string) error) {
		inParallel(8, list, func(n string) { check(f(n)) })
	}
	launch := func(list []string) {
		each(list, func(n string) error {
			return d.Create(ctx, n, driver.CreateOptions{Image: driver.Image{Alias: "testimage"}})
		})
		mu.Lock()
		live = append(live, list...)
		mu.Unlock()
	}
	remove := func(list []string) {
		each(list, func(n string) error { return d.Delete(ctx, n) })
		gone := map[string]bool{}
		for _, n := range list {
			gone[n] = true
		}
		mu.Lock()
		kept := live[:0]
		for _, n := range live {
			if !gone[n] {
				kept = append(kept, n)
			}
		}
		live = kept
		mu.Unlock()
	}
	outer := atExit
	atExit = func() {
		each(live, func(n string) error { _ = d.Delete(context.Background(), n); return nil })
		os.RemoveAll(work)
		outer()
	}
	par := fmt.Sprint(scaleParallel)
	launchLoop := func(list []string) time.Duration {
		took := timeIt(func() {
			shell(env, "printf '%s\\n' "+strings.Join(list, " ")+" | xargs -P "+par+" -I@ "+cli+" launch testimage @ -q")
		})
		mu.Lock()
		live = append(live, list...)
		mu.Unlock()
		return took
	}
	// All the containers on the host count, as lxc list shows them all:
	// the bench's own container is one.
	type point struct {
		n               int
		lxkit, json, lx time.Duration
		// The two ways to read every state: the daemon's recursion, and
		// one request per instance, 8 at once.
		recursion, parallel time.Duration
	}
	listAt := func() point {
		var all []string
		check(json.Unmarshal(capture(env, cli+" query /1.0/instances"), &all))
		m := medians(*runs/2,
			func() { shell(env, lx+" list >/dev/null") },
			func() { shell(env, lx+" list --format json >/dev/null") },
			func() { shell(env, cli+" list >/dev/null") },
			func() { _, err := c.Query(ctx, http.MethodGet, "/1.0/instances?recursion=2", nil, nil); check(err) },
			func() { statesInParallel(ctx, c, all) })
		return point{len(all), m[0], m[1], m[2], m[3], m[4]}
	}
	var rows []row
	var points []point
	applyRows := func(n int) {
		// Each launch costs the daemon more as its containers grow in
		// number (a launch loop's took 0.32 s each at 10-50 containers,
		// 0.46 s at 30-330): so the three ways take turns in chunks (loop,
		// apply, floor, floor, apply, loop, loop...), each way's spread
		// over the whole range of counts. The fleet grows by a chunk at
		// each apply.
		fleet := names(fmt.Sprintf("f%d-", n), n)
		loop := names(fmt.Sprintf("l%d-", n), n)
		// The floor: what the daemon takes for the same launches asked
		// through its API by one process, with no checks at all.
		raw := names(fmt.Sprintf("r%d-", n), n)
		mu.Lock()
		live = append(live, append(fleet, raw...)...)
		mu.Unlock()
		fleetName := fmt.Sprintf("%s-f%d", prefix, n)
		chunk := launchChunk(n)
		var file string
		var tApply, tLoop, tRaw time.Duration
		done := map[string]int{} // launched by each way so far
		for i := range 3 * n / chunk {
			way := turns[i%len(turns)]
			from := done[way]
			done[way] += chunk
			switch upTo := done[way]; way {
			case "loop":
				tLoop += launchLoop(loop[from:upTo])
			case "apply":
				file = writeFleet(work, fleetName, fleet[:upTo], false)
				tApply += timeIt(func() { shell(env, lx+" apply --parallel "+par+" "+file+" >/dev/null") })
			case "floor":
				tRaw += timeIt(func() { rawLaunches(ctx, c, raw[from:upTo]) })
			}
		}
		remove(raw)
		rows = append(rows, compare(fmt.Sprintf("the API's floor for those %d launches (POST and start, %d at once, one process), against `xargs -P%d %s launch`", n, scaleParallel, scaleParallel, cli), tRaw, tLoop, "report", true))
		tPlan := timeIt(func() { shell(env, lx+" plan "+file+" >/dev/null") })
		tNoop := timeIt(func() { shell(env, lx+" apply --parallel "+par+" "+file+" >/dev/null") })
		rows = append(rows,
			compare(fmt.Sprintf("`lxkit apply --parallel %d` of a %d-instance fleet (%d applies of %d more each), against `xargs -P%d %s launch`", scaleParallel, n, n/chunk, chunk, scaleParallel, cli), tApply, tLoop, "<= 0.7", float64(tApply) <= 0.7*float64(tLoop)),
			row{fmt.Sprintf("`lxkit plan` of that %d-instance fleet, nothing to do", n), ms(tPlan), "-", "-", "report", "yes"},
			row{fmt.Sprintf("`lxkit apply` of that %d-instance fleet, nothing to do", n), ms(tNoop), "-", "-", "report", "yes"})
	}

	// Lists at 10, 50 and 200 containers (the bench's own is one).
	base := names("n", 9)
	launch(base)
	points = append(points, listAt())
	applyRows(20) // +40: 50
	points = append(points, listAt())
	remove(names("l20-", 20)) // 30
	applyRows(100)            // +200: 230
	remove(names("l100-", 30))
	points = append(points, listAt())
	for _, p := range points {
		rows = append(rows,
			compare(fmt.Sprintf("`lxkit list` of %d running containers, against `%s list`", p.n, cli), p.lxkit, p.lx, "<= 0.5", p.lxkit <= p.lx/2),
			compare(fmt.Sprintf("`lxkit list --format json` of %d, against `%s list`", p.n, cli), p.json, p.lx, "<= 0.5", p.json <= p.lx/2),
			compare(fmt.Sprintf("every state of %d: `GET /1.0/instances?recursion=2`, against a GET of each state, %d at once", p.n, execParallel), p.recursion, p.parallel, "report", true))
	}
	fit := func(pick func(point) time.Duration) (fixed, slope time.Duration) {
		// Least squares over the points.
		var sx, sy, sxx, sxy float64
		for _, p := range points {
			x, y := float64(p.n), float64(pick(p))
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
		}
		k := float64(len(points))
		s := (k*sxy - sx*sy) / (k*sxx - sx*sx)
		return time.Duration((sy - s*sx) / k), time.Duration(s)
	}
	lf, ls := fit(func(p point) time.Duration { return p.lxkit })
	bf, bs := fit(func(p point) time.Duration { return p.lx })
	rows = append(rows,
		row{"list: fixed part (least squares over the rows above)", ms(lf), ms(bf), fmt.Sprintf("%.2f", float64(lf)/float64(bf)), "report", "yes"},
		row{"list: cost per container (slope)", us(ls), us(bs), fmt.Sprintf("%.2f", float64(ls)/float64(bs)), "report", "yes"})
	remove(append([]string(nil), live...))

	atExit = outer
	return append(rows, benchExecRate(ctx, d, ct, socket, cli)...)
}

// turns is the order in which the launch loop, lxkit's apply and the
// API's floor take turns (a palindrome, repeated: each way's turns spread
// over the run alike).
var turns = []string{"loop", "apply", "floor", "floor", "apply", "loop"}

// launchChunk is how many launches each way makes in one turn: n/2 at
// 20, 20 at 100.
func launchChunk(n int) int {
	if n <= 20 {
		return n / 2
	}
	return 20
}

// rawLaunches makes and starts each named container of testimage,
// scaleParallel at once, with one POST and one state PUT each: the least
// a launch through the API can cost.
func rawLaunches(ctx context.Context, c *client.Client, names []string) {
	inParallel(scaleParallel, names, func(n string) {
		_, err := c.Do(ctx, http.MethodPost, "/1.0/instances", api.InstancesPost{Name: n, Source: api.InstanceSource{Type: "image", Alias: "testimage"}}, "")
		check(err)
		_, err = c.Do(ctx, http.MethodPut, "/1.0/instances/"+n+"/state", api.InstanceStatePut{Action: "start", Timeout: -1}, "")
		check(err)
	})
}

// statesInParallel reads the state of each named instance (URLs of
// GET /1.0/instances), execParallel at once.
func statesInParallel(ctx context.Context, c *client.Client, urls []string) {
	inParallel(execParallel, urls, func(u string) {
		_, err := c.Query(ctx, http.MethodGet, u+"/state", nil, nil)
		check(err)
	})
}

// inParallel calls f with each item, n at once.
func inParallel(n int, items []string, f func(string)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(it)
		}()
	}
	wg.Wait()
}

// benchExecRate counts execs of `true` per second with execParallel at
// once: the library (goroutines on one client), the lxkit command and the
// daemon's CLI (processes).
func benchExecRate(ctx context.Context, d *rest.Driver, ct, socket, cli string) []row {
	env := cliEnv(cli, socket)
	const total = 96
	rate := func(took time.Duration) float64 { return total / took.Seconds() }
	lib := func() {
		tr := d.Transport(ct)
		sem := make(chan struct{}, execParallel)
		var wg sync.WaitGroup
		for range total {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				mustRun(tr.Exec(ctx, transport.Command{Args: []string{"true"}}))
			}()
		}
		wg.Wait()
	}
	// lxc exec of LXD 5.0.2 now and then misses the end of its operation
	// and waits for ever (hostapi.OperationEndLost): each process gets
	// 20 s, and one that runs out counts as hung.
	hung := map[string]int{}
	procs := func(cmd string) func() {
		return func() {
			out := capture(env, fmt.Sprintf("seq %d | xargs -P %d -I@ sh -c 'timeout -s KILL 20 %s || echo hung' | grep -c hung || true", total, execParallel, cmd))
			n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
			hung[cmd] += n
		}
	}
	lxCmd, cliCmd := *lxkitBin+" --host "+socket+" exec "+ct+" -- true", cli+" exec "+ct+" -- true"
	// The least program making the library call, as processes: what
	// any command pays, lxkit's or not.
	floorCmd := execFloor() + " " + socket + " " + ct + " true"
	m := medians(3, lib, procs(lxCmd), procs(cliCmd), procs(floorCmd))
	// per compares two rates; a goal of 0 only reports.
	per := func(what string, lx, base time.Duration, goal float64) row {
		r := rate(lx) / rate(base)
		goalText := "report"
		if goal > 0 {
			goalText = fmt.Sprintf(">= %.1f", goal)
		}
		return row{what, fmt.Sprintf("%.0f/s", rate(lx)), fmt.Sprintf("%.0f/s", rate(base)), fmt.Sprintf("%.2f", r), goalText, yes(r >= goal)}
	}
	return []row{
		per(fmt.Sprintf("execs of `true` per second, %d at once (library)", execParallel), m[0], m[2], 2),
		per(fmt.Sprintf("execs of `true` per second, %d at once (`lxkit exec` commands)", execParallel), m[1], m[2], 2),
		per(fmt.Sprintf("execs of `true` per second, %d at once (the least program making the library call, tools/bench/execfloor)", execParallel), m[3], m[2], 0),
		per("the `lxkit exec` commands' rate against that least program's", m[1], m[3], 0),
		{fmt.Sprintf("of those %d runs of %d execs each, hung (no end after 20 s)", 4, total), fmt.Sprint(hung[lxCmd]), fmt.Sprint(hung[cliCmd]), "-", "report", "yes"},
	}
}

// us prints a small duration in microseconds or milliseconds.
func us(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return ms(d)
}
