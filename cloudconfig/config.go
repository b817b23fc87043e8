package cloudconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Header is the first line of every cloud-config file.
const Header = "#cloud-config"

// Config is one cloud-config file, or several merged. Its zero value
// applies nothing. The fields are the supported modules, in the order
// Apply runs them; see the package documentation for what each does.
type Config struct {
	WriteFiles []File // defer: true ones run late, see File.Defer

	Hostname         string
	FQDN             string
	PreserveHostname bool
	ManageEtcHosts   bool

	Groups []Group
	Users  []User

	Timezone string

	PackageUpdate  bool
	PackageUpgrade bool
	Packages       []Package

	Runcmd []Command

	// Origins records where each scalar setting was made, by key
	// ("hostname", "package_update", ...). Parse fills it in; Merge uses
	// it to let a later file's false override an earlier true, and Apply
	// to name the file in errors. A hand-built Config may leave it nil:
	// then Merge takes a scalar from a config when it is not the zero value.
	Origins map[string]Origin
}

// Origin says where something in a Config was written.
type Origin struct {
	File   string // the name given to Parse
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Path   string // the module and item: "runcmd[2]", "users[0].uid", "timezone"
}

// String returns "file: path", leaving out what is empty.
func (o Origin) String() string {
	switch {
	case o.File == "":
		return o.Path
	case o.Path == "":
		return o.File
	}
	return o.File + ": " + o.Path
}

// position returns "file:line:col: path", leaving out what is unknown.
func (o Origin) position() string {
	s := o.File
	if o.Line > 0 {
		s += ":" + strconv.Itoa(o.Line)
		if o.Column > 0 {
			s += ":" + strconv.Itoa(o.Column)
		}
	}
	if o.Path == "" {
		return s
	}
	if s == "" {
		return o.Path
	}
	return s + ": " + o.Path
}

// File is one entry of write_files.
type File struct {
	Path    string // absolute
	Content []byte // decoded
	// Permissions is the file's mode, with setuid, setgid and sticky as
	// fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky; nil means 0644.
	Permissions *fs.FileMode
	// Owner is "user:group", "user" (group root) or numeric ids, resolved
	// in the container when the file is written; empty means root:root.
	Owner  string
	Append bool
	// Defer writes the file after users and packages, as cloud-init's
	// write_files_deferred does.
	Defer  bool
	Origin Origin
}

// Group is one entry of the groups module.
type Group struct {
	Name    string
	Members []string // existing users to add to the group
	Origin  Origin
}

// User is one entry of the users module. Only Name is required.
type User struct {
	Name         string
	Gecos        string
	Homedir      string // empty: the tool's default, /home/NAME
	PrimaryGroup string // empty: a group named after the user
	Groups       []string
	Shell        string // empty: the tool's default
	UID          *int   // nil: the next free one
	System       bool
	NoCreateHome bool
	// LockPasswd locks the password; nil means true, cloud-init's default.
	LockPasswd *bool
	// Passwd is a password hash, as in /etc/shadow.
	Passwd            string
	SSHAuthorizedKeys []string
	// Sudo holds sudoers rules, each written as "NAME RULE".
	Sudo   []string
	Origin Origin
}

// Locked reports whether Apply locks the user's password.
func (u *User) Locked() bool { return u.LockPasswd == nil || *u.LockPasswd }

// Package is one entry of the packages module.
type Package struct {
	Name    string
	Version string // empty: any
	Origin  Origin
}

// Command is one entry of runcmd: either a shell script or an argv.
type Command struct {
	Shell  string   // run with /bin/sh -c
	Args   []string // run as is, when Shell is empty
	Origin Origin
}

// argv returns what the command runs.
func (c *Command) argv() []string {
	if c.Shell != "" {
		return []string{"/bin/sh", "-c", c.Shell}
	}
	return c.Args
}

// Merge joins configs into a new one, in order: lists are appended, and
// each scalar setting takes the value of the last config that makes it.
// Nil configs are skipped. The configs are not modified.
func Merge(cfgs ...*Config) *Config {
	out := &Config{}
	for _, c := range cfgs {
		if c == nil {
			continue
		}
		out.WriteFiles = append(out.WriteFiles, c.WriteFiles...)
		out.Groups = append(out.Groups, c.Groups...)
		out.Users = append(out.Users, c.Users...)
		out.Packages = append(out.Packages, c.Packages...)
		out.Runcmd = append(out.Runcmd, c.Runcmd...)
		mergeScalar(out, c, "hostname", &out.Hostname, c.Hostname)
		mergeScalar(out, c, "fqdn", &out.FQDN, c.FQDN)
		mergeScalar(out, c, "timezone", &out.Timezone, c.Timezone)
		mergeScalar(out, c, "preserve_hostname", &out.PreserveHostname, c.PreserveHostname)
		mergeScalar(out, c, "manage_etc_hosts", &out.ManageEtcHosts, c.ManageEtcHosts)
		mergeScalar(out, c, "package_update", &out.PackageUpdate, c.PackageUpdate)
		mergeScalar(out, c, "package_upgrade", &out.PackageUpgrade, c.PackageUpgrade)
	}
	return out
}

// mergeScalar sets *dst to v when c makes the setting key: when c's
// Origins name it, or, for a config without Origins, when v is not zero.
func mergeScalar[T comparable](out, c *Config, key string, dst *T, v T) {
	o, set := c.Origins[key]
	var zero T
	if !set && (c.Origins != nil || v == zero) {
		return
	}
	*dst = v
	if set {
		if out.Origins == nil {
			out.Origins = map[string]Origin{}
		}
		out.Origins[key] = o
	} else {
		delete(out.Origins, key)
	}
}

// origin returns where the scalar setting key was made, for errors.
func (c *Config) origin(key string) Origin {
	if o, ok := c.Origins[key]; ok {
		return o
	}
	return Origin{Path: key}
}

// Validate checks what Parse checks of each value, for a Config built by
// hand: names, paths and the like that Apply could not use safely. It
// returns a *ParseError for the first problem.
func (c *Config) Validate() error {
	check := func(o Origin, err error) error {
		if err == nil {
			return nil
		}
		return &ParseError{Origin: o, Err: err}
	}
	total := 0
	for _, f := range c.WriteFiles {
		if err := check(f.Origin, f.validate()); err != nil {
			return err
		}
		if total += len(f.Content); total > MaxContent {
			return check(f.Origin, fmt.Errorf("more than %d MiB of write_files content together", MaxContent>>20))
		}
	}
	for _, key := range []string{"hostname", "fqdn"} {
		v := c.Hostname
		if key == "fqdn" {
			v = c.FQDN
		}
		if v != "" {
			if err := check(c.origin(key), validHostname(v)); err != nil {
				return err
			}
		}
	}
	for _, g := range c.Groups {
		if err := check(g.Origin, g.validate()); err != nil {
			return err
		}
	}
	for _, u := range c.Users {
		if err := check(u.Origin, u.validate()); err != nil {
			return err
		}
	}
	if c.Timezone != "" {
		if err := check(c.origin("timezone"), validTimezone(c.Timezone)); err != nil {
			return err
		}
	}
	for _, p := range c.Packages {
		if err := check(p.Origin, p.validate()); err != nil {
			return err
		}
	}
	for _, r := range c.Runcmd {
		if err := check(r.Origin, r.validate()); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) validate() error {
	if err := checkFilePath(f.Path); err != nil {
		return err
	}
	if f.Permissions != nil && *f.Permissions&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return fmt.Errorf("permissions %v are not a file's permission bits", *f.Permissions)
	}
	if f.Owner != "" {
		return checkOwner(f.Owner)
	}
	return nil
}

func checkFilePath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("path %q is not an absolute file path", p)
	}
	return noControl("path", p)
}

// checkOwner checks "user", "user:group" (names or ids).
func checkOwner(owner string) error {
	user, group, hasGroup := strings.Cut(owner, ":")
	if err := validName("owner's user", user); err != nil {
		return err
	}
	if hasGroup {
		return validName("owner's group", group)
	}
	return nil
}

func checkAbsolute(what, p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%s %q is not an absolute path", what, p)
	}
	return noField(what, p)
}

func (g *Group) validate() error {
	if err := validName("group name", g.Name); err != nil {
		return err
	}
	for _, m := range g.Members {
		if err := validName("member", m); err != nil {
			return err
		}
	}
	return nil
}

func (u *User) validate() error {
	if err := validName("user name", u.Name); err != nil {
		return err
	}
	if _, err := strconv.Atoi(u.Name); err == nil {
		return fmt.Errorf("user name %q is a number", u.Name)
	}
	if u.PrimaryGroup != "" {
		if err := validName("primary_group", u.PrimaryGroup); err != nil {
			return err
		}
	}
	for _, g := range u.Groups {
		if err := validName("group", g); err != nil {
			return err
		}
	}
	for _, f := range [][2]string{{"homedir", u.Homedir}, {"shell", u.Shell}} {
		if f[1] != "" {
			if err := checkAbsolute(f[0], f[1]); err != nil {
				return err
			}
		}
	}
	if err := noField("gecos", u.Gecos); err != nil {
		return err
	}
	if err := noField("passwd", u.Passwd); err != nil {
		return err
	}
	if u.UID != nil && (*u.UID < 0 || *u.UID > 1<<32-2) {
		return fmt.Errorf("uid %d is out of range", *u.UID)
	}
	for _, k := range u.SSHAuthorizedKeys {
		if strings.TrimSpace(k) == "" {
			return errors.New("an ssh_authorized_keys entry is empty")
		}
		if err := noControl("ssh_authorized_keys entry", k); err != nil {
			return err
		}
	}
	for _, r := range u.Sudo {
		if strings.TrimSpace(r) == "" {
			return errors.New("a sudo rule is empty")
		}
		if err := noControl("sudo rule", r); err != nil {
			return err
		}
	}
	return nil
}

func (p *Package) validate() error {
	if !packageName().MatchString(p.Name) {
		return fmt.Errorf("%q is not a package name", p.Name)
	}
	if p.Version != "" && !packageVersion().MatchString(p.Version) {
		return fmt.Errorf("%q is not a package version", p.Version)
	}
	return nil
}

func (c *Command) validate() error {
	if c.Shell == "" && len(c.Args) == 0 {
		return errors.New("empty command")
	}
	if c.Shell == "" && c.Args[0] == "" {
		return errors.New("empty program name")
	}
	for _, a := range c.argv() {
		if strings.IndexByte(a, 0) >= 0 {
			return errors.New("command contains a NUL byte")
		}
	}
	return nil
}

// The name patterns are compiled on first use: their bounded repetitions
// compile to large programs (1.3 ms at start-up, paid by every lxkit
// command, most of which never read a cloud-config).
var (
	// accountName is what useradd and busybox adduser accept, give or take
	// their stricter defaults: never ':', space, '/' or a leading '-'.
	accountName    = lazyRegexp(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}\$?$`)
	packageName    = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9+._@:-]{0,199}$`)
	packageVersion = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9+._:~-]{0,99}$`)
	hostLabel      = lazyRegexp(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	timezoneName   = lazyRegexp(`^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$`)
)

// lazyRegexp returns a function that compiles expr once, when first called.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// validName checks a user or group name, or a numeric id where one is
// allowed (an owner's parts).
func validName(what, s string) error {
	if !accountName().MatchString(s) {
		return fmt.Errorf("%s %q is not a valid account name", what, s)
	}
	return nil
}

func validHostname(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("host name %q is longer than 253 characters", s)
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabel().MatchString(l) {
			return fmt.Errorf("%q is not a valid host name (labels of letters, digits and inner '-', up to 63 each)", s)
		}
	}
	return nil
}

func validTimezone(s string) error {
	if len(s) > 200 || !timezoneName().MatchString(s) {
		return fmt.Errorf("%q is not a time zone name such as Europe/Athens", s)
	}
	return nil
}

// noControl refuses control characters (newlines, NUL, ...), which would
// break the one-line records that values end up in.
func noControl(what, s string) error {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character (%q)", what, r)
		}
	}
	return nil
}

// noField refuses what cannot be a field of /etc/passwd or /etc/shadow.
func noField(what, s string) error {
	if strings.Contains(s, ":") {
		return fmt.Errorf("%s %q contains ':'", what, s)
	}
	return noControl(what, s)
}
