package network

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/spf13/cobra"
)

func TestParse(t *testing.T) {
	create := func(f *cmdutil.Factory, runF func(context.Context, *objects.CreateOptions) error) *cobra.Command {
		return objects.NewCmdCreate(f, networks, runF)
	}
	for args, want := range map[string]objects.CreateOptions{
		"create n ipv4.address=none":              {Name: "n", Type: "bridge", Config: map[string]string{"ipv4.address": "none"}},
		"create n --type macvlan parent=eth0":     {Name: "n", Type: "macvlan", Config: map[string]string{"parent": "eth0"}},
		"create o/n --description lab --type=ovn": {Scope: objects.Scope{Host: "o"}, Name: "n", Type: "ovn", Config: map[string]string{}, Description: "lab"},
	} {
		got, err := objectstest.Parse(create, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
	f, _ := objectstest.Factory(nil)
	if err := objectstest.Execute(f, NewCmdNetwork(f), "network", "list", "--bogus"); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "unknown flag: --bogus") {
		t.Errorf("network list --bogus: %v", err)
	}
}
