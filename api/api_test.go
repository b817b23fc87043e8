package api

import "testing"

func TestWithProject(t *testing.T) {
	for _, c := range []struct{ path, project, want string }{
		{"/1.0/instances", "", "/1.0/instances"},
		{"/1.0/instances", "web", "/1.0/instances?project=web"},
		{"/1.0/instances?recursion=1", "web", "/1.0/instances?recursion=1&project=web"},
		{"/1.0", "a b&c", "/1.0?project=a+b%26c"},
	} {
		if got := WithProject(c.path, c.project); got != c.want {
			t.Errorf("WithProject(%q, %q) = %q; want %q", c.path, c.project, got, c.want)
		}
	}
}
