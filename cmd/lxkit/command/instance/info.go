package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// InfoOptions are the inputs of `lxkit info`.
type InfoOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name    string // empty: the server
	ShowLog bool
}

// NewCmdInfo returns `lxkit info`.
func NewCmdInfo(f *cmdutil.Factory, runF func(context.Context, *InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "info [NAME] [--show-log]",
		Short: "Describe the server, or a container: state, resources, snapshots, log",
		Long: `Describe the server (without NAME) or a container, as lxc info does.

The server: its daemon and version, API extensions, storage, kernel,
cluster membership and addresses; --format json or yaml prints the whole
answer of GET /1.0.

A container: its status, type, architecture, location on a cluster,
creation and last use, profiles, then what it uses (processes, CPU time,
memory, disks, network traffic and addresses) and its snapshots; --format
json or yaml prints the instance with its state and snapshots.
--show-log adds the container's log (lxc.log).`,
		Example: `  lxkit info
  lxkit info web
  lxkit info web --show-log
  lxkit info outer/web --format json`,
		Args: cmdutil.MaximumArgs(1, "at most one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if opts.ShowLog && opts.Name == "" {
				return cmdutil.FlagErrorf("info: --show-log needs a container NAME")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Name == "" {
				return serverInfoRun(cmd.Context(), opts)
			}
			if err := cmdutil.ValidateNames(opts.Name); err != nil {
				return err
			}
			return instanceInfoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowLog, "show-log", false, "add the container's log (lxc.log)")
	return cmd
}

func serverInfoRun(ctx context.Context, opts *InfoOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if _, err := d.API().Query(ctx, http.MethodGet, "/1.0", nil, &raw); err != nil {
		return err
	}
	var s api.Server
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: decoding GET /1.0: %w", d.API().Addr(), err)
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, raw, func(w io.Writer) error {
		return writeServerInfo(w, &s, d.API().Addr())
	})
}

// writeServerInfo prints a summary of a server for people; addr is how
// lxkit reached it.
func writeServerInfo(w io.Writer, s *api.Server, addr string) error {
	env := s.Environment
	tw := cmdutil.NewRows(w)
	version := "API " + s.APIVersion
	if s.APIStatus != "" && s.APIStatus != "stable" {
		version += " " + s.APIStatus
	}
	fmt.Fprintf(tw, "Server:\t%s %s (%s, %d extensions)\n", env.Server, env.ServerVersion, version, len(s.APIExtensions))
	fmt.Fprintf(tw, "Reached at:\t%s\n", addr)
	fmt.Fprintf(tw, "Name:\t%s\n", env.ServerName)
	if env.ServerClustered {
		fmt.Fprintf(tw, "Clustered:\tyes (this member: %s)\n", env.ServerName)
	} else {
		fmt.Fprintf(tw, "Clustered:\tno\n")
	}
	fmt.Fprintf(tw, "Trusted:\t%s\n", yesNo(s.Auth == "trusted"))
	if env.Project != "" {
		fmt.Fprintf(tw, "Project:\t%s\n", env.Project)
	}
	if env.Storage != "" {
		fmt.Fprintf(tw, "Storage:\t%s\n", withVersion(env.Storage, env.StorageVersion))
	}
	if env.Driver != "" {
		fmt.Fprintf(tw, "Instance driver:\t%s\n", withVersion(env.Driver, env.DriverVersion))
	}
	if env.Kernel != "" {
		kernel := env.Kernel + " " + env.KernelVersion
		if env.KernelArchitecture != "" {
			kernel += " (" + env.KernelArchitecture + ")"
		}
		fmt.Fprintf(tw, "Kernel:\t%s\n", kernel)
	}
	if env.OSName != "" {
		fmt.Fprintf(tw, "OS:\t%s %s\n", env.OSName, env.OSVersion)
	}
	if len(env.Architectures) > 0 {
		fmt.Fprintf(tw, "Architectures:\t%s\n", strings.Join(env.Architectures, ", "))
	}
	addrs := "none (not listening on the network)"
	if len(env.Addresses) > 0 {
		addrs = strings.Join(env.Addresses, ", ")
	}
	fmt.Fprintf(tw, "Addresses:\t%s\n", addrs)
	return tw.Flush()
}

// withVersion pairs the names of drivers with their versions: "dir |
// zfs" and "1 | 2.1" make "dir 1, zfs 2.1". Lists of different lengths
// are printed as they are.
func withVersion(names, versions string) string {
	n, v := strings.Split(names, "|"), strings.Split(versions, "|")
	if versions == "" || len(n) != len(v) {
		if versions == "" {
			return names
		}
		return names + " (" + versions + ")"
	}
	out := make([]string, len(n))
	for i := range n {
		out[i] = strings.TrimSpace(n[i]) + " " + strings.TrimSpace(v[i])
	}
	return strings.Join(out, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// InstanceInfo is what `lxkit info NAME --format json` prints: the
// instance with its state and snapshots, and its log with --show-log.
type InstanceInfo struct {
	api.InstanceFull
	Log *string `json:"log,omitempty"`
}

func instanceInfoRun(ctx context.Context, opts *InfoOptions) error {
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
	if err != nil {
		return err
	}
	info, err := readInstanceInfo(ctx, h, name, opts.ShowLog)
	if err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, info, func(w io.Writer) error {
		return writeInstanceInfo(w, info)
	})
}

// readInstanceInfo reads what `lxkit info NAME` prints from h, as lxc
// info does: the instance, its state, its snapshots, and its log if
// withLog.
func readInstanceInfo(ctx context.Context, h *host.Host, name string, withLog bool) (*InstanceInfo, error) {
	missing := func(err error) error { return hostapi.InstanceMissing(err, name, h.Addr()) }
	inst, err := h.Instances().Get(ctx, name)
	if err != nil {
		return nil, missing(err)
	}
	info := &InstanceInfo{InstanceFull: api.InstanceFull{Instance: *inst}}
	if info.State, err = h.InstanceState(ctx, name); err != nil {
		return nil, missing(err)
	}
	if info.Snapshots, err = h.Snapshots(name).List(ctx); err != nil {
		return nil, missing(err)
	}
	sort.Slice(info.Snapshots, func(i, j int) bool { return info.Snapshots[i].CreatedAt.Before(info.Snapshots[j].CreatedAt) })
	if withLog {
		file := hostapi.LogFile
		if !inst.IsContainer() {
			file = hostapi.VMLogFile
		}
		log, err := h.InstanceLog(ctx, name, file)
		if err != nil {
			return nil, err
		}
		s := string(log)
		info.Log = &s
	}
	return info, nil
}

// writeInstanceInfo prints an instance's information for people: one
// field a line, then its resources, snapshots and log.
func writeInstanceInfo(w io.Writer, info *InstanceInfo) error {
	inst, st := info.Instance, info.State
	tw := cmdutil.NewRows(w)
	fmt.Fprintf(tw, "Name:\t%s\n", inst.Name)
	if inst.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", inst.Description)
	}
	fmt.Fprintf(tw, "Status:\t%s\n", inst.Status)
	fmt.Fprintf(tw, "Type:\t%s\n", instanceType(inst))
	fmt.Fprintf(tw, "Architecture:\t%s\n", inst.Architecture)
	if hostapi.OnCluster(inst.Location) {
		fmt.Fprintf(tw, "Location:\t%s\n", inst.Location)
	}
	fmt.Fprintf(tw, "Created:\t%s\n", cmdutil.FormatTime(inst.CreatedAt))
	fmt.Fprintf(tw, "Last used:\t%s\n", formatUsed(inst.LastUsedAt))
	fmt.Fprintf(tw, "Profiles:\t%s\n", strings.Join(inst.Profiles, ", "))
	if st != nil && st.Pid > 0 {
		fmt.Fprintf(tw, "PID:\t%d\n", st.Pid)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st != nil && isActive(st.Status) {
		if err := writeResources(w, st); err != nil {
			return err
		}
	}
	if len(info.Snapshots) > 0 {
		fmt.Fprintln(w, "\nSnapshots:")
		tw = cmdutil.NewTable(w)
		fmt.Fprintln(tw, "  NAME\tTAKEN AT\tEXPIRES AT\tSTATEFUL")
		for _, s := range info.Snapshots {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%t\n", s.Name, cmdutil.FormatTime(s.CreatedAt), formatExpiry(s.ExpiresAt), s.Stateful)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if info.Log != nil {
		// As lxc info --show-log prints it.
		fmt.Fprintf(w, "\nLog:\n\n%s", *info.Log)
		if l := *info.Log; l != "" && !strings.HasSuffix(l, "\n") {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// isActive reports whether an instance's status is one that has
// resources in use: running or frozen.
func isActive(status string) bool {
	s := strings.ToLower(status)
	return s == driver.StatusRunning || s == driver.StatusFrozen
}

func instanceType(inst api.Instance) string {
	if inst.Type == "" {
		return "container"
	}
	return inst.Type
}

// formatUsed prints when an instance was last used: "never" for the
// zero time and the daemons' Unix epoch (Incus 6.0.4 reports 1970-01-01
// for an instance never started).
func formatUsed(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "never"
	}
	return cmdutil.FormatTime(t)
}

// formatExpiry prints when a snapshot expires: "" for never (the zero
// time, or the daemons' Unix epoch).
func formatExpiry(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return cmdutil.FormatTime(t)
}

// writeResources prints what a running instance uses: processes, CPU
// time, memory, disks, and each network interface's traffic and
// addresses.
func writeResources(w io.Writer, st *api.InstanceState) error {
	fmt.Fprintln(w, "\nResources:")
	tw := cmdutil.NewRows(w)
	fmt.Fprintf(tw, "  Processes:\t%d\n", st.Processes)
	fmt.Fprintf(tw, "  CPU time:\t%s\n", cpuTime(st.CPU.Usage))
	fmt.Fprintf(tw, "  Memory:\t%s\n", withPeak(st.Memory.Usage, st.Memory.UsagePeak))
	if st.Memory.SwapUsage > 0 || st.Memory.SwapUsagePeak > 0 {
		fmt.Fprintf(tw, "  Swap:\t%s\n", withPeak(st.Memory.SwapUsage, st.Memory.SwapUsagePeak))
	}
	for _, disk := range sortedKeys(st.Disk) {
		fmt.Fprintf(tw, "  Disk %s:\t%s\n", disk, cmdutil.HumanBytes(st.Disk[disk].Usage))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Network) == 0 {
		return nil
	}
	fmt.Fprintln(w, "  Network:")
	for _, n := range sortedKeys(st.Network) {
		nic := st.Network[n]
		fmt.Fprintf(w, "    %s:\n", n)
		tw = cmdutil.NewRows(w)
		fmt.Fprintf(tw, "      Type:\t%s\n", nic.Type)
		fmt.Fprintf(tw, "      State:\t%s\n", nic.State)
		if nic.HostName != "" {
			fmt.Fprintf(tw, "      Host interface:\t%s\n", nic.HostName)
		}
		if nic.Hwaddr != "" {
			fmt.Fprintf(tw, "      MAC address:\t%s\n", nic.Hwaddr)
		}
		fmt.Fprintf(tw, "      MTU:\t%d\n", nic.Mtu)
		c := nic.Counters
		fmt.Fprintf(tw, "      Received:\t%s (%d packets)\n", cmdutil.HumanBytes(c.BytesReceived), c.PacketsReceived)
		fmt.Fprintf(tw, "      Sent:\t%s (%d packets)\n", cmdutil.HumanBytes(c.BytesSent), c.PacketsSent)
		for _, a := range nic.Addresses {
			fmt.Fprintf(tw, "      %s:\t%s/%s (%s)\n", a.Family, a.Address, a.Netmask, a.Scope)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// withPeak prints a memory use and its peak, if known.
func withPeak(usage, peak int64) string {
	s := cmdutil.HumanBytes(usage)
	if peak > 0 {
		s += " (peak " + cmdutil.HumanBytes(peak) + ")"
	}
	return s
}

// cpuTime prints CPU time given in nanoseconds, as precise as people
// read it: "0s", "340ms", "12.34s", "1h2m3s".
func cpuTime(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
