// Package sshconfig reads the OpenSSH client configuration
// (ssh_config(5)) for a host, as ssh reads it: the part of it lxkit uses.
package sshconfig

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/smallfile"
)

// Files are read in order, the user's then the system's; within them the
// first value given for a keyword wins, except IdentityFile, whose values
// add up. Host and Match blocks, Include (with globs) and the %-tokens of
// each keyword are understood; other keywords are skipped.

// Options are the values that apply to one host: the first given for
// each keyword, and every IdentityFile.
type Options struct {
	values        map[string][]string // by lower-case keyword
	IdentityFiles []string
}

// Get returns a keyword's (first) value, or "".
func (o Options) Get(key string) string {
	if v := o.values[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns all the values of a keyword's line, and whether one was
// given.
func (o Options) Values(key string) ([]string, bool) {
	v, ok := o.values[key]
	return v, ok
}

// keywords are those read; every other one is skipped.
var keywords = map[string]bool{
	"hostname": true, "user": true, "port": true, "proxyjump": true,
	"identityfile": true, "identityagent": true, "connecttimeout": true,
	"userknownhostsfile": true, "globalknownhostsfile": true,
}

// maxIncludeDepth bounds nested Includes, as OpenSSH does.
const maxIncludeDepth = 16

// Reader reads the configuration of hosts.
type Reader struct {
	// Exec runs the command line of a Match exec and reports whether it
	// exited 0; nil runs it with /bin/sh, for 30 seconds at most, with no
	// input and its output discarded.
	Exec func(line string) bool
}

// File is a configuration file; System marks /etc/ssh/ssh_config, whose
// relative Includes are under /etc/ssh (the user's are under ~/.ssh).
type File struct {
	Path   string
	System bool
}

// Read reads files, in order, for the host alias and the login user (""
// when not given), with a zero Reader.
func Read(alias, user string, files []File) (Options, error) {
	return Reader{}.Read(alias, user, files)
}

// Read reads files, in order, for the host alias and the login user (""
// when not given). A malformed line is an error matching
// errdefs.ErrInvalidArgument that names its file and line; a file that is
// missing is skipped.
func (rd Reader) Read(alias, user string, files []File) (Options, error) {
	home, _ := os.UserHomeDir()
	r := &configReader{alias: strings.ToLower(alias), user: user, home: home, run: rd.Exec}
	r.opts.values = map[string][]string{}
	for _, f := range files {
		if err := r.file(f.Path, f.System, 0); err != nil {
			return r.opts, err
		}
	}
	return r.opts, nil
}

// configReader walks the files for one host.
type configReader struct {
	alias string // the host as given, Match originalhost
	user  string // the login if given (Match user)
	home  string
	opts  Options
	run   func(line string) bool // Match exec; nil: runMatchExec
}

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

// defaultPort is ssh's, for the %p of a Match exec.
const defaultPort = 22

func (r *configReader) file(path string, system bool, depth int) error {
	b, err := smallfile.Read(path, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		var pe *fs.PathError // its text repeats the path
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err, "reading SSH configuration %s", path)
	}
	active := true // before the first Host or Match
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxConfigSize)
	for line := 1; sc.Scan(); line++ {
		at := func(format string, a ...any) error {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %s", TildePath(path), line, fmt.Sprintf(format, a...))
		}
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return at("%v", err)
		}
		switch key {
		case "":
			continue
		case "host":
			if len(args) == 0 {
				return at("Host without a pattern")
			}
			active = matchPatternList(r.alias, args)
		case "match":
			if active, err = r.match(args); err != nil {
				return at("%v", err)
			}
		case "include":
			if !active {
				continue
			}
			if depth >= maxIncludeDepth {
				return at("Include nested more than %d deep", maxIncludeDepth)
			}
			for _, pattern := range args {
				p := ExpandHome(pattern, r.home)
				if !filepath.IsAbs(p) {
					if system {
						p = filepath.Join("/etc/ssh", p)
					} else {
						p = filepath.Join(r.home, ".ssh", p)
					}
				}
				matches, err := filepath.Glob(p)
				if err != nil {
					return at("Include %q: %v", pattern, err)
				}
				for _, m := range matches {
					if err := r.file(m, system, depth+1); err != nil {
						return err
					}
				}
			}
		default:
			if !active || !keywords[key] {
				continue
			}
			if len(args) == 0 {
				return at("%s without a value", key)
			}
			r.set(key, args)
		}
	}
	if err := sc.Err(); err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err, "reading SSH configuration %s", path)
	}
	return nil
}

// set records a keyword's value unless an earlier one holds.
func (r *configReader) set(key string, args []string) {
	if key == "identityfile" {
		r.opts.IdentityFiles = append(r.opts.IdentityFiles, args[0])
	} else if _, ok := r.opts.values[key]; !ok {
		r.opts.values[key] = args
	}
}

// match evaluates a Match line's criteria, all of which must hold.
func (r *configReader) match(args []string) (bool, error) {
	if len(args) == 0 {
		return false, errors.New("match without criteria")
	}
	result := true
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		negate := strings.HasPrefix(crit, "!")
		crit = strings.TrimPrefix(crit, "!")
		var ok bool
		switch crit {
		case "all":
			ok = true
		case "canonical":
			ok = false // no canonicalization pass here
		case "final":
			ok = true // the one pass here is the final one
		case "host", "originalhost", "user", "localuser", "exec", "localnetwork":
			if i+1 >= len(args) {
				return false, fmt.Errorf("match %s without an argument", crit)
			}
			i++
			list := strings.Split(args[i], ",")
			switch crit {
			case "host":
				ok = matchPatternList(strings.ToLower(r.hostName()), list)
			case "originalhost":
				ok = matchPatternList(r.alias, list)
			case "user":
				ok = matchPatternList(r.remoteUser(), list)
			case "localuser":
				ok = matchPatternList(LocalUser(), list)
			case "localnetwork":
				var err error
				if ok, err = onLocalNetwork(list); err != nil {
					return false, err
				}
			case "exec":
				if !result {
					continue // as ssh: no command for a line already false
				}
				ok = r.exec(args[i])
			}
		default:
			return false, fmt.Errorf("match %s is not supported by lxkit (all, canonical, final, exec, host, localnetwork, localuser, originalhost and user are)", crit)
		}
		if ok == negate {
			result = false
		}
	}
	return result, nil
}

// exec runs a Match exec command with sh, as ssh does, after expanding its
// tokens; it matches when the command exits 0. It gets no input and its
// output is discarded; it may take 30 seconds at most.
func (r *configReader) exec(command string) bool {
	port := r.opts.Get("port")
	if port == "" {
		port = strconv.Itoa(defaultPort)
	}
	local, _ := os.Hostname()
	line := ExpandTokens(command, map[byte]string{'d': r.home, 'h': r.hostName(), 'n': r.alias, 'p': port,
		'r': r.remoteUser(), 'u': LocalUser(), 'l': local, 'i': strconv.Itoa(os.Getuid())})
	if r.run != nil {
		return r.run(line)
	}
	return runMatchExec(line)
}

// runMatchExec runs a Match exec command line with sh.
func runMatchExec(line string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "/bin/sh", "-c", line).Run() == nil
}

// onLocalNetwork reports whether an address of this machine's interfaces
// is in one of the networks (CIDR notation).
func onLocalNetwork(cidrs []string) (bool, error) {
	var nets []*net.IPNet
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return false, fmt.Errorf("match localnetwork: %q is not an address/length network", c)
		}
		nets = append(nets, n)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("match localnetwork: %v", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		for _, n := range nets {
			if n.Contains(ipn.IP) {
				return true, nil
			}
		}
	}
	return false, nil
}

// hostName is the name connected to, as far as the files have said yet.
func (r *configReader) hostName() string {
	if h := r.opts.Get("hostname"); h != "" {
		return ExpandTokens(h, map[byte]string{'h': r.alias})
	}
	return r.alias
}

func (r *configReader) remoteUser() string {
	switch {
	case r.user != "":
		return r.user
	case r.opts.Get("user") != "":
		return r.opts.Get("user")
	}
	return LocalUser()
}

// ExpandHome expands a leading ~ to home.
func ExpandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// ExpandTokens replaces %X by tokens[X] and %% by %; an unknown token is
// left as it is.
func ExpandTokens(s string, tokens map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
		} else if v, ok := tokens[s[i]]; ok {
			b.WriteString(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitConfigLine returns a line's keyword (lower case) and arguments:
// words separated by blanks, the keyword optionally followed by "=", words
// in double quotes kept whole. A blank or comment line has no keyword.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	var words []string
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '=' && len(words) == 1:
			i++ // "Keyword=value" or "Keyword = value", once
		case c == '"':
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				return "", nil, errors.New("unterminated quote")
			}
			words = append(words, line[i+1:i+1+end])
			i += end + 2
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '"' &&
				!(line[j] == '=' && len(words) == 0) {
				j++
			}
			words = append(words, line[i:j])
			i = j
		}
	}
	if len(words) == 0 {
		return "", nil, errors.New("no keyword")
	}
	return strings.ToLower(words[0]), words[1:], nil
}

// matchPatternList reports whether s matches the comma- or blank-separated
// patterns: one positive pattern must match and no negated (!) one.
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, field := range patterns {
		for _, p := range strings.Split(field, ",") {
			if p == "" {
				continue
			}
			neg := strings.HasPrefix(p, "!")
			if wildcardMatch(strings.ToLower(strings.TrimPrefix(p, "!")), s) {
				if neg {
					return false
				}
				matched = true
			}
		}
	}
	return matched
}

// wildcardMatch matches s against a pattern of * (any run) and ? (any one
// character), iteratively, so no input can make it slow to the point of
// hanging.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// LocalUser is the name of the user running this process.
func LocalUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// TildePath shortens a path below the home directory to ~/..., for
// messages.
func TildePath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return p
	}
	if rest, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
		return "~/" + rest
	}
	return p
}
