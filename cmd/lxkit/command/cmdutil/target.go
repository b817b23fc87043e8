package cmdutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	sshtransport "github.com/lxkit/lxkit/transport/ssh"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/certs"
)

// Target is what --host names, resolved: a daemon's socket or HTTPS address,
// or an SSH login, possibly through a named remote.
type Target struct {
	// Addr is a socket path, https://HOST:PORT or ssh://USER@HOST:PORT;
	// empty detects the local daemon.
	Addr string
	// Remote is the remote --host named (or the default remote), if any.
	Remote *remotes.Remote
}

// SSH reports whether the host is reached over SSH.
func (h Target) SSH() bool { return strings.HasPrefix(h.Addr, "ssh://") }

// HTTPS reports whether the host is reached over HTTPS.
func (h Target) HTTPS() bool { return strings.HasPrefix(h.Addr, "https://") }

// ResolveHost reads a --host value: a socket path, a unix://, https:// or
// ssh:// URL, HOST:PORT (https), or the name of a remote (lxkit's own, or
// one of lxc's or incus's). Empty means the default remote, which is the
// local daemon unless `lxkit remote switch` (or lxc's) chose another.
func ResolveHost(store *remotes.Store, host string) (Target, error) {
	if host == "" {
		if host = store.Default(); host == remotes.LocalName {
			return Target{}, nil // the first local socket found
		}
	}
	if !strings.Contains(host, "/") {
		if r, ok, err := lookupRemote(store, host); ok || err != nil {
			return r, err
		}
	}
	if strings.HasPrefix(host, "ssh://") {
		_, err := sshtransport.ParseURL(host)
		return Target{Addr: host}, err
	}
	if h, ok := socketTarget(host); ok {
		return h, nil
	}
	ep, err := client.ParseAddr(host)
	if err != nil {
		return Target{}, err
	}
	h := Target{Addr: ep.String()}
	// An address that is a remote's uses that remote's pinned certificate.
	for _, r := range store.List() {
		if r.Shadowed || !strings.HasPrefix(r.Addr, "https://") {
			continue
		}
		if rep, err := client.ParseAddr(r.Addr); err == nil && rep.Host == ep.Host {
			h.Remote = &r
			break
		}
	}
	return h, nil
}

// socketTarget resolves a --host that names a unix socket by its path
// (a path, or unix:///PATH), which no remote's name can be (it has a
// slash); ok is false for anything else.
func socketTarget(host string) (Target, bool) {
	if !strings.Contains(host, "/") || strings.HasPrefix(host, "ssh://") {
		return Target{}, false
	}
	ep, err := client.ParseAddr(host)
	if err != nil || ep.Socket == "" {
		return Target{}, false
	}
	return Target{Addr: ep.Socket}, true
}

// lookupRemote resolves a remote name. ok is false for a name that is no
// remote but may be an address (it has a dot or a colon).
func lookupRemote(store *remotes.Store, name string) (h Target, ok bool, err error) {
	r, err := store.Get(name)
	switch {
	case err == nil:
	case strings.ContainsAny(name, ".:"):
		return Target{}, false, nil
	default:
		return Target{}, true, err
	}
	if r.Public || r.Protocol == "simplestreams" {
		return Target{}, true, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "remote %s is an image server, not a host", r.Name)
	}
	if sock, isSock := r.SocketPath(); isSock {
		return Target{Addr: sock, Remote: &r}, true, nil
	}
	return Target{Addr: r.Addr, Remote: &r}, true, nil
}

// TLSOptions returns how to reach an HTTPS host: the remote's (or the
// user's usual) client certificate, the remote's pinned certificate, and
// --insecure. A key file others can read is refused.
func TLSOptions(h Target, dirs certs.Dirs, insecure bool) (client.TLSOptions, error) {
	o := client.TLSOptions{Insecure: insecure}
	var files certs.ClientFiles
	var err error
	if h.Remote != nil {
		// The pin holds whether or not there is a client certificate.
		if o.ServerCert, err = h.Remote.ServerCert(); err != nil {
			return o, err
		}
		files, err = h.Remote.ClientFiles()
	} else {
		files, err = dirs.ClientFiles()
	}
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		// No certificate: connect untrusted; the daemon's refusal says what to do.
	case err != nil:
		return o, err
	default:
		// The key is parsed only for a full handshake: a resumed
		// session (see sessionPath) needs none.
		cert, err := files.LoadLazily()
		if err != nil {
			return o, err
		}
		o.ClientCert = &cert
	}
	if !insecure {
		o.Sessions = client.SessionFile(sessionPath(dirs, h.Addr, o))
	}
	return o, nil
}

// sessionPath is the file that keeps the TLS session of one daemon
// address, pinned certificate and client certificate, so that the next
// command resumes it (client.SessionFile): another pin or client
// certificate has a file of its own and starts with a full handshake.
func sessionPath(dirs certs.Dirs, addr string, o client.TLSOptions) string {
	pin := "system"
	if o.ServerCert != nil {
		pin = client.Fingerprint(o.ServerCert)
	}
	mine := "none"
	if o.ClientCert != nil && len(o.ClientCert.Certificate) > 0 {
		mine = certs.FingerprintDER(o.ClientCert.Certificate[0])
	}
	sum := sha256.Sum256([]byte(addr + "\n" + pin + "\n" + mine))
	return filepath.Join(dirs.LXKit, "tls-sessions", hex.EncodeToString(sum[:12]))
}

// describe names a host in messages.
func (h Target) describe() string {
	if h.Remote != nil {
		return fmt.Sprintf("remote %s (%s)", h.Remote.Name, h.Addr)
	}
	if h.Addr == "" {
		return "the local daemon"
	}
	return h.Addr
}

// connect opens a client to an HTTPS or unix-socket host. A remote's
// recorded cluster members are its fallbacks (client.WithFallbacks).
func connect(ctx context.Context, h Target, store *remotes.Store, g *Globals, opts []client.Option) (*client.Client, error) {
	if h.SSH() {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: an ssh:// host has no API to call here; it is driven through its lxc or incus command (--driver cli)", h.Addr)
	}
	if h.HTTPS() {
		o, err := TLSOptions(h, store.Dirs(), g.Insecure)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(o))
		if h.Remote != nil {
			opts = append(opts, client.WithFallbacks(h.Remote.Members...))
		}
	}
	if h.Remote != nil && h.Remote.Project != "" {
		// First: a project the caller asks for (--project) wins.
		opts = append([]client.Option{client.WithProject(h.Remote.Project)}, opts...)
	}
	// A command reads GET /1.0 of a local daemon only if it uses it.
	c, err := client.New(ctx, h.Addr, append(opts, client.WithLazyServer())...)
	if err != nil {
		return nil, err
	}
	if err := c.RequireTrust(); err != nil {
		return c, err
	}
	recordMembers(ctx, store, h, c)
	return c, nil
}

// recordMembers keeps, for one of lxkit's own remotes whose daemon is a
// cluster member, the addresses of all the members, so that a later
// command reaches the cluster through another member when this one is
// down. It asks the cluster when the remote has no record yet or when
// the record served (the remote's own member did not answer); a failure
// to ask or to record leaves the record as it was.
func recordMembers(ctx context.Context, store *remotes.Store, h Target, c *client.Client) {
	r := h.Remote
	if r == nil || r.Source != remotes.SourceLXKit || !h.HTTPS() || !c.Server().Environment.ServerClustered {
		return
	}
	if ep, err := client.ParseAddr(r.Addr); err == nil && len(r.Members) > 0 && c.Connected() == ep.Host {
		return
	}
	members, err := host.New(rest.New(c).API()).ClusterMembers(ctx)
	if err != nil {
		return
	}
	var addrs []string
	for _, m := range members {
		if strings.HasPrefix(m.URL, "https://") {
			addrs = append(addrs, m.URL)
		}
	}
	if len(addrs) > 0 && !slices.Equal(addrs, r.Members) {
		_ = store.SetMembers(r.Name, addrs)
	}
}
