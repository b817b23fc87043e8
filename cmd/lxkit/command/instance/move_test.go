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
}

func TestCopyStaysOnItsHost(t *testing.T) {
	f, _ := objectstest.Factory(&objectstest.Driver{})
	err := objectstest.Execute(f, NewCmdCopy(f, nil), "copy", "outer/web", "other/web2")
	if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "different hosts") {
		t.Errorf("copy across hosts: %v", err)
	}
}
