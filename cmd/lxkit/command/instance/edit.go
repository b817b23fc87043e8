package instance

import (
	"context"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// containers are the host's instances as `lxkit edit` sees them.
var containers = &objects.Kind[api.Instance, api.InstancesPost]{
	Noun: "container", Arg: "NAME",
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.Instances()) },
}

// NewCmdEdit returns `lxkit edit`, as `lxc config edit`: a container's
// configuration, devices, profiles and description in an editor. runF,
// when not nil, runs instead (for tests).
func NewCmdEdit(f *cmdutil.Factory, runF func(context.Context, *objects.EditOptions) error) *cobra.Command {
	cmd := objects.NewCmdEdit(f, containers, runF)
	cmd.Use = "edit NAME"
	cmd.Short = "Edit a container's configuration as YAML in $VISUAL or $EDITOR (lxc config edit)"
	cmd.Example = `  lxkit edit web
  lxkit edit outer/web
  lxkit show web > web.yaml && vi web.yaml && lxkit edit web < web.yaml
  lxkit profile edit default`
	return cmd
}
