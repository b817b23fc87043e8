package buildhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/procid"
	"github.com/lxkit/lxkit/spec"
	"github.com/lxkit/lxkit/testkit/debrepo"
	"github.com/lxkit/lxkit/testkit/testdrivers"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gone fails the test unless the container was deleted.
func gone(t *testing.T, d driver.Driver, name string) {
	t.Helper()
	if _, err := d.Status(context.Background(), name); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("container %s: %v; want it deleted", name, err)
		_ = d.Delete(context.Background(), name)
	}
}

func job(steps ...buildhost.Step) *buildhost.Job {
	return &buildhost.Job{Name: "test", Image: spec.Image{Alias: testhost.Image}, Steps: steps}
}

// TestRun: the workspace arrives in dir, owned by the job's user; steps run
// there with the job's and their own environment and stream their output;
// artifacts (a file and a folder) come back; the container goes.
func TestRun(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		ws := filepath.Join(t.TempDir(), "src")
		writeFile(t, filepath.Join(ws, "build.sh"), "#!/bin/sh\nmkdir -p out/sub\necho \"built by $(id -un) in $(pwd)\" > out/sub/result\n", 0o755)
		writeFile(t, filepath.Join(ws, "lib", "data.txt"), "data\n", 0o644)
		j := job(
			buildhost.Step{Name: "build", Run: "./build.sh\necho \"$LXKIT_JOB/$LXKIT_STEP $MODE $LEVEL\"\necho to-stderr >&2"},
			buildhost.Step{Name: "flaky", Run: "exit 4", ContinueOnError: true},
			buildhost.Step{Name: "report", Run: "stat -c '%u %U' lib/data.txt > report.txt\ncat lib/data.txt /cache/seed >> report.txt", Env: map[string]string{"LEVEL": "step"}},
		)
		// A cache from outside the job's container, as a disk device.
		cache := t.TempDir()
		writeFile(t, filepath.Join(cache, "seed"), "seed\n", 0o644)
		for _, dir := range []string{cache, filepath.Dir(cache)} {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		j.Devices = map[string]map[string]string{"cache": {"type": "disk", "source": cache, "path": "/cache", "readonly": "true"}}
		j.Workspace, j.Dir, j.User = ws, "/home/lxkit/work", "lxkit"
		j.Env = map[string]string{"MODE": "job", "LEVEL": "job"}
		j.Artifacts = []string{"report.txt", "out/"}
		var log bytes.Buffer
		out := t.TempDir()
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, ArtifactsDir: out})
		if err != nil {
			t.Fatalf("run: %v\n%s", err, log.String())
		}
		gone(t, d, res.Container)
		for _, want := range []string{"==> step 1/3: build\n", "test/build job job\n", "to-stderr\n", "==> step flaky failed with exit code 4", "==> step 3/3: report\n"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
		if len(res.Steps) != 3 || res.Steps[0].Status != buildhost.StatusOK || res.Steps[1].Status != buildhost.StatusFailed ||
			res.Steps[1].ExitCode != 4 || res.Steps[2].Status != buildhost.StatusOK || !res.Failed() {
			t.Errorf("steps: %+v", res.Steps)
		}
		if got := readFile(t, filepath.Join(out, "report.txt")); got != "1000 lxkit\ndata\nseed\n" {
			t.Errorf("report.txt = %q", got)
		}
		if got := readFile(t, filepath.Join(out, "out", "sub", "result")); got != "built by lxkit in /home/lxkit/work\n" {
			t.Errorf("out/sub/result = %q", got)
		}
		if len(res.Artifacts) != 2 || res.Kept {
			t.Errorf("result: %+v", res)
		}
	})
}

// TestFailedJob: a failed step skips the rest but the always steps, what
// the job did not make is missing (not an error), and KeepOnFailure keeps
// the container for a look inside until Reap finds it past its deadline.
func TestFailedJob(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		j := job(
			buildhost.Step{Run: "echo partial > made.txt\nfalse\necho not-reached"},
			buildhost.Step{Name: "never", Run: "touch never"},
			buildhost.Step{Name: "cleanup", Run: "echo cleaned", Always: true},
		)
		j.Timeout = buildhost.Duration(time.Minute)
		// Its own job name: Reap below must not touch the containers of
		// tests running beside it (TestStopped's deadline is earlier).
		j.Name = strings.TrimPrefix(testhost.Name("failed"), "lxkit-")
		j.Artifacts = []string{"made.txt", "never", "absent/"}
		var log bytes.Buffer
		out := t.TempDir()
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, ArtifactsDir: out, Keep: buildhost.KeepOnFailure})
		t.Cleanup(func() { _ = d.Delete(context.Background(), res.Container) })
		var se *buildhost.StepError
		if !errors.As(err, &se) || se.Step != "echo partial > made.txt" || se.ExitCode != 1 {
			t.Fatalf("run: %v; want a StepError with exit code 1\n%s", err, log.String())
		}
		if strings.Contains(log.String(), "not-reached") || !strings.Contains(log.String(), "==> step 2/3: never: skipped") || !strings.Contains(log.String(), "cleaned\n") {
			t.Errorf("log:\n%s", log.String())
		}
		st := res.Steps
		if len(st) != 3 || st[0].Status != buildhost.StatusFailed || st[1].Status != buildhost.StatusSkipped || st[2].Status != buildhost.StatusOK {
			t.Errorf("steps: %+v", st)
		}
		if got := readFile(t, filepath.Join(out, "made.txt")); got != "partial\n" || strings.Join(res.Missing, ",") != "never,absent/" {
			t.Errorf("made.txt %q, missing %v", got, res.Missing)
		}
		if !res.Kept {
			t.Fatal("the failed job's container was not kept")
		}
		list, err := buildhost.Containers(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		var found *buildhost.Container
		for i := range list {
			if list[i].Name == res.Container {
				found = &list[i]
			}
		}
		if found == nil || found.Job != j.Name || found.Status != "Running" ||
			found.Deadline.Before(time.Now().Add(buildhost.DeadlineGrace)) || found.Deadline.After(time.Now().Add(buildhost.DeadlineGrace+time.Minute)) {
			t.Fatalf("Containers: %+v; want %s of job test, running, deadline in a minute and the grace", list, res.Container)
		}
		// Before its deadline the container is no leftover.
		if deleted, err := buildhost.Reap(ctx, d, time.Now(), j.Name); err != nil || contains(deleted, res.Container) {
			t.Errorf("Reap before the deadline: %v, %v", deleted, err)
		}
		deleted, err := buildhost.Reap(ctx, d, found.Deadline.Add(time.Second), j.Name)
		if err != nil || len(deleted) != 1 || deleted[0] != res.Container {
			t.Errorf("Reap after the deadline: %v, %v", deleted, err)
		}
		gone(t, d, res.Container)
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestStopped: a step's timeout fails the step; the job's timeout and the
// caller's cancellation end the job. The container goes each time.
func TestStopped(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)

		j := job(buildhost.Step{Name: "slow", Run: "sleep 30", Timeout: buildhost.Duration(500 * time.Millisecond)})
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{})
		var se *buildhost.StepError
		if !errors.As(err, &se) || !se.TimedOut || res.Steps[0].Status != buildhost.StatusTimedOut {
			t.Errorf("step timeout: %v, %+v", err, res.Steps)
		}
		gone(t, d, res.Container)

		j = job(buildhost.Step{Name: "slow", Run: "sleep 30"})
		j.Timeout = buildhost.Duration(4 * time.Second)
		res, err = buildhost.Run(ctx, d, j, buildhost.Options{})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "job test timed out after 4s") {
			t.Errorf("job timeout: %v", err)
		}
		gone(t, d, res.Container)

		cctx, cancel := context.WithCancel(ctx)
		var log safeBuffer
		go func() {
			for !strings.Contains(log.String(), "step 1/1") && cctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			cancel()
		}()
		res, err = buildhost.Run(cctx, d, job(buildhost.Step{Run: "sleep 30"}), buildhost.Options{Log: &log})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancel: %v", err)
		}
		gone(t, d, res.Container)
	})
}

// safeBuffer is a log read while a job writes it.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBadImage: a job whose container cannot be made fails with the
// daemon's reason and leaves nothing, even with KeepAlways.
func TestBadImage(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, time.Minute)
		j := job(buildhost.Step{Run: "true"})
		j.Image = spec.Image{Alias: "lxkit-no-such-image"}
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Keep: buildhost.KeepAlways})
		if err == nil || !strings.Contains(err.Error(), "lxkit-no-such-image") || res.Kept || len(res.Steps) != 0 {
			t.Errorf("run: %v, %+v; want the missing image named, nothing kept", err, res)
		}
		gone(t, d, res.Container)
	})
}

// TestSecrets: a secret reaches the steps as a variable, exactly (quotes,
// dollars, newlines) from a file only the job's user can read; it is ***
// in the log, and its file is gone from a kept container. A
// missing one stops the job before anything is made.
func TestSecrets(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		value := "it's a \"$ecret\" `x`\\\nsecond-line-of-it"
		j := job(
			buildhost.Step{Name: "use", Run: `printf '%s' "$TOKEN" > got; echo "token: $TOKEN"; printf 'no newline: %s' "$TOKEN" >&2`},
			buildhost.Step{Name: "who", Run: `stat -c '%U %a' ../.lxkit-secrets`},
		)
		j.Dir, j.User = "/home/lxkit/work", "lxkit"
		j.Secrets = []string{"TOKEN"}
		j.Artifacts = []string{"got"}
		var log safeBuffer
		out := t.TempDir()
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, ArtifactsDir: out, Keep: buildhost.KeepAlways,
			Secrets: map[string]string{"TOKEN": value, "OTHER": "not-given-to-the-job"}})
		if res != nil && res.Kept {
			kept := res.Container
			defer func() { _ = d.Delete(context.Background(), kept) }()
		}
		if err != nil {
			t.Fatalf("run: %v\n%s", err, log.String())
		}
		if got := readFile(t, filepath.Join(out, "got")); got != value {
			t.Errorf("the step saw %q; want %q", got, value)
		}
		if strings.Contains(log.String(), "second-line-of-it") || strings.Contains(log.String(), "$ecret") {
			t.Errorf("the secret is in the log:\n%s", log.String())
		}
		for _, want := range []string{"token: ***\n", "no newline: ***", "lxkit 400\n"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
		if r, err := transport.Run(ctx, d.Transport(res.Container), "/bin/sh", "-c", "test -e /home/lxkit/.lxkit-secrets && echo present || echo gone"); err != nil || r != "gone\n" {
			t.Errorf("secrets file in the kept container: %q, %v", r, err)
		}

		j.Secrets = []string{"MISSING"}
		res, err = buildhost.Run(ctx, d, j, buildhost.Options{Secrets: map[string]string{"TOKEN": value}})
		if err == nil || !strings.Contains(err.Error(), "secret MISSING is not set") || res != nil {
			t.Errorf("missing secret: %v, %+v", err, res)
		}
	})
}

// TestReapRunnerGone: a job container whose runner has ended on this
// machine without deleting it (it died, or the daemon did) is a leftover
// before its deadline; one whose runner still runs is not.
func TestReapRunnerGone(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 2*time.Minute)
		ended := exec.Command("true")
		if err := ended.Run(); err != nil {
			t.Fatal(err)
		}
		self := procid.Self()
		boot := strings.Split(self, "/")[0]
		job := strings.TrimPrefix(testhost.Name("rg"), "lxkit-")
		far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		names := map[string]string{ // runner -> container
			self: buildhost.ContainerName(job),
			fmt.Sprintf("%s/%d/1", boot, ended.ProcessState.Pid()): buildhost.ContainerName(job),
		}
		for runner, name := range names {
			t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
			if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, NoStart: true,
				Config: map[string]string{buildhost.KeyJob: job, buildhost.KeyDeadline: far, buildhost.KeyRunner: runner}}); err != nil {
				t.Fatal(err)
			}
		}
		deleted, err := buildhost.Reap(ctx, d, time.Now(), job)
		if err != nil || len(deleted) != 1 || deleted[0] == names[self] {
			t.Fatalf("Reap: %v, %v; want only the container of the ended runner", deleted, err)
		}
		if ok, err := driver.Exists(ctx, d, names[self]); err != nil || !ok {
			t.Errorf("the live runner's container: exists=%v, %v", ok, err)
		}
	})
}

// fakeAPK is a package manager for the busybox test image, which has
// none: apk info -e NAME and apk add NAME... against a folder.
const fakeAPK = `#!/bin/sh
db=/var/lib/fakeapk
mkdir -p "$db"
case "$1" in
info) [ -f "$db/$3" ] ;;
add) shift; for p; do case "$p" in -*) ;; *) touch "$db/$p"; echo "fake apk: installed $p" ;; esac; done ;;
*) exit 1 ;;
esac
`

// TestProvision: the provisioning stage (a cloud-config file, inline
// cloud-config, packages:) runs before the workspace and the steps, as
// root, and is reported as the step "provision"; it makes the job's user.
// Packages go through a fake apk (busybox has no package manager). A
// failed provisioning is the job's failure: only the always steps run.
func TestProvision(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		dir := t.TempDir()
		base := filepath.Join(dir, "base.cfg")
		writeFile(t, base, "#cloud-config\nwrite_files:\n  - path: /etc/os-release\n    content: \"ID=alpine\\n\"\n"+
			"  - path: /usr/local/bin/apk\n    permissions: '0755'\n    content: |\n"+indent(fakeAPK, "      ")+
			"users:\n  - name: builder\n", 0o644)
		inline, err := cloudconfig.Parse("inline", []byte("#cloud-config\nruncmd:\n  - echo provisioned as $(id -un)\n  - [mkdir, -p, /opt/tools]\n"))
		if err != nil {
			t.Fatal(err)
		}
		j := job(buildhost.Step{Name: "check", Run: "id -un\nls /var/lib/fakeapk\ntest -d /opt/tools\nstat -c %U ."})
		j.Provision = []buildhost.Provision{{File: base}, {Config: inline}}
		j.Packages = []string{"make", "git"}
		j.User, j.Dir = "builder", "/home/builder/work"
		var log bytes.Buffer
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Container: testhost.Name("prov")})
		if err != nil {
			t.Fatalf("run: %v\n%s", err, log.String())
		}
		gone(t, d, res.Container)
		for _, want := range []string{"==> provision\n", "provisioned as root\n", "fake apk: installed make\nfake apk: installed git\n",
			"==> step 1/1: check\nbuilder\ngit\nmake\nbuilder\n"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
		if len(res.Steps) != 2 || res.Steps[0].Name != buildhost.ProvisionStep || res.Steps[0].Status != buildhost.StatusOK ||
			res.Steps[0].Duration <= 0 || res.Steps[1].Status != buildhost.StatusOK {
			t.Errorf("steps: %+v", res.Steps)
		}

		bad, err := cloudconfig.Parse("bad.cfg", []byte("#cloud-config\nruncmd:\n  - echo half\n  - exit 3\n"))
		if err != nil {
			t.Fatal(err)
		}
		j = job(buildhost.Step{Name: "never", Run: "echo not-reached"}, buildhost.Step{Name: "logs", Run: "echo always ran", Always: true})
		j.Provision = []buildhost.Provision{{Config: bad}}
		log.Reset()
		res, err = buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Container: testhost.Name("provbad")})
		var se *buildhost.StepError
		if !errors.As(err, &se) || se.Step != buildhost.ProvisionStep || se.ExitCode != 3 || !strings.Contains(err.Error(), "bad.cfg: runcmd[1]: exit status 3") {
			t.Errorf("run: %v; want the provisioning failed with exit code 3, naming runcmd[1]\n%s", err, log.String())
		}
		if strings.Contains(log.String(), "not-reached") || !strings.Contains(log.String(), "half\n") || !strings.Contains(log.String(), "always ran\n") {
			t.Errorf("log:\n%s", log.String())
		}
		if st := res.Steps; len(st) != 3 || st[0].Status != buildhost.StatusFailed || st[0].ExitCode != 3 ||
			st[1].Status != buildhost.StatusSkipped || st[2].Status != buildhost.StatusOK || !res.Failed() {
			t.Errorf("steps: %+v", res.Steps)
		}
		gone(t, d, res.Container)
	})
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// waitGone waits for the daemon to delete an ephemeral container that
// stopped (it does so just after the stop).
func waitGone(t *testing.T, d driver.Driver, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := d.Status(context.Background(), name)
		if errors.Is(err, errdefs.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("container %s: %v; want it gone by itself", name, err)
			_ = d.Delete(context.Background(), name)
			return
		}
	}
}

// TestEphemeral: an ephemeral job's container is the daemon's ephemeral
// instance. Left behind (as a runner that died leaves it) and stopped
// from outside (as a crash or a reboot stops it), it vanishes without
// anyone deleting it. A container stopped under a running job fails the
// job, and the runner's cleanup still succeeds; a job that passes
// deletes it as any other.
func TestEphemeral(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		j := job(buildhost.Step{Run: "echo ok"})
		j.Ephemeral = true
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Container: testhost.Name("eph")})
		if err != nil || res.Steps[0].Status != buildhost.StatusOK {
			t.Fatalf("run: %v, %+v", err, res)
		}
		gone(t, d, res.Container)

		// Left behind: KeepAlways, as no runner deletes it.
		res, err = buildhost.Run(ctx, d, j, buildhost.Options{Container: testhost.Name("ephkept"), Keep: buildhost.KeepAlways})
		if err != nil || !res.Kept {
			t.Fatalf("run: %v, %+v", err, res)
		}
		t.Cleanup(func() { _ = d.Delete(context.Background(), res.Container) })
		inst, err := d.Instance(ctx, res.Container)
		if err != nil || !inst.Ephemeral {
			t.Fatalf("kept container: %+v, %v; want it ephemeral", inst, err)
		}
		if err := host.New(d.API()).SetInstanceState(ctx, res.Container, api.InstanceStatePut{Action: "stop", Force: true, Timeout: -1}); err != nil {
			t.Fatal(err)
		}
		waitGone(t, d, res.Container)

		// Stopped under a running job.
		var log safeBuffer
		name := testhost.Name("ephcrash")
		go func() {
			for !strings.Contains(log.String(), "step 1/1") && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			_ = host.New(d.API()).SetInstanceState(ctx, name, api.InstanceStatePut{Action: "stop", Force: true, Timeout: -1})
		}()
		j = job(buildhost.Step{Run: "echo started; sleep 60"})
		j.Ephemeral = true
		res, err = buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Container: name})
		if err == nil {
			t.Errorf("run: passed; want a failure once the container stopped\n%s", log.String())
		}
		t.Logf("stopped under the job: %v", err)
		gone(t, d, res.Container)
	})
}

// TestOrigin: a job made from a template's snapshot finds what was put in
// the template, which the job leaves as it was. The figure compares the
// fast path with a job that provisions a fresh image itself.
func TestOrigin(t *testing.T) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 4*time.Minute)
		tpl := testhost.Name("jobtpl")
		if err := d.Create(ctx, tpl, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Delete(context.Background(), tpl) })
		const provision = "mkdir -p /opt/tools && i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo tool $i > /opt/tools/t$i; done"
		const check = "cat /opt/tools/t300; echo built > /opt/tools/out"
		if _, err := transport.Run(ctx, d.Transport(tpl), "/bin/sh", "-c", provision); err != nil {
			t.Fatal(err)
		}
		if err := host.New(d.API()).Snapshots(tpl).Create(ctx, api.InstanceSnapshotsPost{Name: "ready"}); err != nil {
			t.Fatal(err)
		}

		run := func(j *buildhost.Job) (string, time.Duration) {
			t.Helper()
			var log safeBuffer
			start := time.Now()
			res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Container: testhost.Name("joborigin")})
			took := time.Since(start)
			if err != nil || res.Steps[len(res.Steps)-1].Status != buildhost.StatusOK {
				t.Fatalf("run: %v, %+v\n%s", err, res, log.String())
			}
			gone(t, d, res.Container)
			return log.String(), took
		}
		warm := &buildhost.Job{Name: "warm", Origin: tpl + "/ready", Steps: []buildhost.Step{{Run: check}}}
		out, fromTemplate := run(warm)
		if !strings.Contains(out, "tool 300") {
			t.Errorf("the job did not find the template's files:\n%s", out)
		}
		fresh := job(buildhost.Step{Run: provision}, buildhost.Step{Run: check})
		_, fromImage := run(fresh)
		if _, err := transport.Run(ctx, d.Transport(tpl), "test", "!", "-e", "/opt/tools/out"); err != nil {
			t.Errorf("the job wrote into its template: %v", err)
		}
		t.Logf("figure: a job from a template snapshot %.2f s, from the image provisioning itself %.2f s",
			fromTemplate.Seconds(), fromImage.Seconds())

		// A missing snapshot: nothing is made, and the error says so.
		_, err := buildhost.Run(ctx, d, &buildhost.Job{Name: "gone", Origin: tpl + "/nosuch", Steps: []buildhost.Step{{Run: "true"}}},
			buildhost.Options{Container: testhost.Name("jobnosnap")})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("origin of a missing snapshot: %v; want not found", err)
		}
	})
}

// TestOriginDebian measures the fast path on a real Debian container: a
// job that provisions real packages (the local package source of
// testkit/debrepo) on a fresh image, against one made from a template
// snapshot that holds them already. Both must find the packages; the
// figure is for BENCHMARKS.md. The REST driver, both daemons (TestOrigin
// covers both drivers).
func TestOriginDebian(t *testing.T) {
	dir, err := debrepo.Dir()
	if err != nil {
		testhost.Unavailable(t, "%v", err)
	}
	testhost.Integration(t)
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			t.Parallel()
			originDebian(t, th.Name, rest.New(testhost.Connect(t, th)), dir)
		})
	}
}

func originDebian(t *testing.T, daemon string, d driver.Driver, dir string) {
	ctx := testhost.Context(t, 6*time.Minute)
	tpl := testhost.Name("debtpl")
	t.Cleanup(func() { _ = d.Delete(context.Background(), tpl) })
	if err := d.Create(ctx, tpl, driver.CreateOptions{Image: driver.Image{Alias: testhost.NestImage}}); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			testhost.Unavailable(t, "%v", err)
		}
		t.Fatal(err)
	}
	ip, err := driver.WaitForIP(ctx, d, tpl, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := debrepo.Serve(dir, ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	provision, err := cloudconfig.Parse("provision", []byte("#cloud-config\nwrite_files:\n  - path: /etc/apt/sources.list\n"+
		"    content: "+strconv.Quote(srv.SourcesList())+"\npackage_update: true\npackages: [hello, sl]\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The template, provisioned once as the fresh job will be.
	if err := cloudconfig.Apply(ctx, d.Transport(tpl), provision, cloudconfig.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, tpl, driver.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := host.New(d.API()).Snapshots(tpl).Create(ctx, api.InstanceSnapshotsPost{Name: "ready"}); err != nil {
		t.Fatal(err)
	}
	const check = "hello && test -x /usr/games/sl"
	run := func(j *buildhost.Job) time.Duration {
		t.Helper()
		var log safeBuffer
		start := time.Now()
		res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Container: testhost.Name("debjob")})
		took := time.Since(start)
		if err != nil || !strings.Contains(log.String(), "Hello, world!") {
			t.Fatalf("run: %v, %+v\n%s", err, res, log.String())
		}
		gone(t, d, res.Container)
		return took
	}
	fromTemplate := run(&buildhost.Job{Name: "warm", Origin: tpl + "/ready", Steps: []buildhost.Step{{Run: check}}})
	fresh := &buildhost.Job{Name: "fresh", Image: spec.Image{Alias: testhost.NestImage},
		Provision: []buildhost.Provision{{Config: provision}}, Steps: []buildhost.Step{{Run: check}}}
	fromImage := run(fresh)
	t.Logf("figure: %s: a Debian job needing 2 packages (hello, sl): from a template snapshot %.1f s, from the image provisioning them %.1f s (%.2fx)",
		daemon, fromTemplate.Seconds(), fromImage.Seconds(), fromImage.Seconds()/fromTemplate.Seconds())
}
