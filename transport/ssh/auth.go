package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/sshconfig"
)

// Sentinels matched, with errors.Is, by a *HostKeyError.
var (
	// ErrHostKeyUnknown is a host that no known_hosts file lists.
	ErrHostKeyUnknown = errors.New("unknown SSH host key")
	// ErrHostKeyChanged is a host listed with other keys than the one it
	// presented: someone may be intercepting the connection.
	ErrHostKeyChanged = errors.New("SSH host key changed")
)

// HostKeyError is a host key that could not be verified. It matches
// errdefs.ErrForbidden (nothing is sent to an unverified host), and
// ErrHostKeyUnknown or ErrHostKeyChanged.
type HostKeyError struct {
	// Host is the host as known_hosts names it: "HOST" or "[HOST]:PORT".
	Host string
	// KeyType and Fingerprint (SHA256:...) are the key the host presented.
	KeyType, Fingerprint string
	// Known are the host's keys in known_hosts; empty for an unknown host.
	Known []knownhosts.KnownKey
	// Revoked is a key that known_hosts marks @revoked.
	Revoked bool
	// Files are the known_hosts files searched.
	Files []string

	hostname, port string
}

func (e *HostKeyError) Is(target error) bool {
	switch target {
	case errdefs.ErrForbidden:
		return true
	case ErrHostKeyChanged:
		return len(e.Known) > 0 || e.Revoked
	case ErrHostKeyUnknown:
		return len(e.Known) == 0 && !e.Revoked
	}
	return false
}

func (e *HostKeyError) Error() string {
	files := make([]string, len(e.Files))
	for i, f := range e.Files {
		files[i] = sshconfig.TildePath(f)
	}
	keyscan := "ssh-keyscan"
	if e.port != "22" {
		keyscan += " -p " + e.port
	}
	keyscan += " -t " + keyscanType(e.KeyType) + " " + e.hostname
	target := "~/.ssh/known_hosts"
	if len(files) > 0 {
		target = files[0]
	}
	switch {
	case e.Revoked:
		return fmt.Sprintf("REFUSED: the SSH host key of %s (%s %s) is marked @revoked in %s; "+
			"the host may be compromised or impersonated: nothing was sent to it",
			e.Host, e.KeyType, e.Fingerprint, strings.Join(files, ", "))
	case len(e.Known) > 0:
		var known []string
		for _, k := range e.Known {
			known = append(known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), gossh.FingerprintSHA256(k.Key), sshconfig.TildePath(k.Filename), k.Line))
		}
		return fmt.Sprintf("WARNING: THE SSH HOST KEY OF %s HAS CHANGED: it presented %s %s, but known_hosts holds %s. "+
			"Someone could be intercepting the connection (man-in-the-middle attack), or the host was reinstalled. "+
			"Nothing was sent to it. If you have checked with the host's administrator that the key changed, "+
			"remove the old one with `ssh-keygen -R '%s' -f %s` and add the new one",
			e.Host, e.KeyType, e.Fingerprint, strings.Join(known, ", "), e.Host, sshconfig.TildePath(e.Known[0].Filename))
	default:
		return fmt.Sprintf("unknown SSH host key: %s presented %s key %s, which no known_hosts file lists (searched %s). "+
			"Check the fingerprint with the host's administrator, then add the key: `%s >> %s` "+
			"(or log in once with ssh and accept it)",
			e.Host, e.KeyType, e.Fingerprint, strings.Join(files, ", "), keyscan, target)
	}
}

// keyscanType is ssh-keyscan's -t name of a key type.
func keyscanType(t string) string {
	switch {
	case t == gossh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == gossh.KeyAlgoRSA:
		return "rsa"
	}
	return t
}

// hostKeys is the host key check of one connection: the known_hosts
// callback, with errors made clear, and the key algorithms to ask for.
type hostKeys struct {
	callback   gossh.HostKeyCallback
	algorithms []string    // nil: the library's defaults
	verified   atomic.Bool // set once the host key passed
}

func newHostKeys(c Config) (*hostKeys, error) {
	existing, all := c.knownHostsFiles()
	cb, err := knownhosts.New(existing...)
	if err != nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "reading known_hosts")
	}
	addr := c.addr()
	hk := &hostKeys{}
	hk.algorithms = knownAlgorithms(cb, addr)
	hk.callback = func(hostname string, remote net.Addr, key gossh.PublicKey) error {
		err := cb(addr, remote, key)
		if err == nil {
			hk.verified.Store(true)
			return nil
		}
		e := &HostKeyError{Host: knownhosts.Normalize(addr), KeyType: key.Type(),
			Fingerprint: gossh.FingerprintSHA256(key), Files: all, hostname: c.Host, port: fmt.Sprint(c.Port)}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			e.Revoked = true
		case errors.As(err, &ke):
			e.Known = ke.Want
		default:
			return err
		}
		return e
	}
	return hk, nil
}

// knownAlgorithms returns the host key algorithms of the keys known_hosts
// holds for addr, so that the server is asked for a key we can check:
// otherwise a host known by its ECDSA key that prefers to show its ED25519
// key would look like a changed key. Nil when the host is unknown.
func knownAlgorithms(cb gossh.HostKeyCallback, addr string) []string {
	probe, _ := gossh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	var ke *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		add := []string{k.Key.Type()}
		if k.Key.Type() == gossh.KeyAlgoRSA {
			add = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
		}
		for _, a := range add {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// credentials are the keys offered, and what was left out and why.
type credentials struct {
	signers []gossh.Signer
	offered []string // "~/.ssh/id_ed25519 (ED25519 SHA256:...)", "ssh-agent (2 keys)"
	skipped []string // reasons, for the message when the server refuses all
	agent   net.Conn // closed after the handshake
}

func (cr *credentials) close() {
	if cr.agent != nil {
		cr.agent.Close()
	}
}

// loadCredentials gathers the agent's keys and the key files. Problems
// with a key file the user named are errors; with a default one, notes.
func loadCredentials(c Config) (*credentials, error) {
	cr := &credentials{}
	agentKeys := 0
	if !c.NoAgent && c.AgentSocket != "" {
		conn, err := net.Dial("unix", c.AgentSocket)
		if err != nil {
			cr.skipped = append(cr.skipped, fmt.Sprintf("ssh-agent at %s did not answer (%v)", c.AgentSocket, unwrapOp(err)))
		} else {
			cr.agent = conn
			signers, err := agent.NewClient(conn).Signers()
			if err != nil {
				cr.skipped = append(cr.skipped, fmt.Sprintf("ssh-agent: %v", err))
			}
			cr.signers = append(cr.signers, signers...)
			agentKeys = len(signers)
			cr.offered = append(cr.offered, fmt.Sprintf("ssh-agent (%d keys)", agentKeys))
		}
	}
	files, explicit := c.keyFiles()
	for _, f := range files {
		s, err := loadKey(f, agentKeys > 0)
		if err != nil {
			if explicit {
				cr.close()
				return nil, err
			}
			cr.skipped = append(cr.skipped, err.Error())
			continue
		}
		if s == nil || slices.ContainsFunc(cr.signers, func(o gossh.Signer) bool {
			return string(o.PublicKey().Marshal()) == string(s.PublicKey().Marshal())
		}) {
			continue // encrypted (the agent may hold it), or the agent's already
		}
		cr.signers = append(cr.signers, s)
		cr.offered = append(cr.offered, fmt.Sprintf("%s (%s)", sshconfig.TildePath(f), describeKey(s.PublicKey())))
	}
	if len(cr.signers) == 0 {
		cr.close()
		why := "no key file (~/.ssh/id_ed25519, id_ecdsa, id_rsa) and no ssh-agent ($SSH_AUTH_SOCK is not set)"
		if len(cr.skipped) > 0 {
			why = strings.Join(cr.skipped, "; ")
		}
		return nil, errdefs.Wrap(errdefs.ErrUnauthorized, nil, "no SSH key to log in to %s with: %s", c.URL(), why)
	}
	return cr, nil
}

// loadKey reads a private key file. It refuses a file others can read, as
// OpenSSH does, and returns a nil Signer for a passphrase-protected key
// when an agent may hold it. Errors never quote the file's content.
func loadKey(path string, withAgent bool) (gossh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "SSH key file %s does not exist", path)
		}
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, unwrapOp(err), "SSH key file %s", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"UNPROTECTED PRIVATE KEY FILE: permissions %04o for %s are too open: a private key must not be "+
				"accessible by others; it is ignored. Fix it with `chmod 600 %s`", perm, path, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, unwrapOp(err), "SSH key file %s", path)
	}
	s, err := gossh.ParsePrivateKey(data)
	var pm *gossh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		if withAgent {
			return nil, nil
		}
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"SSH key file %s is protected by a passphrase and no ssh-agent holds keys: lxkit never asks for "+
				"passphrases; load the key into an agent (eval $(ssh-agent); ssh-add %s)", path, path)
	case err != nil:
		// The parser's messages name formats, never key material.
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "SSH key file %s is not a private key lxkit can read", path)
	}
	return s, nil
}

// describeKey is "ED25519 SHA256:..." for messages: public data only.
func describeKey(k gossh.PublicKey) string {
	t := strings.TrimPrefix(k.Type(), "ssh-")
	switch {
	case strings.HasPrefix(t, "ecdsa-"):
		t = "ECDSA"
	case t == "rsa":
		t = "RSA"
	case t == "ed25519":
		t = "ED25519"
	}
	return t + " " + gossh.FingerprintSHA256(k)
}

// unwrapOp drops the *fs.PathError or *net.OpError wrapper, whose text
// repeats what the message already says.
func unwrapOp(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}
