package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
)

func TestParse(t *testing.T) {
	outer := objects.Scope{Host: "outer"}
	for args, want := range map[string]objects.HostOptions{"show": {}, "show outer/": {Scope: outer}} {
		got, err := objectstest.Parse(NewCmdShow, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
	got, err := objectstest.Parse(NewCmdGet, "get", "outer/core.https_address")
	if want := (GetOptions{Scope: outer, Key: "core.https_address"}); err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("get: %v\n got %+v\nwant %+v", err, got, want)
	}
	for args, want := range map[string]SetOptions{
		"set outer/core.a=1 outer/core.b=x/y=z": {Scope: outer, Config: map[string]string{"core.a": "1", "core.b": "x/y=z"}},
		"unset core.a":                          {Config: map[string]string{"core.a": ""}},
	} {
		newCmd := NewCmdSet
		if strings.HasPrefix(args, "unset") {
			newCmd = NewCmdUnset
		}
		got, err := objectstest.Parse(newCmd, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for args, says := range map[string]string{
		"config show outer":    "expected the container path of a nested host and a slash",
		"config set a=1 o/b=2": "not on host",
		"config set novalue":   "expected KEY=VALUE",
		"config get":           "one key",
		"config unset a=1":     `"a=1": expected a key`,
		"config unset o/a p/b": `"p/b" is not on host "o"`,
		"config bogus":         "a subcommand: show, get, set, unset",
		"config show a/ b/":    "at most a nested host",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdConfig(f), strings.Fields(args)...)
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want a usage error that says %q", args, err, says)
		}
	}
}
