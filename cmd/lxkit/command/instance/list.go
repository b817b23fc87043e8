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
	"github.com/lxkit/lxkit/host"
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

// Record is one container in the json and yaml output of list: its
// configuration and, as "state", its runtime state.
type Record = api.InstanceFull

func listRun(ctx context.Context, opts *ListOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	recs, err := listHost(ctx, d, opts.Prefix, opts.Statuses)
	if err != nil {
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

// listHost lists, with their states, the containers of the host that
// prefix points into with the prefix and one of the statuses: the top
// host, or for "outer/..." the LXD inside outer, its names given as
// paths.
func listHost(ctx context.Context, d driver.Driver, prefix string, statuses []string) ([]Record, error) {
	path := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		path = prefix[:i]
	}
	h, err := driver.HostAt(ctx, d, path)
	if err != nil {
		return nil, err
	}
	all, err := host.New(h.API()).InstancesWithState(ctx)
	if err != nil {
		return nil, err
	}
	containers := all[:0]
	for _, inst := range all {
		if inst.IsContainer() {
			if path != "" {
				inst.Name = path + "/" + inst.Name
			}
			containers = append(containers, inst)
		}
	}
	recs := filter(containers, prefix, nil)
	if err := readAgain(ctx, d, recs); err != nil {
		return nil, err
	}
	return filter(recs, "", statuses), nil
}

// filter keeps the containers with the prefix and one of the statuses,
// sorted by name.
func filter(all []Record, prefix string, statuses []string) []Record {
	recs := []Record{}
	for _, inst := range all {
		if !strings.HasPrefix(inst.Name, prefix) {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, strings.ToLower(inst.Status)) {
			continue
		}
		recs = append(recs, inst)
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

// readAgain reads on its own the state of each container that the list
// gave none: the daemons list a container whose state they failed to
// render as status "Error" (LXD 5.0.2 and Incus 6.0.4, GET
// /1.0/instances?recursion=2), as one that is stopping right then
// (hostapi.StateRace, which State waits out) or one on a cluster member
// that does not answer. A container deleted meanwhile, or one on such a
// member, keeps its listed status and no state.
func readAgain(ctx context.Context, d driver.Driver, recs []Record) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, maxParallel)
	for i := range recs {
		if recs[i].State != nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := d.State(ctx, recs[i].Name)
			if err == nil {
				recs[i].State = st
				recs[i].Status, recs[i].StatusCode = st.Status, st.StatusCode
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
