package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of `lxkit list`.
type ListOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Prefix   string
	Statuses []string // lower case; empty means all
}

// NewCmdList returns `lxkit list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var statuses []string
	cmd := &cobra.Command{
		Use:   "list [PREFIX] [--status S,...]",
		Short: "List containers, optionally those whose name starts with PREFIX",
		Long: `List containers: a table of NAME, STATUS and IPV4, or with --format json or
yaml the full records (configuration and, as "state", the runtime state).`,
		Example: `  lxkit list
  lxkit list web- --status running
  lxkit list --status stopped,frozen --format json`,
		Args: cmdutil.MaximumArgs(1, "at most one name prefix"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Prefix = args[0]
			}
			opts.Statuses = nil
			for _, s := range statuses {
				if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
					opts.Statuses = append(opts.Statuses, s)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only containers with these statuses (running, stopped, frozen, ...)")
	return cmd
}

// Record is one container in the json and yaml output of list.
type Record struct {
	api.Instance
	State *api.InstanceState `json:"state"`
}

func listRun(ctx context.Context, opts *ListOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	all, err := listHost(ctx, d, opts.Prefix)
	if err != nil {
		return err
	}
	recs := filter(all, opts.Prefix, opts.Statuses)
	if err := addStates(ctx, d, recs); err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, recs, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		clustered := slices.ContainsFunc(recs, func(r Record) bool { return hostapi.OnCluster(r.Location) })
		head := "NAME\tSTATUS\tIPV4"
		if clustered {
			head += "\tLOCATION"
		}
		fmt.Fprintln(tw, head)
		for _, r := range recs {
			ip := ""
			if r.State != nil {
				ip = driver.FirstIPv4(r.State)
			}
			row := fmt.Sprintf("%s\t%s\t%s", r.Name, strings.ToLower(r.Status), ip)
			if clustered {
				row += "\t" + r.Location
			}
			fmt.Fprintln(tw, row)
		}
		return tw.Flush()
	})
}

// listHost lists the host that prefix points into: the top host, or for
// "outer/..." the LXD inside outer, its names given as paths.
func listHost(ctx context.Context, d driver.Driver, prefix string) ([]api.Instance, error) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return d.List(ctx)
	}
	host, err := driver.HostAt(ctx, d, prefix[:i])
	if err != nil {
		return nil, err
	}
	all, err := host.List(ctx)
	for j := range all {
		all[j].Name = prefix[:i] + "/" + all[j].Name
	}
	return all, err
}

// filter keeps the containers with the prefix and one of the statuses,
// sorted by name.
func filter(all []api.Instance, prefix string, statuses []string) []Record {
	recs := []Record{}
	for _, inst := range all {
		if !strings.HasPrefix(inst.Name, prefix) {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, strings.ToLower(inst.Status)) {
			continue
		}
		recs = append(recs, Record{Instance: inst})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	return recs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// addStates reads the state of each container, a few at a time. A
// container deleted meanwhile keeps a nil state, and so does one on a
// cluster member that does not answer (the daemon lists it as "Error",
// as lxc list shows it).
func addStates(ctx context.Context, d driver.Driver, recs []Record) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, maxParallel)
	for i := range recs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := d.State(ctx, recs[i].Name)
			if err == nil {
				recs[i].State = st
				return
			}
			if errors.Is(err, errdefs.ErrNotFound) || hostapi.MemberDown.In(err) {
				return
			}
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return firstErr
}
