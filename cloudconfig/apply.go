package cloudconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/accounts"
	"github.com/lxkit/lxkit/internal/unixmode"
	"github.com/lxkit/lxkit/transport"
)

// ApplyOptions tunes Apply. The zero value discards command output.
type ApplyOptions struct {
	// Stdout and Stderr receive, live, the output of the commands that
	// steps run: runcmd, package managers, user tools. Nil discards it.
	Stdout, Stderr io.Writer
	// Progress, when set, is called before each step with what it is
	// about to do, such as "web.cfg: runcmd[2]".
	Progress func(step string)
}

// StepError is a step of Apply that failed. Its Err is often an
// *transport.ExitError (match it with errors.As).
type StepError struct {
	Origin Origin // the file and the item: "web.cfg", "runcmd[2]"
	Err    error
}

// Error returns "file: module[i]: problem", e.g. "web.cfg: runcmd[2]:
// exit status 3".
func (e *StepError) Error() string {
	if o := e.Origin.String(); o != "" {
		return o + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

// Apply applies cfg to the container behind tr, module by module in
// cloud-init's order (see the package documentation), as root: tr must
// act as root, as a driver's transport does. It stops at the first
// failure and returns a *StepError naming the file, module and item, or
// the *ParseError of cfg.Validate for a Config that Apply cannot use.
func Apply(ctx context.Context, tr transport.Transport, cfg *Config, opts ApplyOptions) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	a := &applier{tr: tr, opts: opts}
	for _, step := range []func(context.Context, *Config) error{
		func(ctx context.Context, c *Config) error { return a.writeFiles(ctx, c, false) },
		a.hostname,
		a.usersGroups,
		a.timezone,
		a.packages,
		func(ctx context.Context, c *Config) error { return a.writeFiles(ctx, c, true) },
		a.runcmd,
	} {
		if err := step(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

// applier carries what one Apply learns as it goes.
type applier struct {
	tr   transport.Transport
	opts ApplyOptions
	sys  *System // nil until a step needs it
}

func (a *applier) progress(o Origin, what string) {
	if a.opts.Progress == nil {
		return
	}
	s := o.String()
	if what != "" {
		if s != "" {
			s += ": "
		}
		s += what
	}
	a.opts.Progress(s)
}

func stepError(o Origin, err error) error {
	if err == nil {
		return nil
	}
	return &StepError{Origin: o, Err: err}
}

// system detects the container's system once.
func (a *applier) system(ctx context.Context) (*System, error) {
	if a.sys != nil {
		return a.sys, nil
	}
	sys, err := Detect(ctx, a.tr)
	if err != nil {
		return nil, err
	}
	a.sys = sys
	return sys, nil
}

// run runs a command of a step, its output streamed to the options'
// writers; a non-zero exit is an error that says what ran (what) and ends
// with the last lines of its output.
func (a *applier) run(ctx context.Context, what string, args []string, stdin io.Reader, env map[string]string) error {
	res, err := a.tr.Exec(ctx, transport.Command{
		Args: args, Stdin: stdin, Env: env, Dir: "/",
		Stdout: a.opts.Stdout, Stderr: a.opts.Stderr,
	})
	if err != nil {
		return err
	}
	return exitErr(what, res)
}

// query runs a command that only reports, capturing its output.
func (a *applier) query(ctx context.Context, args ...string) (*transport.Result, error) {
	return a.tr.Exec(ctx, transport.Command{Args: args, Capture: true, Dir: "/"})
}

// exitErr returns an *exitStatus for a command that exited non-zero.
func exitErr(what string, res *transport.Result) error {
	err := res.Err()
	var ee *transport.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	return &exitStatus{What: what, ExitError: ee}
}

// exitStatus is a step's command that exited non-zero. It words the exit
// for a message that already names the step (without the command line,
// which may be long, or hold a password), and unwraps to the
// *transport.ExitError.
type exitStatus struct {
	What string // what ran, when the step's name does not say it: "useradd"
	*transport.ExitError
}

// Error returns "what: exit status N: last lines of output".
func (e *exitStatus) Error() string {
	s := "exit status " + strconv.Itoa(e.Code)
	if e.Code == 127 {
		s += " (command not found)"
	}
	if e.What != "" {
		s = e.What + ": " + s
	}
	if t := lastLines(e.Tail, 3); t != "" {
		s += ": " + t
	}
	return s
}

func (e *exitStatus) Unwrap() error { return e.ExitError }

// lastLines returns the last n non-blank lines of out, joined with "; ".
func lastLines(out []byte, n int) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "; ")
	if len(s) > 600 {
		s = "..." + s[len(s)-597:]
	}
	return s
}

// writeOptions say how replaceFile leaves a file.
type writeOptions struct {
	mode  fs.FileMode // with setuid, setgid and sticky bits
	owner string      // "uid:gid"
	// check, when set, is a command run on the temporary file before it
	// replaces the target (visudo -cf).
	check func(tmp string) []string
}

// replaceFile writes data to p: into a temporary file beside it (mode
// 0600, root's), then owner, mode and a rename, so the file never appears
// half written or with the wrong mode. Missing directories are created. A
// symlink at p is written through, as cloud-init does. (Writing in place
// would not do: the daemons keep an existing file's mode and owner.)
func (a *applier) replaceFile(ctx context.Context, p string, data []byte, wo writeOptions) error {
	dir, base := path.Split(p)
	tmp := dir + "." + base + ".cloudconfig"
	root := transport.FileOptions{Mode: 0o600, UID: transport.Int(0), GID: transport.Int(0)}
	err := transport.WriteBytes(ctx, a.tr, tmp, data, root)
	if errors.Is(err, errdefs.ErrNotFound) {
		if err := a.run(ctx, "mkdir", []string{"mkdir", "-p", dir}, nil, nil); err != nil {
			return err
		}
		err = transport.WriteBytes(ctx, a.tr, tmp, data, root)
	}
	if err != nil {
		return err
	}
	if wo.check != nil {
		if err := a.run(ctx, "", wo.check(tmp), nil, nil); err != nil {
			_ = a.run(ctx, "", []string{"rm", "-f", tmp}, nil, nil)
			return err
		}
	}
	const script = `t=$1 p=$2
if [ -d "$p" ] && [ ! -L "$p" ]; then rm -f "$t"; echo "$p is a directory" >&2; exit 1; fi
chown "$3" "$t" && chmod "$4" "$t" || { rm -f "$t"; exit 1; }
if [ -L "$p" ]; then
	cat "$t" >"$p" && rm -f "$t" && chown "$3" "$p" && chmod "$4" "$p"
else
	mv -f "$t" "$p"
fi`
	return a.run(ctx, "", []string{"/bin/sh", "-c", script, "sh", tmp, p, wo.owner, chmodBits(wo.mode)}, nil, nil)
}

// appendFile appends data to p (created when missing), then sets its
// owner and mode, as cloud-init does for append: true.
func (a *applier) appendFile(ctx context.Context, p string, data []byte, wo writeOptions) error {
	const script = `set -e
[ -d "$2" ] || mkdir -p "$2"
cat >>"$1"
chown "$3" "$1"
chmod "$4" "$1"`
	args := []string{"/bin/sh", "-c", script, "sh", p, path.Dir(p), wo.owner, chmodBits(wo.mode)}
	return a.run(ctx, "", args, bytes.NewReader(data), nil)
}

func chmodBits(m fs.FileMode) string { return fmt.Sprintf("%04o", unixmode.To(m)) }

func (a *applier) writeFiles(ctx context.Context, cfg *Config, deferred bool) error {
	var acc *accounts.Accounts
	for i := range cfg.WriteFiles {
		f := &cfg.WriteFiles[i]
		if f.Defer != deferred {
			continue
		}
		a.progress(f.Origin, f.Path)
		owner := "0:0"
		if f.Owner != "" {
			if acc == nil {
				var err error
				if acc, err = loadAccounts(ctx, a.tr); err != nil {
					return stepError(f.Origin, err)
				}
			}
			var err error
			if owner, err = resolveOwner(acc, f.Owner); err != nil {
				if !deferred && cfg.createsUser(f.Owner) {
					err = fmt.Errorf("%w (users are created after write_files, as in cloud-init: set defer: true)", err)
				}
				return stepError(f.Origin, err)
			}
		}
		mode := fs.FileMode(0o644)
		if f.Permissions != nil {
			mode = *f.Permissions
		}
		wo := writeOptions{mode: mode, owner: owner}
		var err error
		if f.Append {
			err = a.appendFile(ctx, f.Path, f.Content, wo)
		} else {
			err = a.replaceFile(ctx, f.Path, f.Content, wo)
		}
		if err != nil {
			return stepError(f.Origin, err)
		}
	}
	return nil
}

// createsUser reports whether the users module makes the user of owner.
func (c *Config) createsUser(owner string) bool {
	user, _, _ := strings.Cut(owner, ":")
	for _, u := range c.Users {
		if u.Name == user {
			return true
		}
	}
	return false
}

// loadAccounts reads the container's /etc/passwd and /etc/group afresh.
func loadAccounts(ctx context.Context, tr transport.Transport) (*accounts.Accounts, error) {
	files, err := readFiles(ctx, tr, "/etc/passwd", "/etc/group")
	if err != nil {
		return nil, err
	}
	if _, ok := files["/etc/passwd"]; !ok {
		return nil, errors.New("the container has no /etc/passwd")
	}
	return accounts.Parse(files["/etc/passwd"], files["/etc/group"]), nil
}

// resolveOwner turns "user[:group]" into "uid:gid"; without a group, the
// group is root's, as cloud-init leaves it.
func resolveOwner(acc *accounts.Accounts, owner string) (string, error) {
	user, group, hasGroup := strings.Cut(owner, ":")
	id, err := acc.User(user)
	if err != nil {
		return "", fmt.Errorf("owner %s: %w", owner, err)
	}
	gid := 0
	if hasGroup {
		if gid, err = acc.Group(group); err != nil {
			return "", fmt.Errorf("owner %s: %w", owner, err)
		}
	}
	return fmt.Sprintf("%d:%d", id.UID, gid), nil
}

// hostNames works out the host name and the FQDN as cloud-init does: an
// fqdn alone gives the host name its first label, and a host name with
// dots is the fqdn.
func hostNames(hostname, fqdn string) (host, full string) {
	switch {
	case fqdn != "" && hostname != "":
		return hostname, fqdn
	case fqdn != "":
		host, _, _ = strings.Cut(fqdn, ".")
		return host, fqdn
	case strings.Contains(hostname, "."):
		host, _, _ = strings.Cut(hostname, ".")
		return host, hostname
	}
	return hostname, ""
}

func (a *applier) hostname(ctx context.Context, cfg *Config) error {
	if cfg.PreserveHostname || (cfg.Hostname == "" && cfg.FQDN == "") {
		return nil
	}
	o := cfg.origin("hostname")
	if cfg.Hostname == "" {
		o = cfg.origin("fqdn")
	}
	host, fqdn := hostNames(cfg.Hostname, cfg.FQDN)
	a.progress(o, host)
	root := writeOptions{mode: 0o644, owner: "0:0"}
	if err := a.replaceFile(ctx, "/etc/hostname", []byte(host+"\n"), root); err != nil {
		return stepError(o, err)
	}
	// hostname(1) where there is one, else the kernel's file.
	const script = `if command -v hostname >/dev/null 2>&1; then hostname "$1"; else printf '%s\n' "$1" >/proc/sys/kernel/hostname; fi`
	if err := a.run(ctx, "setting the host name", []string{"/bin/sh", "-c", script, "sh", host}, nil, nil); err != nil {
		return stepError(o, err)
	}
	if !cfg.ManageEtcHosts {
		return nil
	}
	o = cfg.origin("manage_etc_hosts")
	files, err := readFiles(ctx, a.tr, "/etc/hosts")
	if err != nil {
		return stepError(o, err)
	}
	hosts := files["/etc/hosts"]
	names := host
	if fqdn != "" && fqdn != host {
		names = fqdn + " " + host
	}
	if err := a.replaceFile(ctx, "/etc/hosts", etcHosts(hosts, names), root); err != nil {
		return stepError(o, err)
	}
	return nil
}

// etcHosts points the 127.0.1.1 line of an /etc/hosts at names, adding
// the line when there is none and dropping any other 127.0.1.1 lines.
func etcHosts(hosts []byte, names string) []byte {
	line := "127.0.1.1\t" + names
	var out []string
	done := false
	text := strings.TrimSuffix(string(hosts), "\n")
	if text != "" {
		for _, l := range strings.Split(text, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "127.0.1.1" {
				if !done {
					out = append(out, line)
					done = true
				}
				continue
			}
			out = append(out, l)
		}
	}
	if !done {
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func (a *applier) timezone(ctx context.Context, cfg *Config) error {
	if cfg.Timezone == "" {
		return nil
	}
	o := cfg.origin("timezone")
	a.progress(o, cfg.Timezone)
	const script = `z=/usr/share/zoneinfo
if [ -d "$z" ]; then
	[ -f "$z/$1" ] || { echo "unknown time zone $1: there is no $z/$1" >&2; exit 1; }
	ln -sf "$z/$1" /etc/localtime
fi
printf '%s\n' "$1" >/etc/timezone`
	return stepError(o, a.run(ctx, "", []string{"/bin/sh", "-c", script, "sh", cfg.Timezone}, nil, nil))
}

func (a *applier) runcmd(ctx context.Context, cfg *Config) error {
	for i := range cfg.Runcmd {
		c := &cfg.Runcmd[i]
		a.progress(c.Origin, "")
		if err := a.run(ctx, "", c.argv(), nil, nil); err != nil {
			return stepError(c.Origin, err)
		}
	}
	return nil
}

// readFiles reads whole files in one command, following symlinks (the
// daemons' file API returns a symlink's target path instead: /etc/os-release
// is a symlink on Debian). Missing files are left out of the map.
func readFiles(ctx context.Context, tr transport.Transport, paths ...string) (map[string][]byte, error) {
	const script = `for f; do
	if [ -f "$f" ]; then printf '%s %s\n' "$(wc -c <"$f")" "$f" && cat "$f" || exit 1
	else printf -- '- %s\n' "$f"; fi
done`
	res, err := tr.Exec(ctx, transport.Command{Args: append([]string{"/bin/sh", "-c", script, "sh"}, paths...), Capture: true})
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", strings.Join(paths, ", "), err)
	}
	out := map[string][]byte{}
	rest := res.Stdout
	for _, p := range paths {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(line))
		if !ok || len(f) != 2 || f[1] != p {
			return nil, fmt.Errorf("reading %s: unexpected output %q", p, line)
		}
		rest = after
		if f[0] == "-" {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 || n > len(rest) {
			return nil, fmt.Errorf("reading %s: unexpected size %q (did it change meanwhile?)", p, f[0])
		}
		out[p], rest = rest[:n], rest[n:]
	}
	return out, nil
}
