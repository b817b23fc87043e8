package local

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/testkit/transporttest"
	"github.com/lxkit/lxkit/transport"
)

// TestConformance runs the behaviour suite that every transport passes.
func TestConformance(t *testing.T) {
	transporttest.Run(t, New())
}

func needRoot(t *testing.T) {
	if os.Getuid() != 0 {
		testhost.Unavailable(t, "needs root")
	}
}

func nobody(t *testing.T) (uid, gid int) {
	u, err := user.Lookup("nobody")
	if err != nil {
		testhost.Unavailable(t, "no user nobody")
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

func TestAs(t *testing.T) {
	needRoot(t)
	uid, gid := nobody(t)
	tests := []struct {
		name string
		tr   transport.Transport
		cmd  transport.Command
		want string
	}{
		{name: "As nobody", tr: New().As("nobody", ""), cmd: transport.Command{Args: []string{"id", "-u"}},
			want: strconv.Itoa(uid)},
		{name: "As nobody group", tr: New().As("nobody", ""), cmd: transport.Command{Args: []string{"id", "-g"}},
			want: strconv.Itoa(gid)},
		{name: "As numeric", tr: New().As("12345", "54321"), cmd: transport.Command{Args: transport.Shell("id -u; id -g")},
			want: "12345\n54321"},
		{name: "per-command user", tr: New(), cmd: transport.Command{Args: []string{"id", "-u"}, User: "nobody"},
			want: strconv.Itoa(uid)},
		{name: "per-command overrides As", tr: New().As("nobody", ""), cmd: transport.Command{Args: []string{"id", "-u"}, User: "root"},
			want: "0"},
		{name: "per-command group", tr: New(), cmd: transport.Command{Args: []string{"id", "-g"}, Group: "4321"},
			want: "4321"},
		{name: "As user starts in their home", tr: New().As("root", ""), cmd: transport.Command{Args: []string{"pwd"}},
			want: rootHome(t)},
		{name: "user env", tr: New().As("nobody", ""), cmd: transport.Command{Args: transport.Shell(`echo $USER $LOGNAME`)},
			want: "nobody nobody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cmd.Capture = true
			res, err := tc.tr.Exec(context.Background(), tc.cmd)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Exec: %v, %+v", err, res)
			}
			if got := strings.TrimSpace(string(res.Stdout)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFilesAs: a transport acting as a user writes files they own.
func TestFilesAs(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		tr   transport.Transport
		opts transport.FileOptions
		want string
	}{
		{name: "As user owns", tr: New().As("2345", "5432"), want: "644 2345 5432"},
		{name: "As user, explicit uid", tr: New().As("2345", "5432"), opts: transport.FileOptions{UID: transport.Int(7)},
			want: "644 7 5432"},
	}
	ctx := context.Background()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strconv.Itoa(i))
			if err := transport.WriteBytes(ctx, tc.tr, p, []byte("x"), tc.opts); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			if got := transporttest.Stat(t, New(), p); got != tc.want {
				t.Errorf("mode and owner %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUploadFolderAs: what a transport acting as a user uploads is theirs.
func TestUploadFolderAs(t *testing.T) {
	needRoot(t)
	src := filepath.Join(t.TempDir(), "site")
	transporttest.MakeTree(t, src)
	want := transporttest.Snapshot(t, src, false)
	dest := t.TempDir()
	if err := transport.UploadFolder(context.Background(), New().As("2345", "5432"), src, dest); err != nil {
		t.Fatal(err)
	}
	transporttest.Compare(t, transporttest.Snapshot(t, filepath.Join(dest, "site"), false), want)
	for k, v := range transporttest.Snapshot(t, filepath.Join(dest, "site"), true) {
		if !strings.HasSuffix(v, " 2345:5432") {
			t.Errorf("%s: %s, want owner 2345:5432", k, v)
		}
	}
}

func rootHome(t *testing.T) string {
	u, err := user.Lookup("root")
	if err != nil {
		testhost.Unavailable(t, "no user root")
	}
	return u.HomeDir
}
