package instance

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// NewCmdShow returns `lxkit show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "show NAME",
		Short: "Print a container's configuration (YAML, or --format json)",
	}, runF, showRun)
}

func showRun(ctx context.Context, opts *NameOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	inst, err := d.Instance(ctx, opts.Name)
	if err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, inst, func(w io.Writer) error {
		return cmdutil.WriteYAML(w, inst)
	})
}

// NewCmdState returns `lxkit state`.
func NewCmdState(f *cmdutil.Factory, runF func(context.Context, *NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "state NAME",
		Short: "Print a container's runtime state: status, processes, memory, addresses",
	}, runF, stateRun)
}

func stateRun(ctx context.Context, opts *NameOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	st, err := d.State(ctx, opts.Name)
	if err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, st, func(w io.Writer) error {
		location := "" // on a cluster, people want to know where it runs
		if inst, err := d.Instance(ctx, opts.Name); err == nil && hostapi.OnCluster(inst.Location) {
			location = inst.Location
		}
		return writeState(w, st, location)
	})
}

// writeState prints a state for people: one field a line (the cluster
// member it runs on when location is not empty), then the addresses of each network interface.
func writeState(w io.Writer, st *api.InstanceState, location string) error {
	tw := cmdutil.NewRows(w)
	fmt.Fprintf(tw, "Status:\t%s\n", st.Status)
	if location != "" {
		fmt.Fprintf(tw, "Location:\t%s\n", location)
	}
	fmt.Fprintf(tw, "PID:\t%d\n", st.Pid)
	fmt.Fprintf(tw, "Processes:\t%d\n", st.Processes)
	mem := cmdutil.HumanBytes(st.Memory.Usage)
	if st.Memory.UsagePeak > 0 {
		mem += " (peak " + cmdutil.HumanBytes(st.Memory.UsagePeak) + ")"
	}
	fmt.Fprintf(tw, "Memory:\t%s\n", mem)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Network) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Network:")
	nics := make([]string, 0, len(st.Network))
	for n := range st.Network {
		nics = append(nics, n)
	}
	sort.Strings(nics)
	tw = cmdutil.NewRows(w)
	for _, n := range nics {
		nic := st.Network[n]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n, nic.State, nic.Hwaddr)
		for _, a := range nic.Addresses {
			fmt.Fprintf(tw, "    %s\t%s/%s\t%s\n", a.Family, a.Address, a.Netmask, a.Scope)
		}
	}
	return tw.Flush()
}
