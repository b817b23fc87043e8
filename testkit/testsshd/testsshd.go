// Package testsshd runs a private OpenSSH server on 127.0.0.1 for tests:
// Debian's /usr/sbin/sshd (package openssh-server, installed by `make
// hosts`) with its own configuration, a generated host key, a generated
// user key authorized for the current user, and a known_hosts file. It is
// stopped when the test ends. A missing sshd skips the test, or fails it
// under CI=true, as testkit/testhost does for the daemons.
package testsshd

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/ssh"
)

// Binary is the sshd that Start runs.
const Binary = "/usr/sbin/sshd"

// Server is a running sshd.
type Server struct {
	Host string // 127.0.0.1
	Port int
	User string // the login: the current user
	// KeyFile is a private key (mode 0600) that logs User in.
	KeyFile string
	// KnownHosts is a known_hosts file that lists the server's ED25519
	// host key only, as OpenSSH's ssh would have written it. The server
	// also has an ECDSA key, which x/crypto's client prefers: a client
	// must ask for the algorithm of the key it knows.
	KnownHosts string
	// HostKey is the ED25519 key in KnownHosts; OtherHostKey the server's
	// ECDSA key, not listed.
	HostKey, OtherHostKey gossh.PublicKey
	// Dir is the server's private directory: keys, config, log.
	Dir string
	// Log is sshd's log file.
	Log string

	pid  int    // the listening sshd
	stop func() // stops it, once
}

// Stop stops the server and its connections, as a host that goes down
// would; the test's end does it too.
func (s *Server) Stop() { s.stop() }

// Config returns a transport configuration that logs in with KeyFile,
// verifies with KnownHosts and keeps any ssh-agent and SSH configuration
// files of the tester out.
func (s *Server) Config() ssh.Config {
	return ssh.Config{Host: s.Host, Port: s.Port, User: s.User, KeyFiles: []string{s.KeyFile},
		KnownHosts: []string{s.KnownHosts}, NoAgent: true, NoConfigFiles: true, Timeout: 10 * time.Second}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is ssh://USER@HOST:PORT.
func (s *Server) URL() string { return fmt.Sprintf("ssh://%s@%s", s.User, s.Addr()) }

// NewKey writes a fresh ED25519 private key with mode perm into the
// server's directory and returns its path: for tests of keys the server
// does not know, or of loose permissions.
func (s *Server) NewKey(t testing.TB, name string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(s.Dir, name)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, p, priv, perm)
	return p
}

// KnownHostsWith writes a known_hosts file that lists the server under
// another key (a host whose key changed, or an impostor) and returns it.
func (s *Server) KnownHostsWith(t testing.TB, name string, key gossh.PublicKey) string {
	t.Helper()
	p := filepath.Join(s.Dir, name)
	line := knownhosts.Line([]string{s.Addr()}, key) + "\n"
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// DropConnections kills the processes that serve the connections (and
// the commands they run), as a host that crashes or a network that fails
// would end them; the server keeps listening.
func (s *Server) DropConnections(t testing.TB) {
	t.Helper()
	for _, pid := range descendants(s.pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		fields := strings.Fields(string(b[i+1:]))
		p, _ := strconv.Atoi(strings.Fields(string(b))[0])
		if len(fields) > 1 {
			parent[p], _ = strconv.Atoi(fields[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// Start starts an sshd for the test and stops it at the test's end. It
// skips under -short.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: runs sshd")
	}
	if _, err := os.Stat(Binary); err != nil {
		testhost.Unavailable(t, "no OpenSSH server at %s (Debian package openssh-server)", Binary)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	dir, err := os.MkdirTemp("", "lxkit-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Host: "127.0.0.1", User: u.Username, Dir: dir, Log: filepath.Join(dir, "sshd.log")}
	if err := os.Mkdir(s.home(), 0o700); err != nil {
		t.Fatal(err)
	}

	// Keys: two host keys (see KnownHosts) and the user's.
	_, edHost, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecHost, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, filepath.Join(dir, "host_ed25519"), edHost, 0o600)
	writeKey(t, filepath.Join(dir, "host_ecdsa"), ecHost, 0o600)
	if s.HostKey, err = gossh.NewPublicKey(edHost.Public()); err != nil {
		t.Fatal(err)
	}
	if s.OtherHostKey, err = gossh.NewPublicKey(&ecHost.PublicKey); err != nil {
		t.Fatal(err)
	}
	s.KeyFile = s.NewKey(t, "id_ed25519", 0o600)
	signer := loadSigner(t, s.KeyFile)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}

	if os.Getuid() == 0 {
		// The privilege separation directory, which Debian's service
		// would make; sshd refuses to start without it.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// A free port can be taken between probing and sshd's bind: try a
	// few times.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Port = port
		if lastErr = s.run(t); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting sshd: %v", lastErr)
	}
	s.KnownHosts = s.KnownHostsWith(t, "known_hosts", s.HostKey)
	return s
}

// home is the HOME of the server's sessions.
func (s *Server) home() string { return filepath.Join(s.Dir, "home") }

func (s *Server) config() string {
	d := s.Dir
	return strings.Join([]string{
		"Port " + strconv.Itoa(s.Port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(d, "host_ed25519"),
		"HostKey " + filepath.Join(d, "host_ecdsa"),
		"PidFile " + filepath.Join(d, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(d, "authorized_keys"),
		// The files live in a temporary directory, not in the user's
		// home, whose modes StrictModes would check.
		"StrictModes no",
		"AllowUsers " + s.User,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"AcceptEnv none",
		// The sessions' shell reads its startup files from an empty home
		// of their own, not from the user's: a machine's ~/.bashrc (bash
		// reads it for commands sshd runs) can take seconds, or hang on a
		// stale lock, and the tests are about the transport, not about it.
		"SetEnv HOME=" + s.home(),
		"PermitUserEnvironment no",
		"AllowAgentForwarding no",
		// A jump host for tests of ProxyJump: forwarding to loopback only.
		"AllowTcpForwarding local",
		"PermitOpen 127.0.0.1:*",
		"X11Forwarding no",
		"PermitTunnel no",
		"PrintMotd no",
		"PrintLastLog no",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
		"",
	}, "\n")
}

// run starts sshd on s.Port and waits until it answers with its banner.
func (s *Server) run(t testing.TB) error {
	conf := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(s.config()), 0o600); err != nil {
		return err
	}
	// Check the configuration first, for a clear message.
	if out, err := exec.Command(Binary, "-t", "-f", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t: %v: %s", err, bytes.TrimSpace(out))
	}
	log, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// -D: stay in the foreground, -e: log to stderr. Its own process
	// group; the processes of its connections start sessions of their own,
	// so stop ends them first, one by one.
	cmd := exec.Command(Binary, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for _, pid := range descendants(cmd.Process.Pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if banner(s.Addr()) {
			s.pid, s.stop = cmd.Process.Pid, stop
			t.Cleanup(stop)
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(s.Log)
			return fmt.Errorf("sshd exited: %s", tail(b))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(s.Log)
			return fmt.Errorf("sshd did not answer on %s within 10s: %s", s.Addr(), tail(b))
		}
	}
}

// banner reports whether an SSH server answers on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeKey(t testing.TB, path string, key any, perm os.FileMode) {
	t.Helper()
	block, err := gossh.MarshalPrivateKey(key, "lxkit test key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}

func loadSigner(t testing.TB, path string) gossh.Signer {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
