package project

import (
	"context"
	"reflect"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/spf13/cobra"
)

func TestParse(t *testing.T) {
	create := func(f *cmdutil.Factory, runF func(context.Context, *objects.CreateOptions) error) *cobra.Command {
		return objects.NewCmdCreate(f, projects, runF)
	}
	got, err := objectstest.Parse(create, "create", "p", "features.images=false")
	want := objects.CreateOptions{Name: "p", Config: map[string]string{"features.images": "false"}}
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("create p features.images=false: %v\n got %+v\nwant %+v", err, got, want)
	}
	// What create sends.
	post := projects.Post(&objects.CreateOptions{Name: "p", Description: "D", Config: want.Config})
	if post.Name != "p" || post.Description != "D" || post.Config["features.images"] != "false" {
		t.Errorf("post: %+v", post)
	}
}
