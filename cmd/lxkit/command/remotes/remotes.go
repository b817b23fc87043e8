// Package remotes is lxkit's store of remotes: named daemons reached over
// HTTPS or a unix socket, as `lxc remote` and `incus remote` keep them.
//
// lxkit keeps its own remotes in config.yml in its configuration directory
// ($LXKIT_CONF, $XDG_CONFIG_HOME/lxkit or ~/.config/lxkit), in the format
// lxc and incus use:
//
//	default-remote: web
//	remotes:
//	  web:
//	    addr: https://10.0.0.5:8443
//	    protocol: lxd        # lxd, incus or simplestreams; optional
//	    auth_type: tls       # optional
//	    project: default     # optional
//	    public: false
//
// with each remote's pinned server certificate in servercerts/NAME.crt and
// the client certificate in client.crt and client.key beside it.
//
// The remotes users already have in lxc's and incus's config.yml are part
// of the view but only ever read: Add, Remove, Rename, SetAddr and
// SetDefault write lxkit's directory and nothing else.
package remotes

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/internal/certs/atomicfile"
	"github.com/lxkit/lxkit/internal/smallfile"
	"github.com/lxkit/lxkit/internal/yamlfile"
)

// Where a remote comes from (Remote.Source).
const (
	SourceLXKit   = certs.SourceLXKit // lxkit's config.yml
	SourceLXC     = certs.SourceLXC   // lxc's config.yml, or one of lxc's built-in remotes
	SourceIncus   = certs.SourceIncus // incus's config.yml, or incus's built-in local
	SourceBuiltin = "builtin"         // "local" when no configuration has it
)

// ConfigFile is the name of the configuration file in each directory.
const ConfigFile = "config.yml"

// LocalName is the remote that is the default when nothing says otherwise:
// the local daemon's unix socket.
const LocalName = "local"

// Remote is one named daemon or image server.
type Remote struct {
	Name string
	// Addr is https://HOST[:PORT], unix:// (the daemon's default socket, see
	// SocketPath) or unix:///PATH/TO/SOCKET.
	Addr string
	// Protocol is "lxd", "incus" or "simplestreams" (an image server).
	// Remotes from lxc or incus without one get "lxd" or "incus", as those
	// commands assume; lxkit's own may leave it empty (found on contact).
	Protocol string
	// AuthType is how the client authenticates, as lxc and incus write it;
	// "tls" (a client certificate) when they leave it empty on a private
	// remote. lxkit's own remotes may leave it empty, meaning tls.
	AuthType string
	Project  string // the project to use; "" is the daemon's default
	// Members are the HTTPS addresses (https://HOST:PORT) of the members
	// of the cluster the remote's daemon belongs to, as lxkit last learnt
	// them from the cluster: when the daemon at Addr does not answer,
	// lxkit tries these (SetMembers records them).
	Members []string
	Public  bool   // an image server needing no authentication
	Source  string // SourceLXKit, SourceLXC, SourceIncus or SourceBuiltin
	// Default marks the remote Store.Default names (only one is marked).
	Default bool
	// Shadowed is a remote hidden by one of the same name from an earlier
	// source (lxkit's own before lxc's before incus's): Get never returns it.
	Shadowed bool
	// ServerCertPath is the certificate pinned for the remote, "" if none.
	ServerCertPath string
	// ConfigPath is the file the remote was read from; "" for the built-in
	// local remote.
	ConfigPath string

	dirs certs.Dirs // for ClientFiles
}

// ServerCert loads the pinned server certificate. It returns nil and no
// error when the remote pins none, in which case the daemon's certificate
// should be checked against the system's authorities.
func (r Remote) ServerCert() (*x509.Certificate, error) {
	if r.ServerCertPath == "" {
		return nil, nil
	}
	return certs.ReadCertificate(r.ServerCertPath)
}

// ClientFiles returns the client certificate and key to present to the
// remote: lxc's for a remote from lxc's configuration (the one that remote
// trusts), incus's for one from incus's, and for lxkit's own the first
// pair found in lxkit's, lxc's, then incus's directory
// (certs.Dirs.ClientFiles; the same for the built-in local remote). No pair
// is an error matching errdefs.ErrNotFound; a certificate without its key
// (or the reverse) one matching errdefs.ErrInvalidArgument.
func (r Remote) ClientFiles() (certs.ClientFiles, error) {
	var dir string
	switch r.Source {
	case SourceLXC:
		dir = r.dirs.LXC
	case SourceIncus:
		dir = r.dirs.Incus
	default:
		if r.dirs == (certs.Dirs{}) { // a Remote not from a Store
			return certs.DefaultClientFiles()
		}
		return r.dirs.ClientFiles()
	}
	own := certs.Dirs{}
	if r.Source == SourceLXC {
		own.LXC = dir
	} else {
		own.Incus = dir
	}
	f, err := own.ClientFiles()
	if errors.Is(err, errdefs.ErrNotFound) {
		return certs.ClientFiles{}, errdefs.Wrap(errdefs.ErrNotFound, err,
			"remote %s is %s's and %s has no client certificate for it", r.Name, r.Source, r.Source)
	}
	return f, err
}

// SocketPath returns, for a remote reached over a unix socket, the
// socket's path and true. "unix://" alone is the default socket of the
// remote's daemon, found as lxc and incus do: for LXD $LXD_DIR/unix.socket,
// else /var/lib/lxd/unix.socket or the snap's /var/snap/lxd/common/lxd/unix.socket,
// whichever exists; for Incus $INCUS_SOCKET, else unix.socket in $INCUS_DIR
// or /var/lib/incus (or the incus-user socket unix.socket.user beside it
// when only that one is writable). For a remote whose daemon is unknown
// (lxkit's own, without a protocol) the path is "", meaning: detect the
// local daemon. For other remotes it returns "", false.
func (r Remote) SocketPath() (string, bool) {
	rest, ok := strings.CutPrefix(r.Addr, "unix:")
	if !ok {
		return "", false
	}
	if p := strings.TrimPrefix(rest, "//"); p != "" {
		return p, true
	}
	switch r.daemon() {
	case "lxd":
		return lxdSocket(), true
	case "incus":
		return incusSocket(), true
	}
	return "", true
}

// daemon is "lxd", "incus" or "" (unknown).
func (r Remote) daemon() string {
	switch r.Protocol {
	case "lxd", "incus":
		return r.Protocol
	}
	switch r.Source {
	case SourceLXC:
		return "lxd"
	case SourceIncus:
		return "incus"
	}
	return ""
}

func lxdSocket() string {
	if d := os.Getenv("LXD_DIR"); d != "" {
		return filepath.Join(d, "unix.socket")
	}
	const deb, snap = "/var/lib/lxd/unix.socket", "/var/snap/lxd/common/lxd/unix.socket"
	if _, err := os.Stat(deb); err != nil {
		if _, err := os.Stat(snap); err == nil {
			return snap
		}
	}
	return deb
}

func incusSocket() string {
	if p := os.Getenv("INCUS_SOCKET"); p != "" {
		return p
	}
	dir := os.Getenv("INCUS_DIR")
	if dir == "" {
		dir = "/var/lib/incus"
	}
	p, user := filepath.Join(dir, "unix.socket"), filepath.Join(dir, "unix.socket.user")
	if !writable(p) && writable(user) {
		return user
	}
	return p
}

// Store is the merged view of lxkit's, lxc's and incus's remotes. It reads
// the files when opened; its methods are not safe for concurrent use, but
// two processes changing lxkit's configuration at once are serialized by a
// lock file.
type Store struct {
	dirs    certs.Dirs
	sources []*source // lxkit's own, then lxc's, then incus's
}

// source is one configuration file.
type source struct {
	name   string // SourceLXKit, SourceLXC or SourceIncus
	dir    string // "" when the tool is not looked at
	exists bool   // the file was there
	cfg    config
}

func (s *source) path() string { return filepath.Join(s.dir, ConfigFile) }

// config is a config.yml: lxkit's, lxc's or incus's (whose other keys,
// such as aliases, are ignored).
type config struct {
	DefaultRemote string                  `yaml:"default-remote,omitempty"`
	Remotes       map[string]remoteConfig `yaml:"remotes"`
}

type remoteConfig struct {
	Addr     string `yaml:"addr"`
	AuthType string `yaml:"auth_type,omitempty"`
	Project  string `yaml:"project,omitempty"`
	Protocol string `yaml:"protocol,omitempty"`
	Public   bool   `yaml:"public"`
	// Members are the addresses of the other members of the cluster the
	// remote belongs to (lxkit's own remotes only).
	Members []string `yaml:"member_addrs,omitempty"`
}

// Open opens the store in the directories of certs.DefaultDirs.
func Open() (*Store, error) {
	d, err := certs.DefaultDirs()
	if err != nil {
		return nil, err
	}
	return OpenDir(d.LXKit, d.LXC, d.Incus)
}

// OpenDir opens the store with lxkit's configuration in dir and lxc's and
// incus's in lxcDir and incusDir; an empty lxcDir or incusDir leaves that
// tool out. Missing directories and files hold no remotes. A file that is
// not valid YAML is an error naming the file and line.
func OpenDir(dir, lxcDir, incusDir string) (*Store, error) {
	if dir == "" {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "no configuration directory for lxkit")
	}
	s := &Store{dirs: certs.Dirs{LXKit: dir, LXC: lxcDir, Incus: incusDir}}
	for _, src := range []*source{{name: SourceLXKit, dir: dir}, {name: SourceLXC, dir: lxcDir}, {name: SourceIncus, dir: incusDir}} {
		if src.dir != "" {
			var err error
			if src.cfg, src.exists, err = readConfig(src.path()); err != nil {
				return nil, err
			}
		}
		s.sources = append(s.sources, src)
	}
	return s, nil
}

// Dirs returns the three configuration directories.
func (s *Store) Dirs() certs.Dirs { return s.dirs }

// Path is lxkit's own configuration file.
func (s *Store) Path() string { return s.own().path() }

func (s *Store) own() *source   { return s.sources[0] }
func (s *Store) lxc() *source   { return s.sources[1] }
func (s *Store) incus() *source { return s.sources[2] }

// readConfig reads a config.yml; a missing file is an empty one. The file
// is only ever opened for reading.
func readConfig(path string) (config, bool, error) {
	data, err := smallfile.Read(path, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return config{}, false, nil
	}
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return config{}, false, err
	}
	var c config
	doc, err := yamlfile.ParseDocument(path, data)
	if err != nil {
		return config{}, false, err
	}
	if err := doc.Decode(&c); err != nil {
		return config{}, false, yamlfile.Error(path, err)
	}
	return c, true, nil
}

// maxConfigSize bounds a config.yml: a few remotes take a few hundred
// bytes.
const maxConfigSize = 1 << 20

// remotes returns src's remotes as its tool sees them: lxc and incus add
// their built-in remotes (lxc: local, ubuntu, ubuntu-daily; incus: local),
// which replace any of the same name in the file except for its project,
// but only when the tool has a configuration file at all.
func (src *source) remotes() map[string]remoteConfig {
	if src.name == SourceLXKit || !src.exists {
		return src.cfg.Remotes
	}
	m := make(map[string]remoteConfig, len(src.cfg.Remotes)+3)
	for name, r := range src.cfg.Remotes {
		if r.Protocol == "" {
			r.Protocol = map[string]string{SourceLXC: "lxd", SourceIncus: "incus"}[src.name]
		}
		if !r.Public && r.AuthType == "" {
			r.AuthType = "tls"
		}
		m[name] = r
	}
	for name, b := range src.builtins() {
		if b.Protocol == "" {
			b.Protocol = m[name].Protocol
			if b.Protocol == "" {
				b.Protocol = map[string]string{SourceLXC: "lxd", SourceIncus: "incus"}[src.name]
			}
		}
		b.Project = m[name].Project
		m[name] = b
	}
	return m
}

// builtins are the remotes lxc or incus add to those of its file: its
// static remotes, which it refuses to change or remove.
func (src *source) builtins() map[string]remoteConfig {
	b := map[string]remoteConfig{LocalName: {Addr: "unix://"}}
	if src.name == SourceLXC {
		b["ubuntu"] = remoteConfig{Addr: "https://cloud-images.ubuntu.com/releases", Protocol: "simplestreams", Public: true}
		b["ubuntu-daily"] = remoteConfig{Addr: "https://cloud-images.ubuntu.com/daily", Protocol: "simplestreams", Public: true}
	}
	return b
}

// remote builds the Remote called name from src.
func (s *Store) remote(src *source, name string, rc remoteConfig) Remote {
	r := Remote{
		Name: name, Addr: rc.Addr, Protocol: rc.Protocol, AuthType: rc.AuthType,
		Project: rc.Project, Public: rc.Public, Source: src.name, Members: rc.Members,
		ConfigPath: src.path(), dirs: s.dirs,
	}
	if p := serverCertPath(src.dir, name); p != "" {
		if _, err := os.Stat(p); err == nil {
			r.ServerCertPath = p
		}
	}
	return r
}

// serverCertPath is where dir keeps name's pinned certificate, or "" for a
// name that cannot be a file name (from a hand-edited file).
func serverCertPath(dir, name string) string {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return ""
	}
	return filepath.Join(dir, "servercerts", name+".crt")
}

// List returns every remote: lxkit's own, then lxc's, then incus's, each
// sorted by name, then the built-in local remote if none of them has one.
// A name found in more than one source is listed each time, the later ones
// Shadowed.
func (s *Store) List() []Remote {
	def := s.Default()
	seen := map[string]bool{}
	var out []Remote
	for _, src := range s.sources {
		m := src.remotes()
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			r := s.remote(src, name, m[name])
			r.Shadowed = seen[name]
			r.Default = !r.Shadowed && name == def
			seen[name] = true
			out = append(out, r)
		}
	}
	if !seen[LocalName] {
		out = append(out, Remote{
			Name: LocalName, Addr: "unix://", Source: SourceBuiltin,
			Default: def == LocalName, dirs: s.dirs,
		})
	}
	return out
}

// Get returns the remote called name: lxkit's own if it has one, else
// lxc's, else incus's, else the built-in local remote. A name no source
// has is an error matching errdefs.ErrNotFound that says where Get looked.
func (s *Store) Get(name string) (Remote, error) {
	for _, r := range s.List() {
		if r.Name == name && !r.Shadowed {
			return r, nil
		}
	}
	var looked []string
	for _, src := range s.sources {
		if src.dir != "" {
			looked = append(looked, src.path())
		}
	}
	return Remote{}, errdefs.Wrap(errdefs.ErrNotFound, nil, "remote %q not found in %s", name, strings.Join(looked, ", "))
}

// Default is the name of the default remote: lxkit's default-remote, else
// lxc's (when lxc has a configuration file), else "local".
func (s *Store) Default() string {
	if d := s.own().cfg.DefaultRemote; d != "" {
		return d
	}
	if l := s.lxc(); l.exists && l.cfg.DefaultRemote != "" {
		return l.cfg.DefaultRemote
	}
	return LocalName
}

// ValidateName checks a name for a new remote: 1 to 64 ASCII letters,
// digits, '-', '_' and '.', starting with a letter or digit, as
// host.ValidateNewName checks names. It is a file name
// (servercerts/NAME.crt) and never needs quoting.
func ValidateName(name string) error {
	if len(name) > 64 {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid remote name %q: longer than 64 characters", name)
	}
	return host.ValidateNewName("remote", name)
}

// validate checks a new remote's name, address and protocol; pinned says
// whether it pins a server certificate.
func validate(r Remote, pinned bool) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	return validateAddr(r, pinned)
}

// validateAddr checks a remote's address and protocol.
func validateAddr(r Remote, pinned bool) error {
	bad := func(format string, args ...any) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "remote %s: "+format, append([]any{r.Name}, args...)...)
	}
	u, err := url.Parse(r.Addr)
	if err != nil {
		return bad("address %q: %v", r.Addr, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "" && u.User == nil:
	case u.Scheme == "unix" && u.Host == "" && u.Opaque == "":
		if r.Protocol == "simplestreams" {
			return bad("a simplestreams image server is reached over https://")
		}
		if pinned {
			return bad("a unix socket has no server certificate to pin")
		}
	default:
		return bad("address %q: expected https://HOST[:PORT], unix:// or unix:///PATH", r.Addr)
	}
	switch r.Protocol {
	case "", "lxd", "incus", "simplestreams":
	default:
		return bad("protocol %q: expected lxd, incus or simplestreams", r.Protocol)
	}
	return nil
}

// Add adds r to lxkit's configuration (its Source, Default, Shadowed and
// path fields are ignored) and pins serverCert, if not nil, in
// servercerts/NAME.crt. The name must pass ValidateName; a remote of that
// name already in lxkit's configuration is an error matching
// errdefs.ErrConflict (one in lxc's or incus's is not: lxkit's own then
// comes first).
func (s *Store) Add(r Remote, serverCert *x509.Certificate) error {
	if err := validate(r, serverCert != nil); err != nil {
		return err
	}
	certPath := serverCertPath(s.own().dir, r.Name)
	return s.update(func(c *config) (undo func(), err error) {
		if _, ok := c.Remotes[r.Name]; ok {
			return nil, errdefs.Wrap(errdefs.ErrConflict, nil, "remote %s already exists in %s", r.Name, s.Path())
		}
		if serverCert != nil {
			if err := certs.WriteCertificate(certPath, serverCert); err != nil {
				return nil, err
			}
			undo = func() { os.Remove(certPath) }
		} else if err := os.Remove(certPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// A pin left by an earlier remote of this name would be wrong.
			return nil, err
		}
		if c.Remotes == nil {
			c.Remotes = map[string]remoteConfig{}
		}
		c.Remotes[r.Name] = remoteConfig{Addr: r.Addr, AuthType: r.AuthType, Project: r.Project, Protocol: r.Protocol, Public: r.Public}
		return undo, nil
	})
}

// Remove removes a remote from lxkit's configuration, with its pinned
// certificate. Remotes of lxc's and incus's configurations are not lxkit's
// to remove: asking is an error matching errdefs.ErrInvalidArgument that
// says so. The default remote cannot be removed (errdefs.ErrConflict):
// switch to another first.
func (s *Store) Remove(name string) error {
	return s.update(func(c *config) (func(), error) {
		if _, ok := c.Remotes[name]; !ok {
			return nil, s.notOwn(name, "there is nothing to remove", "remove it with", "remove "+name)
		}
		if c.DefaultRemote == name {
			return nil, errdefs.Wrap(errdefs.ErrConflict, nil, "remote %s is the default remote: switch to another one first", name)
		}
		delete(c.Remotes, name)
		return nil, nil
	}, func() error {
		if p := serverCertPath(s.own().dir, name); p != "" {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// Rename renames one of lxkit's remotes to newName, with its pinned
// certificate, and lxkit's default-remote if it named the remote (a
// default taken from lxc's configuration is lxc's and stays). newName must
// pass ValidateName; a remote of that name already in lxkit's
// configuration is an error matching errdefs.ErrConflict. Remotes of lxc's
// and incus's configurations and the built-in local are refused as Remove
// refuses them. The certificate is copied before the configuration is
// written and the old one removed after, so a failure leaves at most a
// stray certificate that no remote uses.
func (s *Store) Rename(name, newName string) error {
	if err := ValidateName(newName); err != nil {
		return err
	}
	dir := s.own().dir
	oldCert, newCert := serverCertPath(dir, name), serverCertPath(dir, newName)
	return s.update(func(c *config) (undo func(), err error) {
		rc, ok := c.Remotes[name]
		if !ok {
			return nil, s.notOwn(name, "it cannot be renamed", "rename it with", "rename "+name+" "+newName)
		}
		if _, ok := c.Remotes[newName]; ok {
			return nil, errdefs.Wrap(errdefs.ErrConflict, nil, "remote %s already exists in %s", newName, s.Path())
		}
		if undo, err = copyCert(oldCert, newCert); err != nil {
			return nil, err
		}
		delete(c.Remotes, name)
		c.Remotes[newName] = rc
		if c.DefaultRemote == name {
			c.DefaultRemote = newName
		}
		return undo, nil
	}, func() error {
		if oldCert != "" {
			if err := os.Remove(oldCert); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// copyCert copies the pinned certificate at from, if any, to to, and
// returns the removal of the copy. Without one, a certificate left at to
// by an earlier remote of that name is removed: it would be wrong.
func copyCert(from, to string) (undo func(), err error) {
	var data []byte
	var fi fs.FileInfo
	if from != "" {
		if data, err = os.ReadFile(from); err == nil {
			fi, err = os.Stat(from)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if fi == nil {
		if err := os.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, nil
	}
	if err := atomicfile.Write(to, data, fi.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("writing certificate %s: %w", to, err)
	}
	return func() { os.Remove(to) }, nil
}

// SetAddr changes the address of one of lxkit's remotes, checked as Add
// checks it (a unix socket is refused for a remote that pins a
// certificate). The pinned certificate stays: a different server at the
// new address is refused. Remotes of lxc's and incus's configurations and
// the built-in local are refused as Remove refuses them.
func (s *Store) SetAddr(name, addr string) error {
	// The address's form first, so that a bad one changes nothing.
	if err := validateAddr(Remote{Name: name, Addr: addr}, false); err != nil {
		return err
	}
	certPath := serverCertPath(s.own().dir, name)
	return s.update(func(c *config) (func(), error) {
		rc, ok := c.Remotes[name]
		if !ok {
			return nil, s.notOwn(name, "its address cannot be changed", "change it with", "set-url "+name+" "+addr)
		}
		pinned := false
		if certPath != "" {
			_, err := os.Stat(certPath)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			pinned = err == nil
		}
		if err := validateAddr(Remote{Name: name, Addr: addr, Protocol: rc.Protocol}, pinned); err != nil {
			return nil, err
		}
		rc.Addr = addr
		c.Remotes[name] = rc
		return nil, nil
	})
}

// SetMembers records the addresses of the members of the cluster that one
// of lxkit's remotes belongs to (nil: it is in none). Remotes of lxc's and
// incus's configurations are refused as SetAddr refuses them: those tools
// would not read the record.
func (s *Store) SetMembers(name string, addrs []string) error {
	for _, a := range addrs {
		if !strings.HasPrefix(a, "https://") {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "remote %s: member address %q is not https://HOST:PORT", name, a)
		}
	}
	return s.update(func(c *config) (func(), error) {
		rc, ok := c.Remotes[name]
		if !ok {
			return nil, s.notOwn(name, "it is no cluster's", "change it with", "set-url "+name)
		}
		rc.Members = slices.Clone(addrs)
		c.Remotes[name] = rc
		return nil, nil
	})
}

// notOwn is the error for a remote that lxkit's configuration lacks: not
// found, built in (builtin says why not), or lxc's or incus's, which lxkit
// does not edit (then `TOOL remote how`, after howVerb, does it, unless
// the remote is one of the tool's static ones).
func (s *Store) notOwn(name, builtin, howVerb, how string) error {
	r, err := s.Get(name)
	switch {
	case err != nil:
		return err
	case r.Source == SourceBuiltin:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "remote %s is built in: %s", name, builtin)
	}
	src := s.lxc()
	if r.Source == SourceIncus {
		src = s.incus()
	}
	if _, static := src.builtins()[name]; static {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"remote %s is %s's (%s): lxkit does not edit that file, and %s's %s is built in: %s",
			name, r.Source, r.ConfigPath, r.Source, name, builtin)
	}
	return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
		"remote %s is %s's (%s): lxkit does not edit that file; %s `%s remote %s`",
		name, r.Source, r.ConfigPath, howVerb, r.Source, how)
}

// SetDefault makes name, a remote of any source, the default, in lxkit's
// configuration. A name no source has is an error matching
// errdefs.ErrNotFound.
func (s *Store) SetDefault(name string) error {
	return s.update(func(c *config) (func(), error) {
		if _, ok := c.Remotes[name]; !ok {
			if _, err := s.Get(name); err != nil {
				return nil, err
			}
		}
		c.DefaultRemote = name
		return nil, nil
	})
}

// update changes lxkit's configuration: under the lock, it reads the file
// afresh, lets change edit it, and writes it atomically (file 0600,
// directory 0700). If writing fails, change's undo (if any) runs; after a
// successful write, each of after runs.
func (s *Store) update(change func(*config) (undo func(), err error), after ...func() error) error {
	own := s.own()
	if err := os.MkdirAll(own.dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockDir(own.dir)
	if err != nil {
		return err
	}
	defer unlock()
	c, exists, err := readConfig(own.path())
	if err != nil {
		return err
	}
	own.cfg, own.exists = c, exists // others' changes, for Get within change
	undo, err := change(&c)
	if err != nil {
		return err
	}
	if err := writeConfig(own.path(), c); err != nil {
		if undo != nil {
			undo()
		}
		return err
	}
	own.cfg, own.exists = c, true
	for _, f := range after {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// writeConfigFile writes lxkit's configuration; tests make it fail.
var writeConfigFile = atomicfile.Write

func writeConfig(path string, c config) error {
	if c.Remotes == nil {
		c.Remotes = map[string]remoteConfig{}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2) // as lxc and incus write theirs
	if err := enc.Encode(c); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if err := writeConfigFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
