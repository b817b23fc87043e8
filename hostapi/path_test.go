package hostapi

import (
	"testing"

	"github.com/lxkit/lxkit/api"
)

func TestPaths(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{InstancePath("c1"), "/1.0/instances/c1"},
		{InstancePath("c1", "state"), "/1.0/instances/c1/state"},
		{InstancePath("a b", "snapshots", "s/0"), "/1.0/instances/a%20b/snapshots/s%2F0"},
		{WithProject("/1.0/instances", ""), "/1.0/instances"},
		{WithProject("/1.0/instances", "p 1"), "/1.0/instances?project=p+1"},
		{WithProject("/1.0/instances?recursion=1", "p&q"), "/1.0/instances?recursion=1&project=p%26q"},
		{WithProject("/1.0/instances?project=dst", "src"), "/1.0/instances?project=dst"}, // a request for another project keeps it
		{WithTarget("/1.0/instances", ""), "/1.0/instances"},
		{WithTarget("/1.0/instances", "@gpu"), "/1.0/instances?target=%40gpu"},
		{WithTarget(WithProject("/1.0/instances/c1", "p"), "m2"), "/1.0/instances/c1?project=p&target=m2"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestInstanceOf(t *testing.T) {
	for path, want := range map[string]string{
		InstancePath("c1"):                             "c1",
		InstancePath("a b", "exec"):                    "a b",
		WithProject(InstancePath("c/1", "state"), "p"): "c/1",
		"/1.0/instances":                               "",
		"/1.0/instances/":                              "",
		"/1.0/instances?recursion=1":                   "",
		"/1.0/profiles/default":                        "",
		"/1.0/instances/%zz":                           "",
	} {
		got, ok := InstanceOf(path)
		if got != want || ok != (want != "") {
			t.Errorf("InstanceOf(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		op   *api.Operation
		code int
		ok   bool
	}{
		{&api.Operation{Metadata: map[string]any{"return": float64(3)}}, 3, true},
		{&api.Operation{Metadata: map[string]any{"return": float64(0)}}, 0, true},
		{&api.Operation{Metadata: map[string]any{"fds": map[string]any{}}}, -1, false},
		{nil, -1, false},
	} {
		if code, ok := ExitCode(c.op); code != c.code || ok != c.ok {
			t.Errorf("ExitCode(%+v) = %d, %v; want %d, %v", c.op, code, ok, c.code, c.ok)
		}
	}
}

func TestOnCluster(t *testing.T) {
	for loc, want := range map[string]bool{"": false, "none": false, "m1": true} {
		if OnCluster(loc) != want {
			t.Errorf("OnCluster(%q) = %v", loc, !want)
		}
	}
}
