// Package project is `lxkit project`: the host's projects.
package project

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var projects = &objects.Kind[api.Project, api.ProjectsPost]{
	Noun: "project", Arg: "PROJECT",
	Open: func(h *host.Host, _ string) objects.Collection[api.Project, api.ProjectsPost] {
		return h.Projects()
	},
	Name:   func(p *api.Project) *string { return &p.Name },
	Header: "DESCRIPTION\tUSED BY",
	Row:    func(p *api.Project) string { return p.Description + "\t" + strconv.Itoa(len(p.UsedBy)) },
	Post: func(o *objects.CreateOptions) api.ProjectsPost {
		return api.ProjectsPost{Name: o.Name, ProjectPut: api.ProjectPut{Description: o.Description, Config: o.Config}}
	},
	Update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Projects().Update(ctx, name, func(p *api.ProjectPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.Projects()) },
}

// NewCmdProject returns `lxkit project` and its subcommands.
func NewCmdProject(f *cmdutil.Factory) *cobra.Command {
	return objects.Group("project <command>", "Manage projects", `Manage the host's projects. A new project's features.* keys say what it keeps
apart from the default project (images, profiles, storage volumes, networks).
A project name may start with the container path of a nested host.`,
		projects.Commands(f)...)
}
