package cloudconfig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/transport"
)

// etcFile is one colon-separated account file, line by line.
type etcFile struct {
	path    string
	exists  bool
	lines   []string
	changed bool
	mode    fs.FileMode // kept when the file is written back
	owner   string      // "uid:gid"
}

// record returns the fields of name's line, or nil.
func (f *etcFile) record(name string) []string {
	if i := f.index(name); i >= 0 {
		return strings.Split(f.lines[i], ":")
	}
	return nil
}

func (f *etcFile) index(name string) int {
	for i, l := range f.lines {
		if n, _, ok := strings.Cut(l, ":"); ok && n == name {
			return i
		}
	}
	return -1
}

func (f *etcFile) add(fields ...string) {
	f.lines = append(f.lines, strings.Join(fields, ":"))
	f.changed = true
}

// set replaces field i of name's line; it reports whether there is one.
func (f *etcFile) set(name string, i int, v string) bool {
	at := f.index(name)
	if at < 0 {
		return false
	}
	fields := strings.Split(f.lines[at], ":")
	for len(fields) <= i {
		fields = append(fields, "")
	}
	fields[i] = v
	f.lines[at] = strings.Join(fields, ":")
	f.changed = true
	return true
}

// ids returns the numbers in field i (uids of passwd, gids of group).
func (f *etcFile) ids(i int) map[int]bool {
	out := map[int]bool{}
	for _, l := range f.lines {
		if fields := strings.Split(l, ":"); len(fields) > i {
			if n, err := strconv.Atoi(fields[i]); err == nil {
				out[n] = true
			}
		}
	}
	return out
}

func (f *etcFile) bytes() []byte {
	if len(f.lines) == 0 {
		return nil
	}
	return []byte(strings.Join(f.lines, "\n") + "\n")
}

// etcDB is a container's account files.
type etcDB struct {
	passwd, group, shadow, gshadow *etcFile
}

func (db *etcDB) files() []*etcFile { return []*etcFile{db.group, db.gshadow, db.passwd, db.shadow} }

// userRecord returns the passwd fields of a user, or nil.
func (db *etcDB) userRecord(name string) []string {
	if r := db.passwd.record(name); len(r) >= 7 {
		return r
	}
	return nil
}

// groupRecord returns the group fields of a group, or nil.
func (db *etcDB) groupRecord(name string) []string {
	if r := db.group.record(name); len(r) >= 3 {
		return r
	}
	return nil
}

func (db *etcDB) isMember(group, user string) bool {
	r := db.groupRecord(group)
	if len(r) < 4 {
		return false
	}
	for _, m := range strings.Split(r[3], ",") {
		if m == user {
			return true
		}
	}
	return false
}

// loadEtc reads the account files; only /etc/passwd must exist.
func loadEtc(ctx context.Context, tr transport.Transport) (*etcDB, error) {
	db := &etcDB{
		passwd:  &etcFile{path: "/etc/passwd", mode: 0o644},
		group:   &etcFile{path: "/etc/group", mode: 0o644},
		shadow:  &etcFile{path: "/etc/shadow", mode: 0o640},
		gshadow: &etcFile{path: "/etc/gshadow", mode: 0o640},
	}
	paths := []string{db.passwd.path, db.group.path, db.shadow.path, db.gshadow.path}
	files, err := readFiles(ctx, tr, paths...)
	if err != nil {
		return nil, err
	}
	for _, ef := range db.files() {
		ef.owner = "0:0"
		data, ok := files[ef.path]
		if !ok {
			continue
		}
		ef.exists = true
		if text := strings.TrimRight(string(data), "\n"); text != "" {
			ef.lines = strings.Split(text, "\n")
		}
	}
	if !db.passwd.exists {
		return nil, errors.New("the container has no /etc/passwd")
	}
	return db, nil
}

// filesTool makes users and groups by editing the account files, for a
// container without useradd or adduser (a bare busybox).
type filesTool struct{ a *applier }

// edit loads the account files, lets f change them, and writes back, each
// changed file atomically and with its mode and owner kept.
func (t filesTool) edit(ctx context.Context, f func(db *etcDB) error) error {
	db, err := loadEtc(ctx, t.a.tr)
	if err != nil {
		return err
	}
	if err := f(db); err != nil {
		return err
	}
	var changed []*etcFile
	var paths []string
	for _, ef := range db.files() {
		if ef.changed {
			changed = append(changed, ef)
			if ef.exists {
				paths = append(paths, ef.path)
			}
		}
	}
	if len(paths) > 0 {
		res, err := t.a.query(ctx, append([]string{"stat", "-c", "%n %a %u:%g"}, paths...)...)
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			return fmt.Errorf("stat of the account files: %w", err)
		}
		for _, line := range strings.Split(string(res.Stdout), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			m, err := strconv.ParseUint(f[1], 8, 32)
			if err != nil {
				continue
			}
			for _, ef := range changed {
				if ef.path == f[0] {
					ef.mode, ef.owner = fs.FileMode(m)&fs.ModePerm, f[2]
				}
			}
		}
	}
	for _, ef := range changed {
		if err := t.a.replaceFile(ctx, ef.path, ef.bytes(), writeOptions{mode: ef.mode, owner: ef.owner}); err != nil {
			return fmt.Errorf("writing %s: %w", ef.path, err)
		}
	}
	return nil
}

// freeID returns want when it is free, else the lowest free id of the
// range: 1000 up for users, 999 down to 100 for system accounts.
func freeID(used map[int]bool, system bool, want int) (int, error) {
	if want >= 0 && !used[want] {
		return want, nil
	}
	if system {
		for id := 999; id >= 100; id-- {
			if !used[id] {
				return id, nil
			}
		}
	} else {
		for id := 1000; id < 60000; id++ {
			if !used[id] {
				return id, nil
			}
		}
	}
	return 0, errors.New("no free id left")
}

func (t filesTool) addGroup(ctx context.Context, name string, system bool) error {
	return t.edit(ctx, func(db *etcDB) error {
		return addGroupRecord(db, name, system, -1)
	})
}

func addGroupRecord(db *etcDB, name string, system bool, want int) error {
	if db.groupRecord(name) != nil {
		return fmt.Errorf("group %s exists", name)
	}
	gid, err := freeID(db.group.ids(2), system, want)
	if err != nil {
		return err
	}
	db.group.add(name, "x", strconv.Itoa(gid), "")
	if db.gshadow.exists {
		db.gshadow.add(name, "!", "", "")
	}
	return nil
}

func (t filesTool) addMember(ctx context.Context, group, user string) error {
	return t.edit(ctx, func(db *etcDB) error { return addMemberRecord(db, group, user) })
}

func addMemberRecord(db *etcDB, group, user string) error {
	r := db.groupRecord(group)
	if r == nil {
		return fmt.Errorf("no group %s", group)
	}
	if db.isMember(group, user) {
		return nil
	}
	members := user
	if len(r) > 3 && r[3] != "" {
		members = r[3] + "," + user
	}
	db.group.set(group, 3, members)
	if gs := db.gshadow.record(group); len(gs) >= 4 {
		m := user
		if gs[3] != "" {
			m = gs[3] + "," + user
		}
		db.gshadow.set(group, 3, m)
	}
	return nil
}

func (t filesTool) addUser(ctx context.Context, u *User) error {
	var home, owner string
	err := t.edit(ctx, func(db *etcDB) error {
		var err error
		home, owner, err = addUserRecord(db, u, time.Now())
		return err
	})
	if err != nil || u.NoCreateHome || u.System {
		return err
	}
	const script = `[ -e "$1" ] && exit 0
mkdir -p "$1"
if [ -d /etc/skel ]; then cp -a /etc/skel/. "$1"/; fi
chown -R "$2" "$1"
chmod 755 "$1"`
	return t.a.run(ctx, "creating the home directory", []string{"/bin/sh", "-c", script, "sh", home, owner}, nil, nil)
}

// addUserRecord adds u to the account files as useradd would, and returns
// its home and "uid:gid". Its primary group must exist, when named.
func addUserRecord(db *etcDB, u *User, now time.Time) (home, owner string, err error) {
	if db.userRecord(u.Name) != nil {
		return "", "", fmt.Errorf("user %s exists", u.Name)
	}
	uids := db.passwd.ids(2)
	var uid int
	if u.UID != nil {
		if uids[*u.UID] {
			return "", "", fmt.Errorf("uid %d is taken", *u.UID)
		}
		uid = *u.UID
	} else if uid, err = freeID(uids, u.System, -1); err != nil {
		return "", "", err
	}
	var gid int
	if u.PrimaryGroup != "" {
		g := db.groupRecord(u.PrimaryGroup)
		if g == nil {
			return "", "", fmt.Errorf("no group %s", u.PrimaryGroup)
		}
		if gid, err = strconv.Atoi(g[2]); err != nil {
			return "", "", fmt.Errorf("group %s has a bad gid %q", u.PrimaryGroup, g[2])
		}
	} else {
		if err := addGroupRecord(db, u.Name, u.System, uid); err != nil {
			return "", "", err
		}
		gid, _ = strconv.Atoi(db.groupRecord(u.Name)[2])
	}
	home = u.Homedir
	if home == "" {
		home = "/home/" + u.Name
	}
	shell := u.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	pw := "!"
	if db.shadow.exists {
		pw = "x"
		days := strconv.FormatInt(now.Unix()/86400, 10)
		db.shadow.add(u.Name, "!", days, "0", "99999", "7", "", "", "")
	}
	db.passwd.add(u.Name, pw, strconv.Itoa(uid), strconv.Itoa(gid), u.Gecos, home, shell)
	for _, g := range u.Groups {
		if g == u.PrimaryGroup {
			continue
		}
		if err := addMemberRecord(db, g, u.Name); err != nil {
			return "", "", err
		}
	}
	return home, fmt.Sprintf("%d:%d", uid, gid), nil
}

func (t filesTool) setPasswd(ctx context.Context, name, hash string) error {
	return t.edit(ctx, func(db *etcDB) error { return setPasswordField(db, name, func(string) string { return hash }) })
}

func (t filesTool) lock(ctx context.Context, name string) error {
	return t.edit(ctx, func(db *etcDB) error { return setPasswordField(db, name, lockHash) })
}

// lockHash locks a password field as passwd -l does.
func lockHash(old string) string {
	if strings.HasPrefix(old, "!") {
		return old
	}
	return "!" + old
}

// setPasswordField changes the password of name: in /etc/shadow when it
// has the user, else in /etc/passwd.
func setPasswordField(db *etcDB, name string, f func(old string) string) error {
	if r := db.shadow.record(name); len(r) >= 2 {
		db.shadow.set(name, 1, f(r[1]))
		return nil
	}
	r := db.userRecord(name)
	if r == nil {
		return fmt.Errorf("no user %s", name)
	}
	old := r[1]
	if old == "x" {
		old = "" // no shadow entry: no password
	}
	db.passwd.set(name, 1, f(old))
	return nil
}
