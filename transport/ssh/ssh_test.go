package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"github.com/lxkit/lxkit/internal/shquote"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/testkit/transporttest"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/ssh"
)

func dial(t testing.TB, cfg ssh.Config) *ssh.Transport {
	t.Helper()
	tr, err := ssh.Dial(transporttest.Context(t, 20*time.Second), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestConformance runs the behaviour suite that every transport passes,
// over a real sshd.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	srv := testsshd.Start(t)
	transporttest.Run(t, dial(t, srv.Config()))
}

// TestStopEscapedProcesses: a process that left the command's process
// group (which the SSH signal reaches) is stopped through its marker.
func TestStopEscapedProcesses(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	var mu sync.Mutex
	var sweeps []ssh.Sweep
	ssh.SetSweepTrace(tr, func(s ssh.Sweep) { mu.Lock(); sweeps = append(sweeps, s); mu.Unlock() })
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"own session, output closed", "setsid sleep TAG >/dev/null 2>&1 </dev/null & sleep TAG"},
		{"own session, output held", "setsid sleep TAG & sleep TAG"},
		{"TERM ignored, output closed", `(trap "" TERM; setsid sleep TAG >/dev/null 2>&1 </dev/null) & sleep TAG`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := transporttest.Tag()
			mu.Lock()
			sweeps = nil
			mu.Unlock()
			start := time.Now()
			_, err := tr.Exec(context.Background(), transport.Command{
				Args: transport.Shell(strings.ReplaceAll(tc.script, "TAG", tag)), Timeout: 300 * time.Millisecond})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			returned := time.Since(start)
			if n := transporttest.Running(t, tr, tag, 5*time.Second); n != 0 {
				t.Errorf("%d processes of the stopped command still run (pid state ppid pgrp session marker cmdline):\n%s",
					n, transporttest.Processes(t, tr, tag))
				mu.Lock()
				for _, s := range sweeps {
					t.Errorf("sweep %s at +%v took %v: signalled [%s], %v",
						s.Signal, s.Start.Sub(start).Round(time.Millisecond), s.Took.Round(time.Millisecond), s.Processes, s.Err)
				}
				mu.Unlock()
			}
			t.Logf("Exec returned after %v, stopped in %v", returned.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestBackgroundOutputHolder: a command that leaves a process holding its
// output ends after the grace period, as with os/exec's WaitDelay.
func TestBackgroundOutputHolder(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	tag := transporttest.Tag()
	start := time.Now()
	res, err := tr.Exec(transporttest.Context(t, time.Minute), transport.Command{
		Args: transport.Shell("sleep " + tag + " & echo started"), Capture: true})
	if err != nil || res.ExitCode != 0 || string(res.Stdout) != "started\n" {
		t.Fatalf("Exec: %v %+v", err, res)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: the background process held the command", took)
	}
	_, _ = transport.Run(context.Background(), tr, "pkill", "-f", "sleep "+tag)
}

func TestUserRefused(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	ctx := transporttest.Context(t, time.Minute)
	for _, cmd := range []transport.Command{
		{Args: []string{"id"}, User: "nobody"},
		{Args: []string{"id"}, Group: "0"},
	} {
		_, err := tr.Exec(ctx, cmd)
		if !errors.Is(err, errdefs.ErrNotImplemented) || !strings.Contains(err.Error(), "login user") {
			t.Errorf("%+v: %v; want ErrNotImplemented", cmd, err)
		}
	}
	out, err := transport.Run(ctx, tr, "id", "-un")
	if err != nil || strings.TrimSpace(out) != srv.User {
		t.Errorf("as the login user: %q %v", out, err)
	}
	res, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}, User: srv.User})
	if err != nil || res.ExitCode != 0 {
		t.Errorf("User naming the login user: %v %v", res, err)
	}
}

func TestInvalidArguments(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	ctx := transporttest.Context(t, time.Minute)
	for _, cmd := range []transport.Command{
		{Args: []string{"echo", "a\x00b"}},
		{Args: []string{"echo", "a\xffb"}},
		{Args: []string{"true"}, Env: map[string]string{"X": "a\xffb"}},
		{Args: []string{"true"}, Env: map[string]string{"A B": "x"}},
		{Args: []string{"true"}, Env: map[string]string{"A=B": "x"}},
		{Args: []string{"a=b"}, Env: map[string]string{"A": "x"}},
		{Args: []string{"true"}, Dir: "/a\x00b"},
	} {
		if res, err := tr.Exec(ctx, cmd); !errors.Is(err, shquote.ErrNUL) && !errors.Is(err, shquote.ErrInvalidUTF8) && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q env %q dir %q: %+v %v; want a refused argument", cmd.Args, cmd.Env, cmd.Dir, res, err)
		}
	}
	// A directory that does not exist is the shell's failure to cd.
	res, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}, Dir: "/no/such/dir", Capture: true})
	if err != nil || res.ExitCode == 0 || !strings.Contains(string(res.Tail), "/no/such/dir") {
		t.Errorf("missing Dir: %v %+v", err, res)
	}
}

// TestConcurrent runs more calls at once than sshd's MaxSessions (10).
func TestConcurrent(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	ctx := transporttest.Context(t, 2*time.Minute)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strings.Repeat("x", i)
			out, err := transport.Run(ctx, tr, "/bin/sh", "-c", "sleep 0.2; echo \"$1\"", "sh", want)
			if err != nil || out != want+"\n" {
				t.Errorf("exec %d: %q %v", i, out, err)
			}
		}()
	}
	wg.Wait()
}

func TestClosed(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_, err := tr.Exec(context.Background(), transport.Command{Args: []string{"true"}})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Exec after Close: %v", err)
	}
}

// TestConnectionLost: a dropped connection fails the command that runs
// with ErrUnavailable; the next call dials again. With the host gone, the
// next call says so.
func TestConnectionLost(t *testing.T) {
	srv := testsshd.Start(t)
	tr := dial(t, srv.Config())
	done := make(chan error, 1)
	go func() {
		_, err := tr.Exec(transporttest.Context(t, time.Minute), transport.Command{Args: []string{"sleep", "60"}})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	srv.DropConnections(t)
	select {
	case err := <-done:
		wantErr(t, err, errdefs.ErrUnavailable, "lost")
	case <-time.After(10 * time.Second):
		t.Fatal("the running command did not end with the connection")
	}
	ctx := transporttest.Context(t, 20*time.Second)
	if out, err := transport.Run(ctx, tr, "echo", "again"); err != nil || out != "again\n" {
		t.Fatalf("the call after the loss: %q, %v; want a new connection", out, err)
	}
	if _, err := tr.ReadFile(ctx, "/etc/hostname"); err != nil {
		t.Errorf("ReadFile on the new connection: %v", err)
	}

	srv.Stop()
	_, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}})
	wantErr(t, err, errdefs.ErrUnavailable, "was lost", "dialling again: ssh: connection refused")
}

func TestDefaults(t *testing.T) {
	srv := testsshd.Start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, ".ssh")
	must(t, os.Mkdir(dir, 0o700))
	key, err := os.ReadFile(srv.KeyFile)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "id_ecdsa"), key, 0o600))
	kh, err := os.ReadFile(srv.KnownHosts)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "known_hosts"), kh, 0o644))
	t.Setenv("SSH_AUTH_SOCK", "")

	cfg, err := ssh.ParseURL(srv.URL())
	must(t, err)
	tr := dial(t, cfg)
	if out, err := transport.Run(context.Background(), tr, "echo", "hi"); err != nil || out != "hi\n" {
		t.Errorf("exec: %q %v", out, err)
	}
	if got := tr.Config(); got.Port != srv.Port || got.User != srv.User || got.Timeout != 15*time.Second {
		t.Errorf("resolved config %+v", got)
	}

	// Without any key, a clear error.
	must(t, os.Remove(filepath.Join(dir, "id_ecdsa")))
	_, err = ssh.Dial(context.Background(), cfg)
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "no SSH key") {
		t.Errorf("no key: %v", err)
	}
}

// TestAgent logs in with keys held by an ssh-agent, including one whose
// file is passphrase-protected.
func TestAgent(t *testing.T) {
	srv := testsshd.Start(t)
	t.Setenv("HOME", t.TempDir()) // no default keys
	b, err := os.ReadFile(srv.KeyFile)
	must(t, err)
	raw, err := gossh.ParseRawPrivateKey(b)
	must(t, err)
	keyring := agent.NewKeyring()
	must(t, keyring.Add(agent.AddedKey{PrivateKey: raw}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()

	cfg := srv.Config()
	cfg.NoAgent, cfg.KeyFiles = false, nil
	t.Setenv("SSH_AUTH_SOCK", sock)
	tr := dial(t, cfg)
	if _, err := transport.Run(context.Background(), tr, "true"); err != nil {
		t.Error(err)
	}

	// A passphrase-protected key file: the agent holds it.
	cfg.KeyFiles = []string{encryptedKey(t, raw)}
	dial(t, cfg)
	// Without the agent: a clear error that never quotes the key.
	cfg.NoAgent = true
	_, err = ssh.Dial(context.Background(), cfg)
	wantErr(t, err, errdefs.ErrInvalidArgument, "passphrase", "ssh-add", cfg.KeyFiles[0])
}

func encryptedKey(t *testing.T, raw any) string {
	block, err := gossh.MarshalPrivateKeyWithPassphrase(raw, "", []byte("correct horse"))
	must(t, err)
	p := filepath.Join(t.TempDir(), "id_encrypted")
	must(t, os.WriteFile(p, pem.EncodeToMemory(block), 0o600))
	return p
}

// TestRefusals: what must not connect does not, each with its own error.
func TestRefusals(t *testing.T) {
	srv := testsshd.Start(t)
	ctx := context.Background()
	port := strconv.Itoa(srv.Port)

	t.Run("unknown host key", func(t *testing.T) {
		cfg := srv.Config()
		cfg.KnownHosts = []string{filepath.Join(t.TempDir(), "empty")}
		must(t, os.WriteFile(cfg.KnownHosts[0], nil, 0o600))
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, ssh.ErrHostKeyUnknown, "unknown SSH host key", "[127.0.0.1]:"+port,
			gossh.FingerprintSHA256(srv.OtherHostKey), "ecdsa-sha2-nistp256", "ssh-keyscan -p "+port+" -t ecdsa 127.0.0.1")
		if !errors.Is(err, errdefs.ErrForbidden) || errors.Is(err, ssh.ErrHostKeyChanged) {
			t.Errorf("classes of %v", err)
		}
	})
	t.Run("no known_hosts file", func(t *testing.T) {
		cfg := srv.Config()
		cfg.KnownHosts = []string{filepath.Join(t.TempDir(), "missing")}
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, ssh.ErrHostKeyUnknown, "unknown SSH host key")
	})
	t.Run("changed host key", func(t *testing.T) {
		other, _, err := ed25519.GenerateKey(rand.Reader)
		must(t, err)
		pub, err := gossh.NewPublicKey(other)
		must(t, err)
		cfg := srv.Config()
		cfg.KnownHosts = []string{srv.KnownHostsWith(t, "known_hosts_changed", pub)}
		_, err = ssh.Dial(ctx, cfg)
		wantErr(t, err, ssh.ErrHostKeyChanged, "HAS CHANGED", "man-in-the-middle",
			gossh.FingerprintSHA256(srv.HostKey), gossh.FingerprintSHA256(pub), "ssh-keygen -R")
		if !errors.Is(err, errdefs.ErrForbidden) || errors.Is(err, ssh.ErrHostKeyUnknown) {
			t.Errorf("classes of %v", err)
		}
	})
	t.Run("key readable by others", func(t *testing.T) {
		cfg := srv.Config()
		must(t, os.Chmod(srv.KeyFile, 0o644))
		defer os.Chmod(srv.KeyFile, 0o600)
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrInvalidArgument, "permissions 0644", "too open", "chmod 600 "+srv.KeyFile)
	})
	t.Run("key the host does not know", func(t *testing.T) {
		cfg := srv.Config()
		cfg.KeyFiles = []string{srv.NewKey(t, "id_stranger", 0o600)}
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrUnauthorized, "refused every key", "id_stranger", "authorized_keys")
	})
	t.Run("missing key file", func(t *testing.T) {
		cfg := srv.Config()
		cfg.KeyFiles = []string{filepath.Join(t.TempDir(), "nope")}
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrInvalidArgument, "does not exist")
	})
	t.Run("user not allowed", func(t *testing.T) {
		cfg := srv.Config()
		cfg.User = "nobody"
		_, err := ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrUnauthorized, "nobody@")
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		cfg := srv.Config()
		cfg.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		_, err = ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrUnavailable, "connection refused", strconv.Itoa(cfg.Port))
	})
	t.Run("no SSH server", func(t *testing.T) {
		// A port that accepts and then says nothing.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		cfg := srv.Config()
		cfg.Port = l.Addr().(*net.TCPAddr).Port
		cfg.Timeout = 300 * time.Millisecond
		start := time.Now()
		_, err = ssh.Dial(ctx, cfg)
		wantErr(t, err, errdefs.ErrUnavailable, "no SSH handshake", "300ms")
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("took %v", took)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := ssh.Dial(cctx, srv.Config()); !errors.Is(err, context.Canceled) {
			t.Errorf("Dial with a cancelled context: %v", err)
		}
	})
}

// wantErr checks err's class and that its message holds each part and no
// private key material.
func wantErr(t *testing.T, err, class error, parts ...string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("err = %v; want %v", err, class)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
	for _, secret := range []string{"PRIVATE KEY-----", "correct horse", "b3BlbnNzaC1rZXktdjE"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds secret material", err)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    ssh.Config
		wantErr string
	}{
		{in: "ssh://root@host", want: ssh.Config{Host: "host", User: "root"}},
		{in: "ssh://ci@10.0.0.1:2222", want: ssh.Config{Host: "10.0.0.1", User: "ci", Port: 2222}},
		{in: "ssh://host/", want: ssh.Config{Host: "host"}},
		{in: "ssh://u@[::1]:22", want: ssh.Config{Host: "::1", User: "u", Port: 22}},
		{in: "https://host", wantErr: "scheme"},
		{in: "ssh://", wantErr: "no host"},
		{in: "ssh://host:0", wantErr: "bad port"},
		{in: "ssh://host:99999", wantErr: "bad port"},
		{in: "ssh://host/path", wantErr: "nothing after"},
		{in: "ssh://u:hunter2@host", wantErr: "password"},
		{in: "ssh://u:hunter2@ho st", wantErr: "invalid SSH URL"},
	}
	for _, tc := range tests {
		got, err := ssh.ParseURL(tc.in)
		if tc.wantErr != "" {
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseURL(%q): the error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got.Host != tc.want.Host || got.User != tc.want.User || got.Port != tc.want.Port {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if u := (ssh.Config{Host: "::1", User: "me"}).URL(); u != "ssh://me@[::1]:22" {
		t.Errorf("URL() = %q", u)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkExec measures a round trip: `true` run over the connection.
// The login shell's start-up files count: bash sources ~/.bashrc under sshd.
func BenchmarkExec(b *testing.B) {
	srv := testsshd.Start(b)
	tr := dial(b, srv.Config())
	ctx := context.Background()
	for b.Loop() {
		if _, err := transport.Run(ctx, tr, "true"); err != nil {
			b.Fatal(err)
		}
	}
}
