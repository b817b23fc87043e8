// Package accounts resolves user and group names inside a container from
// its /etc/passwd and /etc/group, for transports that need numeric ids.
package accounts

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Identity is a resolved user.
type Identity struct {
	Name     string
	UID, GID int
	Home     string
}

// Root is the identity of an empty or root user. Its home is left empty:
// the daemon's default applies.
var Root = Identity{Name: "root"}

// Accounts is what /etc/passwd and /etc/group say.
type Accounts struct {
	users  map[string]Identity // by name and by uid
	groups map[string]int      // by name
}

// Parse reads the contents of /etc/passwd and /etc/group.
func Parse(passwd, group []byte) *Accounts {
	a := &Accounts{users: map[string]Identity{}, groups: map[string]int{}}
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
		id := Identity{Name: f[0], UID: uid, GID: gid, Home: f[5]}
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

// User resolves a name or a numeric id. An id without an account is
// accepted as is, with its own number as group.
func (a *Accounts) User(u string) (Identity, error) {
	if id, ok := a.users[u]; ok {
		return id, nil
	}
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		return Identity{Name: u, UID: n, GID: n}, nil
	}
	return Identity{}, fmt.Errorf("no user %q", u)
}

// Group resolves a group name or a numeric id.
func (a *Accounts) Group(g string) (int, error) {
	if gid, ok := a.groups[g]; ok {
		return gid, nil
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("no group %q", g)
}

// Resolver resolves users of one container, reading its account files
// once and only when a name or a home directory is needed.
type Resolver struct {
	// Where names the container in errors.
	Where string
	// Read returns a whole file of the container.
	Read func(ctx context.Context, path string) ([]byte, error)

	mu  sync.Mutex
	acc *Accounts
}

// Resolve turns a user and group (names or ids; empty user means root,
// empty group means the user's own) into ids.
func (r *Resolver) Resolve(ctx context.Context, user, group string) (Identity, error) {
	if user == "" || user == "root" || user == "0" {
		id := Root
		if group == "" || group == "root" || group == "0" {
			return id, nil
		}
		if n, err := strconv.Atoi(group); err == nil {
			id.GID = n
			return id, nil
		}
	}
	acc, err := r.load(ctx)
	if err != nil {
		return Identity{}, err
	}
	id := Root
	if user != "" && user != "root" && user != "0" {
		if id, err = acc.User(user); err != nil {
			return Identity{}, fmt.Errorf("%s: %w", r.Where, err)
		}
	}
	if group != "" {
		if id.GID, err = acc.Group(group); err != nil {
			return Identity{}, fmt.Errorf("%s: %w", r.Where, err)
		}
	}
	return id, nil
}

func (r *Resolver) load(ctx context.Context) (*Accounts, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.acc != nil {
		return r.acc, nil
	}
	passwd, err := r.Read(ctx, "/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("resolving users in %s: %w", r.Where, err)
	}
	group, _ := r.Read(ctx, "/etc/group") // no group file: numeric groups only
	r.acc = Parse(passwd, group)
	return r.acc, nil
}

// Env returns the environment a command run as id starts with, as a login
// would set it (USER, LOGNAME and HOME; nothing for root, whose daemon
// defaults stand), with extra on top.
func (id Identity) Env(extra map[string]string) map[string]string {
	env := make(map[string]string, len(extra)+3)
	if id.UID != 0 {
		env["USER"], env["LOGNAME"] = id.Name, id.Name
	}
	if id.Home != "" {
		env["HOME"] = id.Home
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// Dir returns dir, or the user's home when dir is empty.
func (id Identity) Dir(dir string) string {
	if dir == "" {
		return id.Home
	}
	return dir
}
