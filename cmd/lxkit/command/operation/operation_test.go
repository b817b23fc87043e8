package operation

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
	got, err := objectstest.Parse(NewCmdList, "list", "outer/")
	if want := (objects.HostOptions{Scope: objects.Scope{Host: "outer"}}); err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("list outer/: %v\n got %+v\nwant %+v", err, got, want)
	}
	for _, newCmd := range []string{"show", "cancel"} {
		cmd := NewCmdShow
		if newCmd == "cancel" {
			cmd = NewCmdCancel
		}
		got, err := objectstest.Parse(cmd, newCmd, "outer/1234")
		if want := (Options{Scope: objects.Scope{Host: "outer"}, ID: "1234"}); err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s outer/1234: %v\n got %+v\nwant %+v", newCmd, err, got, want)
		}
	}
	f, _ := objectstest.Factory(nil)
	if err := objectstest.Execute(f, NewCmdOperation(f), "operation", "show"); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "one operation ID") {
		t.Errorf("operation show: %v", err)
	}
}

func TestCancel(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{"/1.0/operations/1234": api.Operation{ID: "1234"}}}
	f, _ := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdOperation(f), "operation", "cancel", "1234"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"DELETE /1.0/operations/1234"}; !reflect.DeepEqual(a.Sent, want) {
		t.Errorf("sent %q; want %q", a.Sent, want)
	}
}
