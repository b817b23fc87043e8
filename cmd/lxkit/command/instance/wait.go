package instance

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/spf13/cobra"
)

// Conditions that `lxkit wait` waits for.
const (
	WaitIP        = "ip"
	WaitCloudInit = "cloud-init"
)

// WaitOptions are the inputs of `lxkit wait`.
type WaitOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name    string
	For     string // WaitIP or WaitCloudInit
	Timeout time.Duration
}

// NewCmdWait returns `lxkit wait`.
func NewCmdWait(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var timeout cmdutil.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME ip|cloud-init [--timeout D]",
		Short: "Wait for a container's IPv4 address (printed) or for cloud-init to finish",
		Long: `Wait until a container has a global IPv4 address, and print it; or until
cloud-init has finished in it (an image without cloud-init is an error).
Without --timeout, wait until interrupted.`,
		Args: cmdutil.ExactArgs(2, "a container name and what to wait for (ip or cloud-init)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.For = args[0], args[1]
			if opts.For != WaitIP && opts.For != WaitCloudInit {
				return cmdutil.FlagErrorf("wait for %q: use ip or cloud-init", opts.For)
			}
			opts.Timeout = time.Duration(timeout)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return waitRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&timeout, "timeout", "give up after this long (default: no limit)")
	return cmd
}

func waitRun(ctx context.Context, opts *WaitOptions) error {
	if err := cmdutil.ValidateNames(opts.Name); err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	if opts.For == WaitCloudInit {
		return driver.WaitForCloudInit(ctx, d, opts.Name, opts.Timeout)
	}
	ip, err := driver.WaitForIP(ctx, d, opts.Name, opts.Timeout)
	if err != nil {
		return err
	}
	out := struct {
		Name string `json:"name"`
		IPv4 string `json:"ipv4"`
	}{opts.Name, ip}
	return cmdutil.Print(opts.IO, opts.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, ip)
		return err
	})
}
