package cloudconfig

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// accountTool makes users and groups one way: shadow's tools, busybox's,
// or edits of the files.
type accountTool interface {
	addGroup(ctx context.Context, name string, system bool) error
	addMember(ctx context.Context, group, user string) error
	// addUser creates u with its groups and its home, without a password.
	addUser(ctx context.Context, u *User) error
	setPasswd(ctx context.Context, name, hash string) error
	lock(ctx context.Context, name string) error
}

func (a *applier) accountTool(sys *System) accountTool {
	switch sys.Accounts {
	case "shadow":
		return shadowTool{a, sys}
	case "busybox":
		return busyboxTool{a, sys}
	}
	return filesTool{a}
}

// chpasswd sets a password hash through chpasswd's standard input, so that
// it is never in a command line (nor in an error, which shows those).
func chpasswd(ctx context.Context, a *applier, sys *System, name, hash string) error {
	if !sys.Has("chpasswd") {
		return errors.New("setting passwd needs chpasswd, which this container does not have")
	}
	return a.run(ctx, "chpasswd", []string{"chpasswd", "-e"}, strings.NewReader(name+":"+hash+"\n"), nil)
}

// shadowTool uses useradd, groupadd and usermod.
type shadowTool struct {
	a   *applier
	sys *System
}

func (t shadowTool) addGroup(ctx context.Context, name string, system bool) error {
	args := []string{"groupadd"}
	if system {
		args = append(args, "--system")
	}
	return t.a.run(ctx, "groupadd", append(args, name), nil, nil)
}

func (t shadowTool) addMember(ctx context.Context, group, user string) error {
	return t.a.run(ctx, "usermod", []string{"usermod", "--append", "--groups", group, user}, nil, nil)
}

func (t shadowTool) addUser(ctx context.Context, u *User) error {
	return t.a.run(ctx, "useradd", useraddArgs(u), nil, nil)
}

func useraddArgs(u *User) []string {
	args := []string{"useradd"}
	if u.Gecos != "" {
		args = append(args, "--comment", u.Gecos)
	}
	if u.Homedir != "" {
		args = append(args, "--home-dir", u.Homedir)
	}
	if u.PrimaryGroup != "" {
		args = append(args, "--gid", u.PrimaryGroup)
	}
	if gs := secondaryGroups(u); len(gs) > 0 {
		args = append(args, "--groups", strings.Join(gs, ","))
	}
	if u.Shell != "" {
		args = append(args, "--shell", u.Shell)
	}
	if u.UID != nil {
		args = append(args, "--uid", strconv.Itoa(*u.UID))
	}
	if u.System {
		args = append(args, "--system")
	}
	if u.NoCreateHome || u.System {
		args = append(args, "--no-create-home")
	} else {
		args = append(args, "--create-home")
	}
	return append(args, u.Name)
}

func (t shadowTool) setPasswd(ctx context.Context, name, hash string) error {
	return chpasswd(ctx, t.a, t.sys, name, hash)
}

func (t shadowTool) lock(ctx context.Context, name string) error {
	return t.a.run(ctx, "usermod", []string{"usermod", "--lock", name}, nil, nil)
}

// busyboxTool uses busybox's adduser, addgroup and passwd (Alpine).
type busyboxTool struct {
	a   *applier
	sys *System
}

func (t busyboxTool) addGroup(ctx context.Context, name string, system bool) error {
	args := []string{"addgroup"}
	if system {
		args = append(args, "-S")
	}
	return t.a.run(ctx, "addgroup", append(args, name), nil, nil)
}

func (t busyboxTool) addMember(ctx context.Context, group, user string) error {
	return t.a.run(ctx, "addgroup", []string{"addgroup", user, group}, nil, nil)
}

func (t busyboxTool) addUser(ctx context.Context, u *User) error {
	if err := t.a.run(ctx, "adduser", adduserArgs(u), nil, nil); err != nil {
		return err
	}
	for _, g := range secondaryGroups(u) {
		if err := t.addMember(ctx, g, u.Name); err != nil {
			return err
		}
	}
	return nil
}

func adduserArgs(u *User) []string {
	args := []string{"adduser", "-D"} // -D: no password
	if u.System {
		args = append(args, "-S")
	}
	if u.NoCreateHome || u.System {
		args = append(args, "-H")
	}
	if u.Homedir != "" {
		args = append(args, "-h", u.Homedir)
	}
	if u.Gecos != "" {
		args = append(args, "-g", u.Gecos)
	}
	if u.Shell != "" {
		args = append(args, "-s", u.Shell)
	}
	if u.UID != nil {
		args = append(args, "-u", strconv.Itoa(*u.UID))
	}
	if u.PrimaryGroup != "" {
		args = append(args, "-G", u.PrimaryGroup)
	}
	return append(args, u.Name)
}

func (t busyboxTool) setPasswd(ctx context.Context, name, hash string) error {
	return chpasswd(ctx, t.a, t.sys, name, hash)
}

func (t busyboxTool) lock(ctx context.Context, name string) error {
	return t.a.run(ctx, "passwd", []string{"passwd", "-l", name}, nil, nil)
}

// secondaryGroups returns u's groups other than its primary one.
func secondaryGroups(u *User) []string {
	var out []string
	for _, g := range u.Groups {
		if g != u.PrimaryGroup && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func (a *applier) usersGroups(ctx context.Context, cfg *Config) error {
	if len(cfg.Groups) == 0 && len(cfg.Users) == 0 {
		return nil
	}
	var o Origin
	if len(cfg.Groups) > 0 {
		o = cfg.Groups[0].Origin
	} else {
		o = cfg.Users[0].Origin
	}
	sys, err := a.system(ctx)
	if err != nil {
		return stepError(o, err)
	}
	tool := a.accountTool(sys)
	for i := range cfg.Groups {
		g := &cfg.Groups[i]
		if err := a.group(ctx, tool, g); err != nil {
			return stepError(g.Origin, err)
		}
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if err := a.user(ctx, tool, sys, u); err != nil {
			return stepError(u.Origin, err)
		}
	}
	return nil
}

func (a *applier) group(ctx context.Context, tool accountTool, g *Group) error {
	db, err := loadEtc(ctx, a.tr)
	if err != nil {
		return err
	}
	if db.groupRecord(g.Name) == nil {
		a.progress(g.Origin, "adding group "+g.Name)
		if err := tool.addGroup(ctx, g.Name, false); err != nil {
			return err
		}
		if db, err = loadEtc(ctx, a.tr); err != nil {
			return err
		}
	}
	for _, m := range g.Members {
		if db.userRecord(m) == nil {
			return fmt.Errorf("member %s of group %s is not a user (groups come before users, as in cloud-init: "+
				"give a new user its groups in users[].groups)", m, g.Name)
		}
		if !db.isMember(g.Name, m) {
			a.progress(g.Origin, "adding "+m+" to group "+g.Name)
			if err := tool.addMember(ctx, g.Name, m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *applier) user(ctx context.Context, tool accountTool, sys *System, u *User) error {
	db, err := loadEtc(ctx, a.tr)
	if err != nil {
		return err
	}
	if db.userRecord(u.Name) == nil {
		nu := *u
		// A group named after the user (left, perhaps, by an earlier run
		// that failed) becomes its primary group instead of a conflict.
		if nu.PrimaryGroup == "" && db.groupRecord(nu.Name) != nil {
			nu.PrimaryGroup = nu.Name
		}
		for _, g := range append([]string{nu.PrimaryGroup}, nu.Groups...) {
			if g != "" && db.groupRecord(g) == nil {
				a.progress(u.Origin, "adding group "+g)
				if err := tool.addGroup(ctx, g, false); err != nil {
					return err
				}
				if db, err = loadEtc(ctx, a.tr); err != nil {
					return err
				}
			}
		}
		a.progress(u.Origin, "adding user "+u.Name)
		if err := tool.addUser(ctx, &nu); err != nil {
			return err
		}
		if u.Passwd != "" {
			if err := tool.setPasswd(ctx, u.Name, u.Passwd); err != nil {
				return err
			}
		}
		if u.Locked() {
			if err := tool.lock(ctx, u.Name); err != nil {
				return err
			}
		}
		if db, err = loadEtc(ctx, a.tr); err != nil {
			return err
		}
	} else {
		a.progress(u.Origin, "user "+u.Name+" exists: left as it is")
	}
	if len(u.Sudo) > 0 {
		if err := a.sudo(ctx, sys, u); err != nil {
			return err
		}
	}
	if len(u.SSHAuthorizedKeys) > 0 {
		rec := db.userRecord(u.Name)
		if rec == nil {
			return fmt.Errorf("user %s is not in /etc/passwd after it was created", u.Name)
		}
		if err := a.authorizedKeys(ctx, u, rec); err != nil {
			return err
		}
	}
	return nil
}

// SudoersFile returns the file that Apply writes a user's sudo rules to.
// sudo skips files with a dot in their names, so a dot in the user name
// becomes '_'.
func SudoersFile(user string) string {
	return "/etc/sudoers.d/90-cloudconfig-" + strings.ReplaceAll(user, ".", "_")
}

func (a *applier) sudo(ctx context.Context, sys *System, u *User) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by lxkit cloudconfig from %s.\n", u.Origin)
	for _, r := range u.Sudo {
		fmt.Fprintf(&b, "%s %s\n", u.Name, r)
	}
	wo := writeOptions{mode: 0o440, owner: "0:0"}
	if sys.Has("visudo") {
		wo.check = func(tmp string) []string { return []string{"visudo", "-c", "-q", "-f", tmp} }
	}
	a.progress(u.Origin, "sudo rules for "+u.Name)
	if err := a.replaceFile(ctx, SudoersFile(u.Name), []byte(b.String()), wo); err != nil {
		return fmt.Errorf("sudo: %w", err)
	}
	return nil
}

// authorizedKeys adds the user's keys to ~/.ssh/authorized_keys, keeping
// the keys already there.
func (a *applier) authorizedKeys(ctx context.Context, u *User, rec []string) error {
	owner := rec[2] + ":" + rec[3]
	dir := path.Join(rec[5], ".ssh")
	file := dir + "/authorized_keys"
	a.progress(u.Origin, file)
	const script = `mkdir -p "$1" && chown "$2" "$1" && chmod 700 "$1"`
	if err := a.run(ctx, "", []string{"/bin/sh", "-c", script, "sh", dir, owner}, nil, nil); err != nil {
		return fmt.Errorf("ssh_authorized_keys: %w", err)
	}
	old, err := readFiles(ctx, a.tr, file)
	if err != nil {
		return fmt.Errorf("ssh_authorized_keys: %w", err)
	}
	merged, changed := mergeKeys(old[file], u.SSHAuthorizedKeys)
	if !changed {
		return nil
	}
	if err := a.replaceFile(ctx, file, merged, writeOptions{mode: 0o600, owner: owner}); err != nil {
		return fmt.Errorf("ssh_authorized_keys: %w", err)
	}
	return nil
}

// mergeKeys appends to an authorized_keys file the keys it lacks.
func mergeKeys(old []byte, keys []string) ([]byte, bool) {
	have := map[string]bool{}
	text := string(old)
	for _, l := range strings.Split(text, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	changed := false
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if have[k] {
			continue
		}
		have[k] = true
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += k + "\n"
		changed = true
	}
	return []byte(text), changed
}
