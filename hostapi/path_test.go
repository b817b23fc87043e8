package hostapi

import "testing"

func TestPaths(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{InstancePath("c1"), "/1.0/instances/c1"},
		{InstancePath("c1", "state"), "/1.0/instances/c1/state"},
		{InstancePath("a b", "snapshots", "s/0"), "/1.0/instances/a%20b/snapshots/s%2F0"},
		{WithProject("/1.0/instances", ""), "/1.0/instances"},
		{WithProject("/1.0/instances", "p 1"), "/1.0/instances?project=p+1"},
		{WithProject("/1.0/instances?recursion=1", "p&q"), "/1.0/instances?recursion=1&project=p%26q"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
