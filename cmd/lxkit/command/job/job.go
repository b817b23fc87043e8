// Package job holds `lxkit job`: run a job in a throwaway container (as a
// CI system's build host), list job containers, reap leftovers.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

	File      string
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
		Use:   "run JOB.yaml",
		Short: "Run a job: new container, workspace in, steps, artifacts out, container gone",
		Long: `Make a container for the job, copy the workspace into it, run the steps one
after the other with their output on stdout as it comes, fetch the artifacts
(--artifacts DIR) and delete the container, whatever happened (--keep keeps
it for a look inside). A summary of the steps goes to stderr. The job's
secrets come from lxkit's environment and show as *** in the output.

The exit status is 0 when every step succeeded, the failing step's exit
status when one failed (124 when it timed out), 1 when lxkit could not do
its part. See the README for the job file.`,
		Args: cmdutil.ExactArgs(1, "a job file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if cmd.Flags().Changed("name") && opts.Name == "" {
				return cmdutil.FlagErrorf("--name: empty: leave it out for the default")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
	cmd.Flags().StringVar(&opts.Artifacts, "artifacts", "", "fetch the job's artifacts into `DIR`")
	cmd.Flags().StringVar(&opts.Keep, "keep", "never", "keep the container: never, on-failure or always")
	cmd.Flags().StringVar(&opts.Name, "name", "", "the container's name (default lxkit-job-NAME-XXXXXX)")
	cmd.Flags().StringArrayVarP(&opts.Props, "property", "p", nil, "property KEY=VALUE for ${KEY}, repeatable (wins over the file's)")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
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
	j, err := buildhost.Load(opts.File, props)
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
		Log: opts.IO.Out, ArtifactsDir: opts.Artifacts, Keep: keep, Container: opts.Name, Secrets: secrets,
	})
	if res != nil && !opts.Globals.Quiet {
		summary(opts.IO.ErrOut, j, res, err)
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
	t := cmdutil.NewTable(w)
	for i, s := range res.Steps {
		note := ""
		switch {
		case s.Status == buildhost.StatusFailed && j.Steps[i].ContinueOnError:
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
				Deadline time.Time `json:"deadline"`
			}
			rows := make([]row, 0, len(list))
			for _, c := range list {
				rows = append(rows, row{c.Name, c.Job, c.Status, c.Deadline})
			}
			return cmdutil.Print(opts.IO, opts.Globals.Format, rows, func(w io.Writer) error {
				t := cmdutil.NewTable(w)
				fmt.Fprintln(t, "NAME\tJOB\tSTATUS\tDEADLINE")
				for _, c := range list {
					deadline := "-"
					if !c.Deadline.IsZero() {
						deadline = c.Deadline.Format(time.RFC3339)
						if c.Deadline.Before(opts.Now()) {
							deadline += " (past)"
						}
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", c.Name, c.Job, c.Status, deadline)
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
