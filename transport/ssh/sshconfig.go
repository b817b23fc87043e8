package ssh

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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/smallfile"
)

// The OpenSSH client configuration (ssh_config(5)) for a host: the part of
// it this package uses, read as ssh reads it. Files are read in order, the
// user's then the system's; within them the first value given for a
// keyword wins, except IdentityFile, whose values add up. Host and Match
// blocks, Include (with globs) and the %-tokens of each keyword are
// understood; other keywords are skipped.

// sshOptions are the values that apply to one host: the first given for
// each keyword, and every IdentityFile.
type sshOptions struct {
	values        map[string][]string // by lower-case keyword
	identityFiles []string
}

// get returns a keyword's (first) value, or "".
func (o sshOptions) get(key string) string {
	if v := o.values[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// keywords are those read; every other one is skipped.
var keywords = map[string]bool{
	"hostname": true, "user": true, "port": true, "proxyjump": true,
	"identityfile": true, "identityagent": true, "connecttimeout": true,
	"userknownhostsfile": true, "globalknownhostsfile": true,
}

// maxIncludeDepth bounds nested Includes, as OpenSSH does.
const maxIncludeDepth = 16

// configReader walks the files for one host.
type configReader struct {
	alias string // the host as given, Match originalhost
	user  string // the login if given (Match user)
	home  string
	opts  sshOptions
}

// readSSHConfig reads files (system marks /etc/ssh/ssh_config, whose
// relative Includes are under /etc/ssh) for the host alias.
func readSSHConfig(alias, user string, files []configFile) (sshOptions, error) {
	home, _ := os.UserHomeDir()
	r := &configReader{alias: strings.ToLower(alias), user: user, home: home}
	r.opts.values = map[string][]string{}
	for _, f := range files {
		if err := r.file(f.path, f.system, 0); err != nil {
			return r.opts, err
		}
	}
	return r.opts, nil
}

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

type configFile struct {
	path   string
	system bool
}

func (r *configReader) file(path string, system bool, depth int) error {
	b, err := smallfile.Read(path, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, unwrapOp(err), "reading SSH configuration %s", path)
	}
	active := true // before the first Host or Match
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxConfigSize)
	for line := 1; sc.Scan(); line++ {
		at := func(format string, a ...any) error {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %s", tildePath(path), line, fmt.Sprintf(format, a...))
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
				p := expandHome(pattern, r.home)
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
		r.opts.identityFiles = append(r.opts.identityFiles, args[0])
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
				ok = matchPatternList(localUser(), list)
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
	port := r.opts.get("port")
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	local, _ := os.Hostname()
	line := expandTokens(command, map[byte]string{'d': r.home, 'h': r.hostName(), 'n': r.alias, 'p': port,
		'r': r.remoteUser(), 'u': localUser(), 'l': local, 'i': strconv.Itoa(os.Getuid())})
	return runMatchExec(line)
}

// runMatchExec runs a Match exec command line (a variable for the fuzz
// test, which must not run what it makes up).
var runMatchExec = func(line string) bool {
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
	if h := r.opts.get("hostname"); h != "" {
		return expandTokens(h, map[byte]string{'h': r.alias})
	}
	return r.alias
}

func (r *configReader) remoteUser() string {
	switch {
	case r.user != "":
		return r.user
	case r.opts.get("user") != "":
		return r.opts.get("user")
	}
	return localUser()
}

// expandHome expands a leading ~ to home.
func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// expandTokens replaces %X by tokens[X] and %% by %; an unknown token is
// left as it is.
func expandTokens(s string, tokens map[byte]string) string {
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

// applySSHConfig fills the fields c leaves empty from the OpenSSH client
// configuration for c.Host, as ssh would: the HostName to connect to, the
// user, port, keys, agent, known_hosts files, connect timeout and jump
// hosts. Fields set in c win.
func (c Config) applySSHConfig() (Config, error) {
	if c.NoConfigFiles {
		return c, nil
	}
	files := []configFile{{path: "/etc/ssh/ssh_config", system: true}}
	if len(c.ConfigFiles) > 0 {
		files = nil
		for _, f := range c.ConfigFiles {
			files = append(files, configFile{path: f})
		}
	} else if home, err := os.UserHomeDir(); err == nil && home != "" {
		files = append([]configFile{{path: filepath.Join(home, ".ssh", "config")}}, files...)
	}
	o, err := readSSHConfig(c.Host, c.User, files)
	if err != nil {
		return c, err
	}
	home, _ := os.UserHomeDir()
	alias := c.Host
	if h := o.get("hostname"); h != "" {
		c.Host = expandTokens(h, map[byte]string{'h': alias})
	}
	if c.User == "" {
		c.User = o.get("user")
	}
	if p := o.get("port"); c.Port == 0 && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "SSH configuration for %s: bad Port %q", alias, p)
		}
		c.Port = n
	}
	if t := o.get("connecttimeout"); c.Timeout == 0 && t != "" && t != "none" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return c, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "SSH configuration for %s: bad ConnectTimeout %q", alias, t)
		}
		c.Timeout = time.Duration(n) * time.Second
	}
	if j := o.get("proxyjump"); c.ProxyJump == "" && j != "none" {
		c.ProxyJump = j
	}
	// Tokens of the file keywords: %d home, %h host name, %n alias, %p
	// port, %r remote user, %u local user.
	r := c.resolved()
	tokens := map[byte]string{'d': home, 'h': r.Host, 'n': alias, 'p': strconv.Itoa(r.Port), 'r': r.User, 'u': localUser()}
	path := func(p string) string { return expandHome(expandTokens(p, tokens), home) }
	if len(c.KeyFiles) == 0 && len(o.identityFiles) > 0 {
		for _, f := range o.identityFiles {
			if f != "none" {
				c.configKeyFiles = append(c.configKeyFiles, path(f))
			}
		}
	}
	if agentSocket := o.get("identityagent"); !c.NoAgent && c.AgentSocket == "" && agentSocket != "" {
		switch agentSocket {
		case "none":
			c.NoAgent = true
		case "SSH_AUTH_SOCK":
		default:
			if v, ok := strings.CutPrefix(agentSocket, "$"); ok {
				c.AgentSocket = os.Getenv(v)
			} else {
				c.AgentSocket = path(agentSocket)
			}
		}
	}
	user, userSet := o.values["userknownhostsfile"]
	global, globalSet := o.values["globalknownhostsfile"]
	if len(c.KnownHosts) == 0 && (userSet || globalSet) {
		if !userSet {
			user = []string{"~/.ssh/known_hosts"}
		}
		if !globalSet {
			global = []string{"/etc/ssh/ssh_known_hosts"}
		}
		for _, f := range append(append([]string{}, user...), global...) {
			if f != "none" {
				c.KnownHosts = append(c.KnownHosts, path(f))
			}
		}
		if len(c.KnownHosts) == 0 {
			c.KnownHosts = []string{os.DevNull} // "none": no host is known
		}
	}
	return c, nil
}
