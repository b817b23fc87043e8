package accounts

import (
	"context"
	"errors"
	"testing"
)

const passwd = "root:x:0:0:root:/root:/bin/sh\nlxkit:x:1000:1000::/home/lxkit:/bin/sh\nbroken line\nsvc:x:999:100::/:/bin/false\n"
const group = "root:x:0:\nwheel:x:10:lxkit\nusers:x:100:\n"

func TestResolve(t *testing.T) {
	reads := 0
	r := &Resolver{Where: "c1", Read: func(_ context.Context, p string) ([]byte, error) {
		reads++
		switch p {
		case "/etc/passwd":
			return []byte(passwd), nil
		case "/etc/group":
			return []byte(group), nil
		}
		return nil, errors.New("no such file")
	}}
	ctx := context.Background()
	cases := []struct {
		user, group string
		want        Identity
	}{
		{"", "", Root},
		{"root", "0", Root},
		{"0", "10", Identity{Name: "root", GID: 10}},
		{"lxkit", "", Identity{Name: "lxkit", UID: 1000, GID: 1000, Home: "/home/lxkit"}},
		{"1000", "wheel", Identity{Name: "lxkit", UID: 1000, GID: 10, Home: "/home/lxkit"}},
		{"4242", "", Identity{Name: "4242", UID: 4242, GID: 4242}},
		{"", "users", Identity{Name: "root", GID: 100}},
	}
	for _, c := range cases {
		got, err := r.Resolve(ctx, c.user, c.group)
		if err != nil || got != c.want {
			t.Errorf("Resolve(%q, %q) = %+v, %v; want %+v", c.user, c.group, got, err, c.want)
		}
	}
	if reads != 2 {
		t.Errorf("account files read %d times; want once each", reads)
	}
	for _, bad := range [][2]string{{"nobody", ""}, {"lxkit", "nogroup"}} {
		if _, err := r.Resolve(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("Resolve(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

func TestEnvAndDir(t *testing.T) {
	u := Identity{Name: "lxkit", UID: 1000, GID: 1000, Home: "/home/lxkit"}
	env := u.Env(map[string]string{"HOME": "/override", "X": "1"})
	if env["USER"] != "lxkit" || env["LOGNAME"] != "lxkit" || env["HOME"] != "/override" || env["X"] != "1" {
		t.Errorf("Env = %v", env)
	}
	if env := Root.Env(nil); len(env) != 0 {
		t.Errorf("root's Env = %v; want the daemon's defaults", env)
	}
	if u.Dir("") != "/home/lxkit" || u.Dir("/etc") != "/etc" || Root.Dir("") != "" {
		t.Errorf("Dir is wrong")
	}
}
