// Package job holds `lxkit job`: run a job in a throwaway container (as a
// CI system's build host), list job containers, reap leftovers.
package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
)

// Options are the inputs of the job commands.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Files     []string // job files: run them all, Parallel at a time
	Parallel  int      // --parallel N
	Target    string   // --target MEMBER|@GROUP, on a cluster
	Artifacts string   // --artifacts DIR
	Keep      string   // --keep never|on-failure|always
	Name      string   // --name: the container's name
	Props     []string // -p KEY=VALUE
	Jobs      []string // reap --job
	Now       func() time.Time
	// LookupEnv gives the values of the job's secrets.
	LookupEnv func(string) (string, bool)
}

// NewCmdJob returns `lxkit job` and its subcommands.
func NewCmdJob(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Run jobs in throwaway containers, as a CI system's build hosts",
	}
	cmd.AddCommand(NewCmdRun(f, nil), NewCmdList(f, nil), NewCmdReap(f, nil))
	return cmd
}

func newOptions(f *cmdutil.Factory) *Options {
	return &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, Now: time.Now, LookupEnv: os.LookupEnv}
}

// NewCmdRun returns `lxkit job run`.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := &cobra.Command{
		Use:   "run JOB.yaml... [--parallel N] [--target MEMBER|@GROUP]",
		Short: "Run jobs: new container, workspace in, steps, artifacts out, container gone",
		Long: `Make a container for the job, copy the workspace into it, run the steps one
after the other with their output on stdout as it comes, fetch the artifacts
(--artifacts DIR) and delete the container, whatever happened (--keep keeps
it for a look inside). A summary of the steps goes to stderr. The job's
secrets come from lxkit's environment and show as *** in the output.

A job's provision: (cloud-config files, or cloud-config written in the job
file) and packages: are applied first, as root, and summed up as the step
"provision". With ephemeral: true the container is one the daemon deletes
when it stops, so that a crash leaves nothing behind.

The exit status is 0 when every step succeeded, the failing step's exit
status when one failed (124 when it timed out), 1 when lxkit could not do
its part. See the README for the job file.

Several job files run --parallel N at a time (one by default), each in a
container of its own, their output lines prefixed with the job's name; the
exit status is 0 when every job passed, else 1. On a cluster the cluster
places each container, or --target does: a member, or @GROUP.`,
		Example: `  lxkit job run ci/unit.yaml --artifacts out
  lxkit --host lxd-cluster job run --parallel 3 ci/unit.yaml ci/lint.yaml ci/e2e.yaml`,
		Args: cmdutil.MinimumArgs(1, "a job file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if cmd.Flags().Changed("name") && opts.Name == "" {
				return cmdutil.FlagErrorf("--name: empty: leave it out for the default")
			}
			if opts.Name != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--name names one container: give one job file")
			}
			if opts.Parallel < 1 {
				return cmdutil.FlagErrorf("--parallel %d: give 1 or more", opts.Parallel)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if len(args) > 1 {
				return runAll(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts, args[0], opts.IO.Out, opts.IO.ErrOut)
		},
	}
	cmd.Flags().IntVar(&opts.Parallel, "parallel", 1, "run up to `N` jobs at once")
	cmd.Flags().StringVar(&opts.Target, "target", "", "on a cluster, the member (or @GROUP) for the containers")
	opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
	cmd.Flags().StringVar(&opts.Artifacts, "artifacts", "", "fetch the job's artifacts into `DIR`")
	cmd.Flags().StringVar(&opts.Keep, "keep", "never", "keep the container: never, on-failure or always")
	cmd.Flags().StringVar(&opts.Name, "name", "", "the container's name (default lxkit-job-NAME-XXXXXX)")
	cmd.Flags().StringArrayVarP(&opts.Props, "property", "p", nil, "property KEY=VALUE for ${KEY}, repeatable (wins over the file's)")
	return cmd
}

// runAll runs several jobs, opts.Parallel at a time, each one's output
// and summary lines prefixed with its name (the file's, without its
// extension) and its artifacts in DIR/NAME.
func runAll(ctx context.Context, opts *Options) error {
	var mu sync.Mutex // one line at a time on each stream
	slots := make(chan struct{}, opts.Parallel)
	failed := make([]string, 0, len(opts.Files))
	var wg sync.WaitGroup
	for _, file := range opts.Files {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
			out := &linePrefixer{w: opts.IO.Out, prefix: "[" + name + "] ", mu: &mu}
			errOut := &linePrefixer{w: opts.IO.ErrOut, prefix: "[" + name + "] ", mu: &mu}
			o := *opts // each job's artifacts in a folder of its own
			if o.Artifacts != "" {
				o.Artifacts = filepath.Join(o.Artifacts, name)
			}
			err := run(ctx, &o, file, out, errOut)
			out.flush()
			if err != nil {
				fmt.Fprintf(errOut, "error: %v\n", err)
			}
			errOut.flush()
			if err != nil {
				mu.Lock()
				failed = append(failed, file)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		sort.Strings(failed)
		return &cmdutil.ExitError{Code: 1, Err: fmt.Errorf("%d of %d jobs failed: %s", len(failed), len(opts.Files), strings.Join(failed, ", "))}
	}
	return nil
}

// linePrefixer writes whole lines to w, each after prefix, holding mu for
// each line so that lines of several writers do not mix.
type linePrefixer struct {
	w      io.Writer
	prefix string
	mu     *sync.Mutex
	buf    []byte
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.line(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

// flush writes a last line that has no newline.
func (p *linePrefixer) flush() {
	if len(p.buf) > 0 {
		p.line(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *linePrefixer) line(l []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, p.prefix)
	_, _ = p.w.Write(l)
}

func run(ctx context.Context, opts *Options, file string, out, errOut io.Writer) error {
	keep, ok := map[string]buildhost.Keep{
		"never": buildhost.KeepNever, "on-failure": buildhost.KeepOnFailure, "always": buildhost.KeepAlways,
	}[opts.Keep]
	if !ok {
		return cmdutil.FlagErrorf("--keep %q: use never, on-failure or always", opts.Keep)
	}
	if opts.Name != "" {
		if err := driver.ValidateName(opts.Name); err != nil {
			return &cmdutil.FlagError{Err: fmt.Errorf("--name: %w", err)}
		}
	}
	props, err := cmdutil.ParseConfig(opts.Props, false)
	if err != nil {
		return &cmdutil.FlagError{Err: fmt.Errorf("-p: %w", err)}
	}
	j, err := buildhost.Load(file, props)
	if err != nil {
		return err
	}
	secrets := map[string]string{}
	for _, k := range j.Secrets {
		v, ok := opts.LookupEnv(k)
		if !ok {
			return fmt.Errorf("job %s: secret %s: set it in the environment", j.Name, k)
		}
		secrets[k] = v
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	res, err := buildhost.Run(ctx, d, j, buildhost.Options{
		Log: out, ArtifactsDir: opts.Artifacts, Keep: keep, Container: opts.Name, Secrets: secrets, Target: opts.Target,
	})
	if res != nil && !opts.Globals.Quiet {
		summary(errOut, j, res, err)
	}
	var se *buildhost.StepError
	if errors.As(err, &se) {
		code := se.ExitCode
		if se.TimedOut {
			code = 124
		}
		if code < 1 || code > 255 {
			code = 1
		}
		return &cmdutil.ExitError{Code: code, Err: err}
	}
	return err
}

// summary writes one line per step, then the artifacts and a kept
// container.
func summary(w io.Writer, j *buildhost.Job, res *buildhost.Result, err error) {
	t := cmdutil.NewRows(w)
	for _, s := range res.Steps {
		note := ""
		switch {
		case s.Status == buildhost.StatusFailed && s.Continued:
			note = fmt.Sprintf("exit %d, continued", s.ExitCode)
		case s.Status == buildhost.StatusFailed:
			note = fmt.Sprintf("exit %d", s.ExitCode)
		}
		dur := ""
		if s.Status != buildhost.StatusSkipped {
			dur = s.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", s.Status, s.Name, dur, note)
	}
	t.Flush()
	for _, a := range res.Artifacts {
		fmt.Fprintf(w, "artifact: %s\n", a)
	}
	for _, a := range res.Missing {
		fmt.Fprintf(w, "missing artifact: %s\n", a)
	}
	if res.Kept {
		fmt.Fprintf(w, "kept container: %s\n", res.Container)
	}
	verdict := "passed"
	if err != nil {
		verdict = "failed"
	}
	fmt.Fprintf(w, "job %s: %s in %s\n", j.Name, verdict, res.Duration.Round(time.Millisecond))
}

// hostCmd is a job command without arguments that works on the host's
// driver.
func hostCmd(opts *Options, use, short string, runF func(context.Context, *Options) error, do func(context.Context, driver.Driver) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cmdutil.ExactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			d, err := opts.Driver(cmd.Context())
			if err != nil {
				return err
			}
			return do(cmd.Context(), d)
		},
	}
	opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
	return cmd
}

// NewCmdList returns `lxkit job list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	return hostCmd(opts, "list", "List the job containers of the host, with their deadlines", runF,
		func(ctx context.Context, d driver.Driver) error {
			list, err := buildhost.Containers(ctx, d)
			if err != nil {
				return err
			}
			type row struct {
				Name     string    `json:"name"`
				Job      string    `json:"job"`
				Status   string    `json:"status"`
				Location string    `json:"location,omitempty"`
				Deadline time.Time `json:"deadline"`
			}
			rows := make([]row, 0, len(list))
			clustered := false
			for _, c := range list {
				rows = append(rows, row{c.Name, c.Job, c.Status, c.Location, c.Deadline})
				clustered = clustered || c.Location != ""
			}
			return cmdutil.Print(opts.IO, opts.Globals.Format, rows, func(w io.Writer) error {
				t := cmdutil.NewTable(w)
				header := "NAME\tJOB\tSTATUS\tDEADLINE"
				if clustered {
					header += "\tLOCATION"
				}
				fmt.Fprintln(t, header)
				for _, c := range list {
					deadline := "-"
					if !c.Deadline.IsZero() {
						deadline = c.Deadline.Format(time.RFC3339)
						if c.Deadline.Before(opts.Now()) {
							deadline += " (past)"
						}
					}
					line := c.Name + "\t" + c.Job + "\t" + c.Status + "\t" + deadline
					if clustered {
						line += "\t" + c.Location
					}
					fmt.Fprintln(t, line)
				}
				return t.Flush()
			})
		})
}

// NewCmdReap returns `lxkit job reap`.
func NewCmdReap(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := hostCmd(opts, "reap", "Delete the job containers past their deadline (left by a runner that died, or kept)", runF,
		func(ctx context.Context, d driver.Driver) error {
			deleted, err := buildhost.Reap(ctx, d, opts.Now(), opts.Jobs...)
			for _, name := range deleted {
				fmt.Fprintln(opts.IO.Out, name)
			}
			return err
		})
	cmd.Flags().StringArrayVar(&opts.Jobs, "job", nil, "only the containers of job `NAME` (repeatable)")
	return cmd
}
