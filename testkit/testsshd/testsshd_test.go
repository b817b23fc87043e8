package testsshd_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/ssh"
)

// TestPrivateHome: the server's sessions run with a home of their own, so
// the user's shell startup files (which may be slow, or hang) never run.
func TestPrivateHome(t *testing.T) {
	srv := testsshd.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := ssh.Dial(ctx, srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	out, err := transport.Run(ctx, tr, "sh", "-c", `echo "$HOME"; ls -A "$HOME" | wc -l`)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(srv.Dir, "home") + "\n0"
	if got := strings.TrimSpace(out); got != want {
		t.Fatalf("HOME and its entries: got %q, want %q", got, want)
	}
}
