package instance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/spf13/cobra"
)

// Lifecycle actions.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionDelete  = "delete"
	ActionRestart = "restart"
	ActionPause   = "pause"
	ActionResume  = "resume"
)

// LifecycleOptions are the inputs of start, stop and delete.
type LifecycleOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Action string // one of the Action constants
	Names  []string
	Stop   driver.StopOptions // for ActionStop
}

// NewCmdStart returns `lxkit start`.
func NewCmdStart(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	cmd, _ := namesCommand(f, ActionStart, "Start containers (running ones are left as they are)", runF)
	return cmd
}

// NewCmdDelete returns `lxkit delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	cmd, _ := namesCommand(f, ActionDelete, "Stop (forcibly) and delete containers; a missing one is not an error", runF)
	cmd.Use += " [-f]"
	var force bool
	cmd.Flags().BoolVarP(&force, "force", "f", false, "accepted as lxc takes it: delete always stops a running container at once")
	return cmd
}

// NewCmdStop returns `lxkit stop`.
func NewCmdStop(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	opts := newLifecycleOptions(f, ActionStop)
	var timeout, interval cmdutil.Duration
	cmd := &cobra.Command{
		Use:   "stop NAME... [--force] [--timeout D] [--retry-interval D] [--retry-count N]",
		Short: "Stop containers (stopped ones are left as they are)",
		Long: `Stop containers gracefully, or at once with --force.

A graceful stop sends the stop again, in case the container's init was not
yet listening: after 1, 2, 4 and 8 seconds, then every --retry-interval,
until the container stops, --timeout passes or --retry-count resends were
made. Durations are Go
durations (30s, 2m) or seconds.`,
		Args: cmdutil.MinimumArgs(1, "at least one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Stop.RetryCount < 0 {
				return cmdutil.FlagErrorf("--retry-count must not be negative")
			}
			opts.Names = args
			opts.Stop.Timeout = time.Duration(timeout)
			opts.Stop.RetryInterval = time.Duration(interval)
			return runLifecycle(cmd.Context(), opts, runF)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Stop.Force, "force", false, "kill the containers at once")
	fl.Var(&timeout, "timeout", "bound on the whole graceful stop (default: none)")
	fl.Var(&interval, "retry-interval", "the longest a stop request waits before it is sent again (default 10s)")
	fl.IntVar(&opts.Stop.RetryCount, "retry-count", 0, "how many times the stop is sent again (default: no bound)")
	return cmd
}

// NewCmdRestart returns `lxkit restart`.
func NewCmdRestart(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	opts := newLifecycleOptions(f, ActionRestart)
	var timeout cmdutil.Duration
	cmd := &cobra.Command{
		Use:   "restart NAME... [--force] [--timeout D]",
		Short: "Stop containers and start them again (stopped ones are started)",
		Long: `Stop containers, gracefully or with --force at once, and start them again.
A stopped container is started. An ephemeral one is restarted by its
daemon, as lxc restart does: a stop would delete it. Durations are Go
durations (30s, 2m) or seconds.`,
		Args: cmdutil.MinimumArgs(1, "at least one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			opts.Stop.Timeout = time.Duration(timeout)
			return runLifecycle(cmd.Context(), opts, runF)
		},
	}
	cmd.Flags().BoolVar(&opts.Stop.Force, "force", false, "kill the containers at once instead of stopping them")
	cmd.Flags().Var(&timeout, "timeout", "bound on the graceful stop (default: none)")
	return cmd
}

// NewCmdPause returns `lxkit pause`.
func NewCmdPause(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	cmd, _ := namesCommand(f, ActionPause, "Freeze running containers' processes (frozen ones are left as they are)", runF)
	return cmd
}

// NewCmdResume returns `lxkit resume`.
func NewCmdResume(f *cmdutil.Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	cmd, _ := namesCommand(f, ActionResume, "Thaw frozen containers (running ones are left as they are)", runF)
	return cmd
}

// namesCommand returns the command of action, `lxkit ACTION NAME...`,
// and its options, for the caller to add flags to.
func namesCommand(f *cmdutil.Factory, action, short string, runF func(context.Context, *LifecycleOptions) error) (*cobra.Command, *LifecycleOptions) {
	opts := newLifecycleOptions(f, action)
	return &cobra.Command{
		Use:   action + " NAME...",
		Short: short,
		Args:  cmdutil.MinimumArgs(1, "at least one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return runLifecycle(cmd.Context(), opts, runF)
		},
	}, opts
}

func newLifecycleOptions(f *cmdutil.Factory, action string) *LifecycleOptions {
	return &LifecycleOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, Action: action}
}

func runLifecycle(ctx context.Context, opts *LifecycleOptions, runF func(context.Context, *LifecycleOptions) error) error {
	if runF != nil {
		return runF(ctx, opts)
	}
	return lifecycleRun(ctx, opts)
}

// lifecycleRun acts on every container at once. All names are checked
// first; the errors of the containers that failed are reported together,
// in argument order.
func lifecycleRun(ctx context.Context, opts *LifecycleOptions) error {
	if err := cmdutil.ValidateNames(opts.Names...); err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	act := func(name string) error {
		switch opts.Action {
		case ActionStart:
			return d.Start(ctx, name)
		case ActionStop:
			return d.Stop(ctx, name, opts.Stop)
		case ActionDelete:
			return d.Delete(ctx, name)
		case ActionRestart:
			return restart(ctx, d, name, opts.Stop)
		case ActionPause, ActionResume:
			return freeze(ctx, d, name, opts.Action == ActionPause)
		}
		return errors.New("unknown action " + opts.Action)
	}
	names := unique(opts.Names)
	errs := make([]error, len(names))
	// Nested containers go level by level: a container before the one it
	// runs in when stopping or deleting, after it when starting.
	depth := func(i int) int { return strings.Count(names[i], "/") }
	maxDepth := 0
	for i := range names {
		maxDepth = max(maxDepth, depth(i))
	}
	for level := 0; level <= maxDepth; level++ {
		want := level
		if opts.Action != ActionStart {
			want = maxDepth - level
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, maxParallel)
		for i, name := range names {
			if depth(i) != want {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				errs[i] = act(name)
			})
		}
		wg.Wait()
	}
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// maxParallel bounds how many containers are acted on at once.
const maxParallel = 8

func unique(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// freeze freezes (pause) or thaws (resume) a container; one that is so
// already is left as it is. A stopped one is refused: there is nothing
// to freeze, and resume does not start it.
func freeze(ctx context.Context, d driver.Driver, name string, pause bool) error {
	status, err := d.Status(ctx, name)
	if err != nil {
		return err
	}
	want, action := "running", "unfreeze"
	if pause {
		want, action = "frozen", "freeze"
	}
	switch status {
	case want:
		return nil
	case "running", "frozen":
	default:
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil, "%s is %s: only a running container can be paused, and only a frozen one resumed", name, status)
	}
	h, base, err := hostOf(ctx, d, name)
	if err != nil {
		return err
	}
	return h.SetInstanceState(ctx, base, api.InstanceStatePut{Action: action, Timeout: -1})
}

// restart stops a container and starts it again. An ephemeral one is
// restarted by the daemon's restart action, which keeps it where a stop
// would delete it; the others are stopped by Stop, which sends the stop
// again to an init not yet listening for it.
func restart(ctx context.Context, d driver.Driver, name string, stop driver.StopOptions) error {
	h, base, err := hostOf(ctx, d, name)
	if err != nil {
		return err
	}
	inst, err := h.Instances().Get(ctx, base)
	if err != nil {
		return err
	}
	if !inst.Ephemeral || strings.EqualFold(inst.Status, driver.StatusStopped) {
		if err := d.Stop(ctx, name, stop); err != nil {
			return err
		}
		return d.Start(ctx, name)
	}
	req := api.InstanceStatePut{Action: "restart", Force: stop.Force, Timeout: -1}
	if stop.Timeout > 0 {
		req.Timeout = int((stop.Timeout + time.Second - 1) / time.Second)
	}
	return h.SetInstanceState(ctx, base, req)
}
