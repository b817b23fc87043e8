package rest

import (
	"fmt"
	"strconv"
	"strings"
)

// identity is a resolved user.
type identity struct {
	name     string
	uid, gid int
	home     string
}

// accounts is what /etc/passwd and /etc/group of a container say.
type accounts struct {
	users  map[string]identity // by name and by uid
	groups map[string]int      // by name
}

func parseAccounts(passwd, group []byte) *accounts {
	a := &accounts{users: map[string]identity{}, groups: map[string]int{}}
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 6 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		id := identity{name: f[0], uid: uid, gid: gid, home: f[5]}
		a.users[f[0]] = id
		if _, ok := a.users[f[2]]; !ok {
			a.users[f[2]] = id
		}
	}
	for _, line := range strings.Split(string(group), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if gid, err := strconv.Atoi(f[2]); err == nil {
			a.groups[f[0]] = gid
		}
	}
	return a
}

// user resolves a name or a numeric id. An id without an account is
// accepted as is, with its own number as group.
func (a *accounts) user(u string) (identity, error) {
	if id, ok := a.users[u]; ok {
		return id, nil
	}
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		return identity{name: u, uid: n, gid: n}, nil
	}
	return identity{}, fmt.Errorf("no user %q", u)
}

func (a *accounts) group(g string) (int, error) {
	if gid, ok := a.groups[g]; ok {
		return gid, nil
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("no group %q", g)
}
