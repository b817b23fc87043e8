// Package cluster is `lxkit cluster`: the members of the host's cluster.
package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/spf13/cobra"
)

// NewCmdCluster returns `lxkit cluster` and its subcommands.
func NewCmdCluster(f *cmdutil.Factory) *cobra.Command {
	return objects.Group("cluster <command>", "List the members of the host's cluster",
		`List the members of the host's cluster. A host that is not clustered is
listed alone, with status Standalone.`,
		NewCmdList(f, nil))
}

// NewCmdList returns `lxkit cluster list`. runF, when not nil, runs
// instead (for tests).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *objects.HostOptions) error) *cobra.Command {
	return objects.NewCmdOnHost(f, &cobra.Command{Use: "list [HOST/]", Short: "List the cluster's members"}, runF, listRun)
}

func listRun(ctx context.Context, o *objects.HostOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	members, err := h.ClusterMembers(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, members, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\tURL\tROLES\tARCHITECTURE\tSTATUS\tMESSAGE")
		for _, m := range members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ServerName, m.URL, strings.Join(m.Roles, ","), m.Architecture, m.Status, m.Message)
		}
		return tw.Flush()
	})
}
