package instance

import (
	"reflect"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
)

func TestParseEdit(t *testing.T) {
	for args, want := range map[string]objects.EditOptions{
		"web":              {Name: "web"},
		"outer/middle/web": {Scope: objects.Scope{Host: "outer/middle"}, Name: "web"},
	} {
		got, err := objectstest.Parse(NewCmdEdit, "edit", args)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("edit %s: %v, %+v; want %+v", args, err, got, want)
		}
	}
	if _, err := objectstest.Parse(NewCmdEdit, "edit", "a", "b"); err == nil {
		t.Error("edit a b: no error")
	}
	f, _ := objectstest.Factory(nil)
	if cmd := NewCmdEdit(f, nil); cmd.Use != "edit NAME" {
		t.Errorf("Use %q: completion reads NAME as a container", cmd.Use)
	}
}
