package instance

import (
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
)

func TestParseMoveAndCopy(t *testing.T) {
	o, err := objectstest.Parse(NewCmdMove, "move", "web", "--target", "m2", "--stop")
	if err != nil || o.Name != "web" || o.Target != "m2" || !o.Stop {
		t.Errorf("move web --target m2 --stop: %+v, %v", o, err)
	}
	if _, err := objectstest.Parse(NewCmdMove, "move", "web"); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "--target") {
		t.Errorf("move without --target: %v", err)
	}
	if _, err := objectstest.Parse(NewCmdMove, "move", "a", "b", "--target", "m2"); !cmdutil.IsUsage(err) {
		t.Errorf("move of two: %v", err)
	}
	o, err = objectstest.Parse(NewCmdCopy, "copy", "web", "web2", "--target", "@gpu", "--snapshot", "s0", "--instance-only")
	if err != nil || o.Name != "web" || o.NewName != "web2" || o.Target != "@gpu" || o.Snapshot != "s0" || !o.InstanceOnly {
		t.Errorf("copy: %+v, %v", o, err)
	}
	if _, err := objectstest.Parse(NewCmdCopy, "copy", "web"); !cmdutil.IsUsage(err) {
		t.Errorf("copy without a new name: %v", err)
	}
	o, err = objectstest.Parse(NewCmdCopy, "copy", "web", "web", "--to", "lab", "--stateless", "--target-project", "p")
	if err != nil || o.To != "lab" || !o.Stateless || o.Project != "p" {
		t.Errorf("copy --to lab --stateless --target-project p: %+v, %v", o, err)
	}
	for _, c := range []struct{ args, name, snap string }{
		{"web/s0 web2", "web", "s0"},
		{"outer/web/s0 outer/web2", "outer/web", "s0"},
		{"outer/web outer/web2", "outer/web", ""},
		{"web web2 --snapshot s1", "web", "s1"},
	} {
		o, err := objectstest.Parse(NewCmdCopy, append([]string{"copy"}, strings.Fields(c.args)...)...)
		if err != nil || o.Name != c.name || o.Snapshot != c.snap {
			t.Errorf("copy %s: %+v, %v; want %s at snapshot %q", c.args, o, err, c.name, c.snap)
		}
	}
	if _, err := objectstest.Parse(NewCmdCopy, "copy", "web/s0", "web2", "--snapshot", "s1"); !cmdutil.IsUsage(err) {
		t.Errorf("copy web/s0 --snapshot s1: %v, want a usage error", err)
	}
	o, err = objectstest.Parse(NewCmdMove, "move", "web", "web2", "--to", "lab")
	if err != nil || o.NewName != "web2" || o.To != "lab" {
		t.Errorf("move web web2 --to lab: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"move", "web", "--to", "lab", "--target", "m2"},
		{"move", "web", "--stop", "--to", "lab"},
		{"move", "web", "--stateless"},
		{"move", "a", "b", "c"},
		{"copy", "a", "b", "--stateless"},
	} {
		cmd := NewCmdCopy
		if args[0] == "move" {
			cmd = NewCmdMove
		}
		if _, err := objectstest.Parse(cmd, args...); !cmdutil.IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestCopyStaysOnItsHost(t *testing.T) {
	f, _ := objectstest.Factory(&objectstest.Driver{})
	err := objectstest.Execute(f, NewCmdCopy(f, nil), "copy", "outer/web", "other/web2")
	if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "different hosts") {
		t.Errorf("copy across hosts: %v", err)
	}
}
