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
	Filters  []listFilter
	Columns  []column // nil: the default ones
}

// NewCmdList returns `lxkit list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var statuses []string
	var cols string
	cmd := &cobra.Command{
		Use:   "list [PREFIX] [KEY=VALUE...] [-c COLUMNS] [--status S,...]",
		Short: "List instances, optionally those whose name starts with PREFIX",
		Long: `List instances (containers and virtual machines): a table of NAME, STATUS
and IPV4, then TYPE when a virtual machine is listed and LOCATION on a
cluster; with --format json or yaml the full records (configuration and, as
"state", the runtime state).

KEY=VALUE arguments keep the instances whose KEY is VALUE, or one of
VALUE,VALUE...; several must all hold, as with lxc list. Keys: status, type
(container or virtual-machine), location, architecture, name, and
configuration keys (user.role, or config.user.role), matched against the
expanded configuration.

-c picks the columns, with lxc's letters or by name, comma-separated:
  n name      s status     4 ipv4       6 ipv6       t type
  S snapshots l last-used  L location   c created    P profiles
  p pid       d description m memory    b pool       f image
  e project
and configuration keys (user.role, or config:user.role).`,
		Example: `  lxkit list
  lxkit list web- --status running
  lxkit list status=running type=container user.role=web,db
  lxkit list -c ns46tL
  lxkit list -c name,status,user.role --format csv
  lxkit list --status stopped,frozen --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Prefix, opts.Filters = "", nil
			for _, a := range args {
				if strings.Contains(a, "=") {
					fl, err := parseFilter(a)
					if err != nil {
						return err
					}
					opts.Filters = append(opts.Filters, fl)
					continue
				}
				if opts.Prefix != "" {
					return cmdutil.FlagErrorf("at most one name prefix (%q and %q); filters are KEY=VALUE", opts.Prefix, a)
				}
				opts.Prefix = a
			}
			opts.Statuses = nil
			for _, s := range statuses {
				if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
					opts.Statuses = append(opts.Statuses, s)
				}
			}
			opts.Columns = nil
			if cols != "" {
				c, err := parseColumns(cols)
				if err != nil {
					return err
				}
				opts.Columns = c
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only instances with these statuses (running, stopped, frozen, ...)")
	cmd.Flags().StringVarP(&cols, "columns", "c", "", "the columns: lxc's letters (ns46tSlLcP...), names (name,status,...) or configuration keys")
	return cmd
}

// Record is one instance in the json and yaml output of list: its
// configuration, as "state" its runtime state, and its snapshots.
type Record = api.InstanceFull

func listRun(ctx context.Context, opts *ListOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	recs, err := listHost(ctx, d, opts.Prefix, opts.Statuses, opts.Filters)
	if err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, recs, func(w io.Writer) error {
		cols := opts.Columns
		if cols == nil {
			vms := slices.ContainsFunc(recs, func(r Record) bool { return !r.IsContainer() })
			clustered := slices.ContainsFunc(recs, func(r Record) bool { return hostapi.OnCluster(r.Location) })
			cols, _ = parseColumns(defaultColumns(vms, clustered))
		}
		tw := cmdutil.NewTable(w)
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = c.header
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
		for i := range recs {
			for j, c := range cols {
				cells[j] = c.cell(&recs[i])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	})
}

// listHost lists, with their states, the instances of the host that
// prefix points into with the prefix, one of the statuses and every
// filter: the top host, or for "outer/..." the LXD inside outer, its
// names given as paths.
func listHost(ctx context.Context, d driver.Driver, prefix string, statuses []string, filters []listFilter) ([]Record, error) {
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
	if path != "" {
		for i := range all {
			all[i].Name = path + "/" + all[i].Name
		}
	}
	recs := filter(all, prefix, nil, nil)
	if err := readAgain(ctx, d, recs); err != nil {
		return nil, err
	}
	return filter(recs, "", statuses, filters), nil
}

// filter keeps the instances with the prefix, one of the statuses and
// every filter, sorted by name.
func filter(all []Record, prefix string, statuses []string, filters []listFilter) []Record {
	recs := []Record{}
	for _, inst := range all {
		if !strings.HasPrefix(inst.Name, prefix) {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, strings.ToLower(inst.Status)) {
			continue
		}
		if matchesAll(filters, &inst) {
			recs = append(recs, inst)
		}
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
// member, keeps its listed status and no state; so does a virtual
// machine (the lifecycle drives containers only).
func readAgain(ctx context.Context, d driver.Driver, recs []Record) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, maxParallel)
	for i := range recs {
		if recs[i].State != nil || !recs[i].IsContainer() {
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
