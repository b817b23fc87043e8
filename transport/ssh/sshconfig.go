package ssh

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/sshconfig"
)

// matchExec runs a Match exec command line for applySSHConfig; nil runs
// it (the fuzz test sets one that runs nothing it makes up).
var matchExec func(line string) bool

// applySSHConfig fills the fields c leaves empty from the OpenSSH client
// configuration for c.Host, as ssh would: the HostName to connect to, the
// user, port, keys, agent, known_hosts files, connect timeout and jump
// hosts. Fields set in c win.
func (c Config) applySSHConfig() (Config, error) {
	if c.NoConfigFiles {
		return c, nil
	}
	files := []sshconfig.File{{Path: "/etc/ssh/ssh_config", System: true}}
	if len(c.ConfigFiles) > 0 {
		files = nil
		for _, f := range c.ConfigFiles {
			files = append(files, sshconfig.File{Path: f})
		}
	} else if home, err := os.UserHomeDir(); err == nil && home != "" {
		files = append([]sshconfig.File{{Path: filepath.Join(home, ".ssh", "config")}}, files...)
	}
	o, err := sshconfig.Reader{Exec: matchExec}.Read(c.Host, c.User, files)
	if err != nil {
		return c, err
	}
	home, _ := os.UserHomeDir()
	alias := c.Host
	if h := o.Get("hostname"); h != "" {
		c.Host = sshconfig.ExpandTokens(h, map[byte]string{'h': alias})
	}
	if c.User == "" {
		c.User = o.Get("user")
	}
	if p := o.Get("port"); c.Port == 0 && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "SSH configuration for %s: bad Port %q", alias, p)
		}
		c.Port = n
	}
	if t := o.Get("connecttimeout"); c.Timeout == 0 && t != "" && t != "none" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return c, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "SSH configuration for %s: bad ConnectTimeout %q", alias, t)
		}
		c.Timeout = time.Duration(n) * time.Second
	}
	if j := o.Get("proxyjump"); c.ProxyJump == "" && j != "none" {
		c.ProxyJump = j
	}
	// Tokens of the file keywords: %d home, %h host name, %n alias, %p
	// port, %r remote user, %u local user.
	r := c.resolved()
	tokens := map[byte]string{'d': home, 'h': r.Host, 'n': alias, 'p': strconv.Itoa(r.Port), 'r': r.User, 'u': sshconfig.LocalUser()}
	path := func(p string) string { return sshconfig.ExpandHome(sshconfig.ExpandTokens(p, tokens), home) }
	if len(c.KeyFiles) == 0 && len(o.IdentityFiles) > 0 {
		for _, f := range o.IdentityFiles {
			if f != "none" {
				c.configKeyFiles = append(c.configKeyFiles, path(f))
			}
		}
	}
	if agentSocket := o.Get("identityagent"); !c.NoAgent && c.AgentSocket == "" && agentSocket != "" {
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
	user, userSet := o.Values("userknownhostsfile")
	global, globalSet := o.Values("globalknownhostsfile")
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
