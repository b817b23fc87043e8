package cluster

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
)

func TestParse(t *testing.T) {
	got, err := objectstest.Parse(NewCmdList, "list", "o/m/")
	if want := (objects.HostOptions{Scope: objects.Scope{Host: "o/m"}}); err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("list o/m/: %v\n got %+v\nwant %+v", err, got, want)
	}
	f, _ := objectstest.Factory(nil)
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "list", "a", "b"); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "at most a nested host") {
		t.Errorf("cluster list a b: %v", err)
	}
}

// TestStandalone: a host that is not clustered is listed alone.
func TestStandalone(t *testing.T) {
	s := api.Server{}
	s.Environment.ServerName = "solo"
	s.Environment.Architectures = []string{"x86_64"}
	a := &objectstest.API{Address: "fake", Docs: map[string]any{"/1.0/cluster": api.Cluster{}, "/1.0": s}}
	f, out := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "list"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(strings.Split(out(), "\n")[1]); !reflect.DeepEqual(got, []string{"solo", "x86_64", "Standalone"}) {
		t.Errorf("cluster list:\n%s", out())
	}
}
