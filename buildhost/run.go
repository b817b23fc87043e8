package buildhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/internal/procid"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// Keys of the configuration a job's container carries.
const (
	// KeyJob holds the job's name: the container belongs to a job.
	KeyJob = "user.lxkit.job"
	// KeyDeadline holds the time (RFC 3339) after which the container is
	// a leftover that Reap deletes: the job's start, its timeout and
	// DeadlineGrace.
	KeyDeadline = "user.lxkit.job.deadline"
	// KeyRunner names the process that runs the job (internal/procid):
	// once it has ended on this machine without deleting the container (a
	// daemon or the runner died), the container is a leftover too. A kept
	// container loses the key.
	KeyRunner = "user.lxkit.job.runner"
)

// DeadlineGrace is how long after its job's timeout a container is still
// not a leftover.
const DeadlineGrace = 10 * time.Minute

// Keep says when a job's container outlives the job, for a look inside.
type Keep int

const (
	KeepNever     Keep = iota // delete it whatever happened (the default)
	KeepOnFailure             // keep it when the job failed
	KeepAlways                // never delete it
)

// Options are how a job is run.
type Options struct {
	// Log receives step headers and the steps' output (stdout and stderr
	// together) as it comes; nil discards.
	Log io.Writer
	// ArtifactsDir receives the artifacts; empty fetches none.
	ArtifactsDir string
	Keep         Keep
	// Container names the container; empty makes lxkit-job-NAME-XXXXXX.
	Container string
	// Secrets hold the values of the job's secrets (and may hold more).
	Secrets map[string]string
	// Target places the container on a cluster: a member, or "@GROUP";
	// empty lets the cluster choose.
	Target string
}

// Result is what a job did.
type Result struct {
	Container string
	Steps     []StepResult
	// Artifacts are the local paths of the fetched artifacts; Missing
	// those that a failed job did not make.
	Artifacts []string
	Missing   []string
	// Kept says the container was left on the host.
	Kept     bool
	Duration time.Duration
}

// Failed reports whether a step failed (continue-on-error ones included).
func (r *Result) Failed() bool {
	for _, s := range r.Steps {
		if s.Status == StatusFailed || s.Status == StatusTimedOut {
			return true
		}
	}
	return false
}

// StepResult is what one step did. A job's provisioning stage, when it
// has one, is the first, named ProvisionStep.
type StepResult struct {
	Name     string
	Status   string // one of the Status constants
	ExitCode int    // the script's exit code; -1 when it did not exit
	Duration time.Duration
	// Continued says the step failed and the job went on
	// (continue-on-error).
	Continued bool
}

// Statuses of a step.
const (
	StatusOK       = "ok"
	StatusFailed   = "failed"
	StatusTimedOut = "timed out"
	StatusSkipped  = "skipped"
)

// StepError is Run's error when a step failed: the job failed, not lxkit.
// A failed provisioning stage is one too, its Step ProvisionStep.
type StepError struct {
	Step     string
	ExitCode int
	TimedOut bool
	// Err is what failed, when the exit code does not say it all: the
	// cloud-config item of a failed provisioning (a
	// *cloudconfig.StepError).
	Err error
}

func (e *StepError) Error() string {
	if e.Err != nil {
		return "step " + e.Step + " " + e.what() + ": " + e.Err.Error()
	}
	return "step " + e.Step + " " + e.what()
}

func (e *StepError) Unwrap() error { return e.Err }

func (e *StepError) what() string {
	if e.TimedOut {
		return "timed out"
	}
	return fmt.Sprintf("failed with exit code %d", e.ExitCode)
}

// Run runs a job on the host of d: a new container (ephemeral if the job
// says so), its provisioning stage applied, the workspace copied into it,
// the steps one after the other, the artifacts fetched, the
// container deleted (unless opts.Keep says otherwise). It returns the
// Result with a *StepError when a step failed, and with another error
// when lxkit could not do its part; on cancellation the container is
// deleted all the same.
func Run(ctx context.Context, d driver.Driver, job *Job, opts Options) (res *Result, err error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	provision, err := job.provisioning()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	timeout := time.Duration(job.Timeout)
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	name := opts.Container
	if name == "" {
		name = ContainerName(job.Name)
	}
	if err := driver.ValidateName(name); err != nil {
		return nil, err
	}
	var values []string
	for _, k := range job.Secrets {
		v, ok := opts.Secrets[k]
		if !ok {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "job %s: secret %s is not set", job.Name, k)
		}
		values = append(values, v)
	}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	log := &syncWriter{m: newMasker(out, values)}
	defer log.Flush()
	res = &Result{Container: name}
	defer func() { res.Duration = time.Since(start) }()

	jobCtx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("job %s timed out after %s: %w", job.Name, timeout, context.DeadlineExceeded))
	defer cancel()
	created := false
	defer func() {
		if ctx.Err() == nil && jobCtx.Err() != nil && err != nil {
			err = fmt.Errorf("%w: %w", context.Cause(jobCtx), err)
		}
		keep := opts.Keep == KeepAlways || (opts.Keep == KeepOnFailure && err != nil)
		if keep && created {
			if len(job.Secrets) > 0 {
				// A deleted container takes the secrets file with it;
				// a kept one must not keep it.
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				_, rerr := transport.Run(rctx, d.Transport(name), "rm", "-f", "--", secretsFile(job))
				rcancel()
				if rerr != nil {
					err = errors.Join(err, fmt.Errorf("removing the secrets file from the kept container: %w", rerr))
				}
			}
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			if uerr := d.Update(uctx, name, driver.UpdateOptions{Config: map[string]string{KeyRunner: ""}}); uerr != nil {
				err = errors.Join(err, fmt.Errorf("marking the container kept: %w", uerr))
			}
			ucancel()
			res.Kept = true
			fmt.Fprintf(log, "==> kept container %s\n", name)
			return
		}
		// The caller's context may have ended: the delete has its own.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer dcancel()
		if derr := d.Delete(dctx, name); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting job container %s: %w", name, derr))
		}
	}()

	config := maps.Clone(job.Config)
	if config == nil {
		config = map[string]string{}
	}
	config[KeyJob] = job.Name
	config[KeyDeadline] = start.Add(timeout + DeadlineGrace).UTC().Format(time.RFC3339)
	if id := procid.Self(); id != "" {
		config[KeyRunner] = id
	}
	fmt.Fprintf(log, "==> creating %s\n", name)
	if err := d.Create(jobCtx, name, driver.CreateOptions{
		Image: fleet.DriverImage(job.Image), Source: job.Origin, Profiles: job.Profiles, Config: config, Devices: job.Devices,
		Target: opts.Target, Ephemeral: job.Ephemeral,
	}); err != nil {
		return res, err // a failed create leaves nothing (the delete below makes sure)
	}
	created = true
	tr := d.Transport(name)
	var failed error // a *StepError of the provisioning
	if provision != nil {
		if failed = provisionStage(jobCtx, tr, provision, log, res); failed != nil && !errors.As(failed, new(*StepError)) {
			return res, failed
		}
	}
	if err := prepare(jobCtx, tr, job, opts.Secrets); err != nil {
		return res, errors.Join(failed, err)
	}
	stepErr := runSteps(jobCtx, tr, job, log, res, failed)
	if stepErr != nil && !errors.As(stepErr, new(*StepError)) {
		return res, stepErr
	}
	if opts.ArtifactsDir != "" {
		if err := fetch(jobCtx, tr, job, opts.ArtifactsDir, stepErr != nil || res.Failed(), res); err != nil {
			return res, errors.Join(stepErr, err)
		}
	}
	return res, stepErr
}

// ContainerName makes a new container name for a job: lxkit-job-, as much
// of the job's name as fits (letters, digits and hyphens), and six random
// hex digits.
func ContainerName(job string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(job) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-")
	const room = 63 - len("lxkit-job-") - len("-123456")
	if len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-")
	}
	random := make([]byte, 3)
	_, _ = rand.Read(random)
	if slug == "" {
		return "lxkit-job-" + hex.EncodeToString(random)
	}
	return "lxkit-job-" + slug + "-" + hex.EncodeToString(random)
}

// secretsFile is where a job's secrets are while its steps run.
func secretsFile(job *Job) string { return path.Join(path.Dir(job.Dir), ".lxkit-secrets") }

// prepare makes Dir, owned by the job's user, with the workspace in it,
// and the secrets file that only the job's user can read. The workspace
// is uploaded next to Dir and moved into place, since a folder upload
// keeps the folder's own name.
func prepare(ctx context.Context, tr transport.Transport, job *Job, secrets map[string]string) error {
	stage := path.Join(path.Dir(job.Dir), ".lxkit-workspace")
	secretsPath := ""
	if len(job.Secrets) > 0 {
		var b strings.Builder
		for _, k := range job.Secrets {
			q, err := shquote.Quote(secrets[k])
			if err != nil {
				return fmt.Errorf("secret %s: %w", k, err)
			}
			fmt.Fprintf(&b, "%s=%s\n", k, q)
		}
		secretsPath = secretsFile(job)
		if err := tr.WriteFile(ctx, secretsPath, strings.NewReader(b.String()), transport.FileOptions{Mode: 0o400}); err != nil {
			return fmt.Errorf("writing the secrets file: %w", err)
		}
	}
	// Arguments travel as $1.. and are never parsed by the shell.
	const script = `set -e
dir=$1 stage=$2 base=$3 user=$4 secrets=$5
[ -z "$secrets" ] || [ -z "$user" ] || chown -- "$user" "$secrets"
if [ -n "$base" ]; then
  [ ! -d "$dir" ] || rmdir -- "$dir" || { echo "dir $dir exists and is not empty" >&2; exit 1; }
  mv -- "$stage/$base" "$dir"
  rmdir -- "$stage"
else
  mkdir -p -- "$dir"
fi
[ -z "$user" ] || chown -R -- "$user" "$dir"`
	base := ""
	if job.Workspace != "" {
		if _, err := transport.Run(ctx, tr, "mkdir", "-p", "--", stage); err != nil {
			return fmt.Errorf("making %s: %w", stage, err)
		}
		if err := transport.UploadFolder(ctx, tr, job.Workspace, stage); err != nil {
			return fmt.Errorf("uploading workspace %s: %w", job.Workspace, err)
		}
		base = filepath.Base(filepath.Clean(job.Workspace))
		if abs, err := filepath.Abs(job.Workspace); err == nil {
			base = filepath.Base(abs)
		}
	}
	if _, err := transport.Run(ctx, tr, "/bin/sh", "-c", script, "sh", job.Dir, stage, base, job.User, secretsPath); err != nil {
		return fmt.Errorf("preparing %s: %w", job.Dir, err)
	}
	return nil
}

// provisionStage applies the job's cloud-config as root, recording it in
// res as the step ProvisionStep. A cloud-config item that fails is the
// job's failure, a *StepError; what kept lxkit from applying it (the
// container gone, the daemon unreachable) is returned as it is.
func provisionStage(ctx context.Context, tr transport.Transport, cfg *cloudconfig.Config, log *syncWriter, res *Result) error {
	fmt.Fprintf(log, "==> %s\n", ProvisionStep)
	begin := time.Now()
	err := cloudconfig.Apply(ctx, tr, cfg, cloudconfig.ApplyOptions{
		Stdout: log, Stderr: log,
		Progress: func(step string) { fmt.Fprintf(log, "--> %s\n", step) },
	})
	sr := StepResult{Name: ProvisionStep, ExitCode: -1, Duration: time.Since(begin)}
	log.Flush()
	var (
		stepErr  *StepError
		applyErr *cloudconfig.StepError
		exitErr  *transport.ExitError
	)
	switch {
	case err == nil:
		sr.Status, sr.ExitCode = StatusOK, 0
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		sr.Status = StatusTimedOut
		stepErr = &StepError{Step: ProvisionStep, ExitCode: -1, TimedOut: true, Err: err}
	case errors.As(err, &exitErr) && errors.As(err, &applyErr):
		sr.Status, sr.ExitCode = StatusFailed, exitErr.Code
		stepErr = &StepError{Step: ProvisionStep, ExitCode: exitErr.Code, Err: err}
	case errors.As(err, &applyErr) && ctx.Err() == nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrUnavailable):
		// A cloud-config item refused without a command's exit (an
		// owner that does not exist, say): the job's failure all the same.
		sr.Status, sr.ExitCode = StatusFailed, 1
		stepErr = &StepError{Step: ProvisionStep, ExitCode: 1, Err: err}
	default:
		res.Steps = append(res.Steps, sr)
		return fmt.Errorf("%s: %w", ProvisionStep, err)
	}
	res.Steps = append(res.Steps, sr)
	if stepErr != nil {
		fmt.Fprintf(log, "==> %s %s (%s): %v\n", ProvisionStep, stepErr.what(), sr.Duration.Round(time.Millisecond), err)
		return stepErr
	}
	return nil
}

// runSteps runs the steps in order, recording each in res. It returns a
// *StepError for the first failed step (continue-on-error ones aside),
// failed (a failed provisioning, after which only the always steps run)
// when none did, or what kept a step from running.
func runSteps(ctx context.Context, tr transport.Transport, job *Job, log *syncWriter, res *Result, failed error) error {
	for i, s := range job.Steps {
		sr := StepResult{Name: s.Name, ExitCode: -1}
		if failed != nil && !s.Always {
			sr.Status = StatusSkipped
			res.Steps = append(res.Steps, sr)
			fmt.Fprintf(log, "==> step %d/%d: %s: skipped\n", i+1, len(job.Steps), s.Name)
			continue
		}
		fmt.Fprintf(log, "==> step %d/%d: %s\n", i+1, len(job.Steps), s.Name)
		env := map[string]string{"LXKIT_JOB": job.Name, "LXKIT_STEP": s.Name}
		maps.Copy(env, job.Env)
		maps.Copy(env, s.Env)
		args := []string{"/bin/sh", "-e", "-c", s.Run}
		if len(job.Secrets) > 0 {
			// The secrets become variables of the shell that then runs
			// the script, as the script alone would have run.
			args = []string{"/bin/sh", "-c", `set -a; . "$1" || exit 125; set +a; exec /bin/sh -e -c "$2"`, "sh", secretsFile(job), s.Run}
		}
		begin := time.Now()
		r, err := tr.Exec(ctx, transport.Command{
			Args:    args,
			Stdout:  log,
			Stderr:  log,
			Env:     env,
			Dir:     job.Dir,
			User:    job.User,
			Timeout: time.Duration(s.Timeout),
		})
		sr.Duration = time.Since(begin)
		log.Flush()
		var stepErr *StepError
		switch {
		case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			sr.Status = StatusTimedOut
			stepErr = &StepError{Step: s.Name, ExitCode: -1, TimedOut: true}
		case err != nil:
			res.Steps = append(res.Steps, sr)
			return fmt.Errorf("step %s: %w", s.Name, err)
		case r.ExitCode != 0:
			sr.Status, sr.ExitCode = StatusFailed, r.ExitCode
			stepErr = &StepError{Step: s.Name, ExitCode: r.ExitCode}
		default:
			sr.Status, sr.ExitCode = StatusOK, 0
		}
		sr.Continued = stepErr != nil && s.ContinueOnError
		res.Steps = append(res.Steps, sr)
		if stepErr != nil {
			fmt.Fprintf(log, "==> step %s %s (%s)\n", s.Name, stepErr.what(), sr.Duration.Round(time.Millisecond))
			if !s.ContinueOnError && failed == nil {
				failed = stepErr
			}
		}
	}
	return failed
}

// fetch copies the artifacts into dir, keeping their paths. Artifacts a
// failed job did not make are recorded as missing; for a job that
// succeeded they are an error.
func fetch(ctx context.Context, tr transport.Transport, job *Job, dir string, failed bool, res *Result) error {
	remote := make([]string, len(job.Artifacts))
	for i, a := range job.Artifacts {
		remote[i] = path.Join(job.Dir, a)
	}
	// One exec tells what each artifact is: d(irectory), f(ile) or -.
	kinds, err := transport.Run(ctx, tr, append([]string{"/bin/sh", "-c",
		`for p; do if [ -d "$p" ]; then echo d; elif [ -e "$p" ]; then echo f; else echo -; fi; done`, "sh"}, remote...)...)
	if err != nil {
		return fmt.Errorf("looking for artifacts: %w", err)
	}
	kind := strings.Fields(kinds)
	if len(kind) != len(remote) {
		return fmt.Errorf("looking for artifacts: unexpected answer %q", kinds)
	}
	for i, a := range job.Artifacts {
		local := filepath.Join(dir, filepath.FromSlash(path.Clean(a)))
		switch kind[i] {
		case "-":
			if !failed {
				return fmt.Errorf("artifact %s: %s not found in the container", a, remote[i])
			}
			res.Missing = append(res.Missing, a)
			continue
		case "d":
			_, err = transport.DownloadFolder(ctx, tr, remote[i], filepath.Dir(local))
		default:
			if err = os.MkdirAll(filepath.Dir(local), 0o755); err == nil {
				err = transport.DownloadFile(ctx, tr, remote[i], local)
			}
		}
		if err != nil {
			return fmt.Errorf("artifact %s: %w", a, err)
		}
		res.Artifacts = append(res.Artifacts, local)
	}
	return nil
}

// syncWriter lets a command's stdout and stderr share one masked log.
type syncWriter struct {
	mu sync.Mutex
	m  *masker
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Write(p)
}

// Flush writes what the masker kept back, at the end of a step's output.
func (s *syncWriter) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.m.Flush()
}
