package hostcmd

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var projects = &kind[api.Project, api.ProjectsPost]{
	noun: "project", arg: "PROJECT",
	coll:   func(h *host.Host, _ string) collection[api.Project, api.ProjectsPost] { return h.Projects() },
	name:   func(p *api.Project) *string { return &p.Name },
	header: "DESCRIPTION\tUSED BY",
	row:    func(p *api.Project) string { return p.Description + "\t" + strconv.Itoa(len(p.UsedBy)) },
	post: func(o *Options) api.ProjectsPost {
		return api.ProjectsPost{Name: o.Names[0], ProjectPut: api.ProjectPut{Description: deref(o.Description), Config: o.Config}}
	},
	update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Projects().Update(ctx, name, func(p *api.ProjectPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
}

// NewCmdProject returns `lxkit project` and its subcommands. runF, when
// not nil, runs instead of each subcommand (for tests).
func NewCmdProject(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return group("project <command>", "Manage projects", `Manage the host's projects. A new project's features.* keys say what it keeps
apart from the default project (images, profiles, storage volumes, networks).
A project name may start with the container path of a nested host.`,
		projects.commands(f, runF)...)
}
