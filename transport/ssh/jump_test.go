package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/testkit/transporttest"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/ssh"
)

// hostBlock is an ssh_config Host block that reaches srv as alias.
func hostBlock(alias string, srv *testsshd.Server) string {
	return fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n  IdentityAgent none\n",
		alias, srv.Host, srv.Port, srv.User, srv.KeyFile, srv.KnownHosts)
}

func writeSSHConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigAlias: a Host alias of an ssh_config file says where and how
// to log in, as it would for ssh.
func TestConfigAlias(t *testing.T) {
	srv := testsshd.Start(t)
	conf := writeSSHConfig(t, hostBlock("build1", srv))
	tr := dial(t, ssh.Config{Host: "build1", ConfigFiles: []string{conf}})
	out, err := transport.Run(transporttest.Context(t, 20*time.Second), tr, "echo", "aliased")
	if err != nil || out != "aliased\n" {
		t.Fatalf("exec over the alias: %q, %v", out, err)
	}
	if got, want := tr.Config().URL(), srv.URL(); got != want {
		t.Errorf("resolved to %s, want %s", got, want)
	}
}

// TestProxyJump: the target is reached through a jump host, and only
// through it: when the jump host drops its connections, the target's is
// lost too.
func TestProxyJump(t *testing.T) {
	jump, target := testsshd.Start(t), testsshd.Start(t)
	conf := writeSSHConfig(t, hostBlock("bastion", jump)+hostBlock("target", target)+"  ProxyJump bastion\n")
	tr := dial(t, ssh.Config{Host: "target", ConfigFiles: []string{conf}})
	ctx := transporttest.Context(t, 30*time.Second)
	out, err := transport.Run(ctx, tr, "sh", "-c", `echo "$SSH_CONNECTION"`)
	if err != nil {
		t.Fatal(err)
	}
	// SSH_CONNECTION: client address and port, server address and port.
	if f := strings.Fields(out); len(f) != 4 || f[3] != fmt.Sprint(target.Port) {
		t.Fatalf("target session's SSH_CONNECTION = %q", out)
	}
	transporttest.LargeOutput(t, tr)

	// A jump host that cannot be verified is named in the error, and
	// nothing reaches the target.
	bad := writeSSHConfig(t, strings.Replace(hostBlock("bastion", jump), jump.KnownHosts, os.DevNull, 1)+
		hostBlock("target", target)+"  ProxyJump bastion\n")
	_, err = ssh.Dial(context.Background(), ssh.Config{Host: "target", ConfigFiles: []string{bad}})
	if !errors.Is(err, ssh.ErrHostKeyUnknown) || !strings.Contains(err.Error(), "jump host ssh://"+jump.User+"@"+jump.Addr()) {
		t.Errorf("unknown jump host key: %v", err)
	}

	// A command running when the jump host drops its connections fails;
	// the next call goes through the jump host again, and fails once it
	// is gone.
	done := make(chan error, 1)
	go func() {
		_, err := tr.Exec(ctx, transport.Command{Args: []string{"sleep", "60"}})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	jump.DropConnections(t)
	select {
	case err = <-done:
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("command running when the jump host dropped: %v; want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end with the jump host's connection")
	}
	if out, err := transport.Run(ctx, tr, "echo", "again"); err != nil || out != "again\n" {
		t.Fatalf("after the drop: %q, %v; want a new connection", out, err)
	}
	jump.Stop()
	_, err = tr.Exec(ctx, transport.Command{Args: []string{"true"}})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "dialling again: jump host") {
		t.Errorf("with the jump host gone: %v; want ErrUnavailable naming the jump host", err)
	}

}
