package ssh

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/sshconfig"
)

// Config says where to connect and how to log in. The zero value of every
// field but Host is a sensible default: what OpenSSH's ssh would use, with
// the user's ~/.ssh/config read as ssh reads it.
type Config struct {
	// Host is the machine's name or IP address, without the port, or a
	// Host alias of the OpenSSH client configuration.
	Host string
	// Port is sshd's port; 0 means 22.
	Port int
	// User is the login name; empty means the local user's.
	User string
	// KeyFiles are the private keys offered, in order. Empty means the
	// usual ones that exist: ~/.ssh/id_ed25519, id_ecdsa and id_rsa. A key
	// file that group or others can read is refused, as OpenSSH does; a
	// passphrase-protected key is only usable through ssh-agent.
	KeyFiles []string
	// NoAgent keeps ssh-agent out. By default the keys of the agent at
	// AgentSocket, or at $SSH_AUTH_SOCK when that is empty, are offered
	// first, as OpenSSH does.
	NoAgent     bool
	AgentSocket string
	// KnownHosts are the OpenSSH known_hosts files that verify the host's
	// key. Empty means ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
	// Files that do not exist count as empty. A host key is never accepted
	// without a matching line: there is no option to skip the check.
	KnownHosts []string
	// Timeout bounds connecting and the SSH handshake; 0 means 15 seconds.
	Timeout time.Duration
	// MaxSessions bounds the commands and file transfers in flight at once
	// on the connection; 0 means 10, the default MaxSessions of OpenSSH's
	// sshd. One session is kept aside for stopping cancelled commands.
	MaxSessions int
	// ProxyJump reaches the host through jump hosts, as ssh -J does:
	// "[USER@]HOST[:PORT]" or "ssh://[USER@]HOST[:PORT]", comma-separated,
	// first hop first. Each hop is a host of its own: its keys, known_hosts
	// lines and configuration are looked up as for Host (its own
	// ProxyJump aside).
	ProxyJump string
	// ConfigFiles are the OpenSSH client configuration files (ssh_config(5))
	// read for Host: its HostName, User, Port, IdentityFile, IdentityAgent,
	// UserKnownHostsFile, GlobalKnownHostsFile, ConnectTimeout and
	// ProxyJump fill the fields left empty here. Empty means
	// ~/.ssh/config then /etc/ssh/ssh_config, as ssh reads them; NoConfigFiles
	// reads none.
	ConfigFiles   []string
	NoConfigFiles bool

	configKeyFiles []string // IdentityFile of the configuration files
}

// DefaultPort is sshd's usual port.
const DefaultPort = 22

// defaultKeyNames are the key files OpenSSH tries, in its order, minus the
// DSA and security-key kinds this package does not load.
var defaultKeyNames = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// ParseURL reads "ssh://[USER@]HOST[:PORT]" (an IPv6 HOST in brackets).
// An empty USER stays empty (the local user's name at Dial) and a missing
// PORT is 22. A password in the URL is refused: log in with keys.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "invalid SSH URL (want ssh://USER@HOST[:PORT])")
	}
	shown := s // as typed, but never a password
	if u.User != nil {
		shown = u.Redacted()
	}
	if u.Scheme != "ssh" {
		return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid SSH URL %q: the scheme must be ssh://", shown)
	}
	if _, has := u.User.Password(); has {
		return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"SSH URL %s holds a password: lxkit logs in with keys only (ssh-agent or ~/.ssh/id_*)", u.Redacted())
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid SSH URL %q: want ssh://USER@HOST[:PORT] and nothing after", shown)
	}
	cfg := Config{Host: u.Hostname(), User: u.User.Username()}
	if cfg.Host == "" {
		return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid SSH URL %q: no host", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid SSH URL %q: bad port %q", shown, p)
		}
		cfg.Port = n
	}
	return cfg, nil
}

// URL returns the configuration as ssh://USER@HOST:PORT, with the defaults
// filled in.
func (c Config) URL() string {
	c = c.resolved()
	return (&url.URL{Scheme: "ssh", User: url.User(c.User), Host: c.addr()}).String()
}

// addr is host:port for dialing and for known_hosts.
func (c Config) addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// resolved fills in the defaults that need no file access.
func (c Config) resolved() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.User == "" {
		c.User = sshconfig.LocalUser()
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10
	}
	if !c.NoAgent && c.AgentSocket == "" {
		c.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	return c
}

// sshDir is the local user's ~/.ssh, or "" without a home.
func sshDir() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".ssh")
}

// keyFiles returns the key files to offer and whether the user chose them
// (then one that cannot be read is an error). Those an SSH configuration
// names replace the usual ones; as with ssh, a missing one is skipped.
func (c Config) keyFiles() (files []string, explicit bool) {
	if len(c.KeyFiles) > 0 {
		return c.KeyFiles, true
	}
	candidates := c.configKeyFiles
	if len(candidates) == 0 {
		dir := sshDir()
		if dir == "" {
			return nil, false
		}
		for _, n := range defaultKeyNames {
			candidates = append(candidates, filepath.Join(dir, n))
		}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	return files, false
}

// jumpHosts returns the prepared configurations of the ProxyJump hops,
// first hop first. Each hop is looked up in the same configuration files,
// without its own ProxyJump.
func (c Config) jumpHosts() ([]Config, error) {
	if c.ProxyJump == "" {
		return nil, nil
	}
	var hops []Config
	for _, hop := range strings.Split(c.ProxyJump, ",") {
		hop = strings.TrimSpace(hop)
		if !strings.HasPrefix(hop, "ssh://") {
			hop = "ssh://" + hop
		}
		h, err := ParseURL(hop)
		if err != nil {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "ProxyJump %q", c.ProxyJump)
		}
		h.ConfigFiles, h.NoConfigFiles = c.ConfigFiles, c.NoConfigFiles
		h.NoAgent, h.AgentSocket = c.NoAgent, c.AgentSocket
		if h, err = h.prepare(); err != nil {
			return nil, fmt.Errorf("jump host %s: %w", hop, err)
		}
		h.ProxyJump = "" // ssh would follow it; one chain is enough here
		hops = append(hops, h)
	}
	return hops, nil
}

// knownHostsFiles returns the known_hosts files to read (those that exist)
// and all that were asked for, for messages.
func (c Config) knownHostsFiles() (existing, all []string) {
	all = c.KnownHosts
	if len(all) == 0 {
		if dir := sshDir(); dir != "" {
			all = append(all, filepath.Join(dir, "known_hosts"))
		}
		all = append(all, "/etc/ssh/ssh_known_hosts")
	}
	for _, f := range all {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	return existing, all
}

// String names the configuration in messages: ssh://USER@HOST:PORT.
func (c Config) String() string { return c.URL() }

var _ fmt.Stringer = Config{}
