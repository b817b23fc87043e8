package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/spec"
)

// jobRuns is how many times each way of running the job runs (each makes
// and deletes a container).
const jobRuns = 3

// benchJob times a whole CI job: a container made, a workspace of 200
// files uploaded, one step run, a folder of artifacts fetched and the
// container deleted; through the library, `lxkit job run` and the same
// five commands typed with the daemon's CLI.
func benchJob(ctx context.Context, d *rest.Driver, socket, cli, work string) []row {
	env := cliEnv(cli, socket)
	ws := filepath.Join(work, "job", "src")
	makeTree(ws, 200, 2<<20)
	const step = "mkdir -p dist && cp -r . /tmp/copy && ls -R > dist/listing && echo ok > dist/result"
	jobFile := filepath.Join(work, "job", "job.yaml")
	check(os.WriteFile(jobFile, []byte(fmt.Sprintf("image: testimage\nworkspace: src\ndir: /work\nsteps: [%q]\nartifacts: [dist]\n", step)), 0o644))
	job := &buildhost.Job{Name: "bench", Image: spec.Image{Alias: "testimage"}, Workspace: ws, Dir: "/work",
		Steps: []buildhost.Step{{Run: step}}, Artifacts: []string{"dist"}}
	out := func(way string) string {
		dir := filepath.Join(work, "job", "out-"+way)
		check(os.RemoveAll(dir))
		return dir
	}
	ct := fmt.Sprintf("lxkit-bench-job-%d", os.Getpid())
	hand := cli + " launch testimage " + ct + " -q && " +
		cli + " file push -r -q " + ws + " " + ct + "/ && " +
		cli + " exec " + ct + " -- sh -c 'mv /src /work && cd /work && " + step + "' && " +
		cli + " file pull -r -q " + ct + "/work/dist " + out("cli") + " && " +
		cli + " delete -f " + ct
	m := medianRuns(jobRuns,
		func() {
			_, err := buildhost.Run(ctx, d, job, buildhost.Options{ArtifactsDir: out("lib")})
			check(err)
		},
		func() { shell(env, "mkdir -p "+out("cli")+" && "+hand) },
		func() {
			shell(env, *lxkitBin+" --host "+socket+" -q job run --artifacts "+out("cmd")+" "+jobFile+" >/dev/null")
		},
	)
	return []row{
		compare("CI job: launch, 200-file workspace in, one step, artifacts out, delete (library)", m[0], m[1], "<= 1.0", m[0] <= m[1]),
		compare("CI job, the same (`lxkit job run` command)", m[2], m[1], "<= 1.0", m[2] <= m[1]),
	}
}

// medianRuns is medians without the pause: each run is seconds long.
func medianRuns(n int, fs ...func()) []time.Duration {
	out := make([]time.Duration, len(fs))
	times := make([][]time.Duration, len(fs))
	for range n {
		for i, f := range fs {
			times[i] = append(times[i], timeIt(f))
		}
	}
	for i := range fs {
		out[i] = mid(times[i])
	}
	return out
}
