package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/transport"
)

func TestExec(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		cmd        transport.Command
		code       int
		stdout     string
		stderr     string
		liveOut    string
		liveErr    string
		stdoutLike string
	}{
		{name: "streams and exit code",
			cmd:  transport.Command{Args: transport.Shell("echo out; echo err >&2; exit 3"), Capture: true},
			code: 3, stdout: "out\n", stderr: "err\n"},
		{name: "live writers",
			cmd:  transport.Command{Args: transport.Shell("echo out; echo err >&2")},
			code: 0, liveOut: "out\n", liveErr: "err\n"},
		{name: "no shell for argv",
			cmd:  transport.Command{Args: []string{"echo", "$HOME", "a;b", "*"}, Capture: true},
			code: 0, stdout: "$HOME a;b *\n"},
		{name: "missing command",
			cmd:  transport.Command{Args: []string{"no-such-command-lxkit"}, Capture: true},
			code: 127, stderr: "no-such-command-lxkit: command not found\n"},
		{name: "stdin",
			cmd:  transport.Command{Args: []string{"cat"}, Stdin: strings.NewReader("hello\nworld\n"), Capture: true},
			code: 0, stdout: "hello\nworld\n"},
		{name: "nil stdin is empty",
			cmd:  transport.Command{Args: []string{"wc", "-c"}, Capture: true},
			code: 0, stdout: "0\n"},
		{name: "env added",
			cmd:  transport.Command{Args: transport.Shell(`echo "$LXKIT_A-$LXKIT_B-${PATH:+path}"`), Env: map[string]string{"LXKIT_A": "x y", "LXKIT_B": "2"}, Capture: true},
			code: 0, stdout: "x y-2-path\n"},
		{name: "dir",
			cmd:  transport.Command{Args: []string{"pwd"}, Dir: dir, Capture: true},
			code: 0, stdout: dir + "\n"},
		{name: "signalled exit code",
			cmd:  transport.Command{Args: transport.Shell("kill -9 $$")},
			code: 137},
		{name: "tty",
			cmd:        transport.Command{Args: transport.Shell("tty; stty size; echo err >&2"), TTY: true, Size: transport.WindowSize{Width: 100, Height: 30}, Capture: true},
			code:       0,
			stdoutLike: `^/dev/pts/\d+\r\n30 100\r\nerr\r\n$`},
		{name: "tty exit code",
			cmd:  transport.Command{Args: transport.Shell("exit 5"), TTY: true},
			code: 5},
		{name: "tty stdin",
			cmd:        transport.Command{Args: transport.Shell("read x; echo got:$x"), TTY: true, Stdin: strings.NewReader("abc\n"), Capture: true},
			code:       0,
			stdoutLike: `got:abc\r\n$`},
	}
	tr := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lo, le bytes.Buffer
			if tc.liveOut != "" || tc.liveErr != "" {
				tc.cmd.Stdout, tc.cmd.Stderr = &lo, &le
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := tr.Exec(ctx, tc.cmd)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code %d, want %d (tail %q)", res.ExitCode, tc.code, res.Tail)
			}
			if tc.cmd.Capture && tc.stdoutLike == "" {
				if string(res.Stdout) != tc.stdout || string(res.Stderr) != tc.stderr {
					t.Errorf("got stdout %q stderr %q, want %q %q", res.Stdout, res.Stderr, tc.stdout, tc.stderr)
				}
			}
			if tc.stdoutLike != "" {
				if !regexp.MustCompile(tc.stdoutLike).Match(res.Stdout) {
					t.Errorf("stdout %q does not match %q", res.Stdout, tc.stdoutLike)
				}
				if len(res.Stderr) != 0 {
					t.Errorf("stderr %q on a tty", res.Stderr)
				}
			}
			if tc.liveOut != "" || tc.liveErr != "" {
				if lo.String() != tc.liveOut || le.String() != tc.liveErr {
					t.Errorf("live stdout %q stderr %q, want %q %q", lo.String(), le.String(), tc.liveOut, tc.liveErr)
				}
			}
			if tc.code != 0 {
				var ee *transport.ExitError
				if !errors.As(res.Err(), &ee) || ee.Code != tc.code {
					t.Errorf("Err() = %v", res.Err())
				}
			}
		})
	}
}

func TestExecStops(t *testing.T) {
	tests := []struct {
		name    string
		cmd     transport.Command
		cancel  time.Duration // cancel the context after this long; 0: never
		wantErr error
		wantMsg string
		min     time.Duration
		max     time.Duration
		code    int
	}{
		{name: "timeout",
			cmd:     transport.Command{Args: []string{"sleep", "60"}, Timeout: 300 * time.Millisecond},
			wantErr: context.DeadlineExceeded, wantMsg: "timed out after 300ms",
			min: 250 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
		{name: "TERM ignored: killed after the grace",
			cmd:     transport.Command{Args: transport.Shell(`trap "" TERM; sleep 60; echo survived`), Timeout: 200 * time.Millisecond},
			wantErr: context.DeadlineExceeded,
			min:     2 * time.Second, max: 4 * time.Second, code: 128 + 9},
		{name: "cancel",
			cmd:     transport.Command{Args: []string{"sleep", "60"}},
			cancel:  200 * time.Millisecond,
			wantErr: context.Canceled,
			min:     150 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
		{name: "tty timeout",
			cmd:     transport.Command{Args: []string{"sleep", "60"}, TTY: true, Timeout: 300 * time.Millisecond},
			wantErr: context.DeadlineExceeded,
			min:     250 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
	}
	tr := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			start := time.Now()
			res, err := tr.Exec(ctx, tc.cmd)
			took := time.Since(start)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err %q lacks %q", err, tc.wantMsg)
			}
			if res == nil {
				t.Fatal("no Result with the error")
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code %d, want %d", res.ExitCode, tc.code)
			}
			if took < tc.min || took > tc.max {
				t.Errorf("took %v, want between %v and %v", took, tc.min, tc.max)
			}
		})
	}
}

func TestExecLargeOutput(t *testing.T) {
	const n = 10 << 20
	var live countWriter
	res, err := New().Exec(context.Background(), transport.Command{
		Args: []string{"head", "-c", strconv.Itoa(n), "/dev/zero"}, Capture: true, Stdout: &live})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Exec: %v, %+v", err, res)
	}
	if len(res.Stdout) != n || live.n != n {
		t.Errorf("captured %d, live %d, want %d", len(res.Stdout), live.n, n)
	}
	if bytes.IndexFunc(res.Stdout, func(r rune) bool { return r != 0 }) >= 0 {
		t.Error("output corrupted")
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func TestExecResize(t *testing.T) {
	resize := make(chan transport.WindowSize, 1)
	resize <- transport.WindowSize{Width: 132, Height: 50}
	close(resize)
	res, err := New().Exec(context.Background(), transport.Command{
		Args: transport.Shell("sleep 0.3; stty size"), TTY: true, Size: transport.WindowSize{Width: 80, Height: 24},
		Resize: resize, Capture: true})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Exec: %v, %+v", err, res)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "50 132" {
		t.Errorf("stty size after resize = %q", got)
	}
}

func needRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
}

func nobody(t *testing.T) (uid, gid int) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
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

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	tests := []struct {
		name     string
		tr       transport.Transport
		opts     transport.FileOptions
		existing bool
		mode     fs.FileMode
		uid, gid int
		root     bool
	}{
		{name: "default", tr: New(), mode: 0o644, uid: uid, gid: gid},
		{name: "mode", tr: New(), opts: transport.FileOptions{Mode: 0o600}, mode: 0o600, uid: uid, gid: gid},
		{name: "replaces", tr: New(), existing: true, opts: transport.FileOptions{Mode: 0o755}, mode: 0o755, uid: uid, gid: gid},
		{name: "owner", tr: New(), opts: transport.FileOptions{UID: transport.Int(1234), GID: transport.Int(4321), Mode: 0o640},
			mode: 0o640, uid: 1234, gid: 4321, root: true},
		{name: "As user owns", tr: New().As("2345", "5432"), mode: 0o644, uid: 2345, gid: 5432, root: true},
		{name: "As user, explicit uid", tr: New().As("2345", "5432"), opts: transport.FileOptions{UID: transport.Int(7)},
			mode: 0o644, uid: 7, gid: 5432, root: true},
	}
	ctx := context.Background()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			p := filepath.Join(dir, strconv.Itoa(i))
			if tc.existing {
				if err := os.WriteFile(p, bytes.Repeat([]byte("old"), 1000), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			data := []byte("content " + tc.name + "\n")
			if err := transport.WriteBytes(ctx, tc.tr, p, data, tc.opts); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := transport.ReadAll(ctx, tc.tr, p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAll = %q, %v; want %q", got, err, data)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != tc.mode || int(st.Uid) != tc.uid || int(st.Gid) != tc.gid {
				t.Errorf("mode %v owner %d:%d, want %v %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, tc.mode, tc.uid, tc.gid)
			}
		})
	}
	t.Run("read errors", func(t *testing.T) {
		if _, err := New().ReadFile(ctx, dir); err == nil {
			t.Error("reading a directory succeeded")
		}
		if _, err := New().ReadFile(ctx, filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
	})
	t.Run("upload and download file", func(t *testing.T) {
		src := filepath.Join(dir, "src")
		if err := os.WriteFile(src, []byte("x"), 0o751); err != nil {
			t.Fatal(err)
		}
		os.Chmod(src, 0o751)
		dst := filepath.Join(dir, "dst")
		if err := transport.UploadFile(ctx, New(), src, dst, transport.FileOptions{}); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o751 {
			t.Errorf("uploaded: %v %v", fi.Mode(), err)
		}
		back := filepath.Join(dir, "back")
		if err := transport.DownloadFile(ctx, New(), dst, back); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(back); string(b) != "x" {
			t.Errorf("downloaded %q", b)
		}
	})
}

// makeTree makes a folder with files of several modes, a nested empty
// directory and symlinks (one dangling, one absolute).
func makeTree(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub", "deep"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "empty", "emptier"), 0o755))
	must(os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha"), 0o644))
	must(os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(root, "sub", "secret"), []byte("s"), 0o600))
	must(os.WriteFile(filepath.Join(root, "sub", "deep", "big"), bytes.Repeat([]byte("0123456789"), 100000), 0o640))
	must(os.Symlink("a.txt", filepath.Join(root, "link")))
	must(os.Symlink("../nowhere", filepath.Join(root, "sub", "dangling")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "abs")))
	for _, p := range []string{"a.txt", "run.sh", "sub/secret", "sub/deep/big"} {
		fi, _ := os.Stat(filepath.Join(root, p))
		must(os.Chmod(filepath.Join(root, p), fi.Mode().Perm()))
	}
	must(os.Chmod(filepath.Join(root, "empty"), 0o700))
}

// snapshot describes every entry below root: type, mode, content or target,
// and owner when withOwner.
func snapshot(t *testing.T, root string, withOwner bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc = "link " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += " " + strconv.Itoa(len(b)) + " " + string(b[:min(len(b), 20)])
		}
		if withOwner {
			st := fi.Sys().(*syscall.Stat_t)
			desc += " " + strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
		}
		m[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func compare(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s", k)
		}
	}
}

func TestFolders(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "site")
	makeTree(t, src)
	want := snapshot(t, src, false)
	if len(want) != 12 {
		t.Fatalf("tree has %d entries: %v", len(want), want)
	}
	tests := []struct {
		name  string
		tr    transport.Transport
		copy  func(tr transport.Transport, dest string) error
		owner string // expected owner of everything, when set
		root  bool
	}{
		{name: "upload", tr: New(), copy: func(tr transport.Transport, dest string) error {
			return transport.UploadFolder(ctx, tr, src, dest)
		}},
		{name: "download", tr: New(), copy: func(tr transport.Transport, dest string) error {
			sum, err := transport.DownloadFolder(ctx, tr, src, dest)
			if err == nil && (sum.Files != 4 || sum.Symlinks != 3 || sum.Dirs != 5) {
				t.Errorf("summary %+v", sum)
			}
			return err
		}},
		{name: "upload as user", tr: New().As("2345", "5432"), owner: "2345:5432", root: true, copy: func(tr transport.Transport, dest string) error {
			return transport.UploadFolder(ctx, tr, src, dest)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			dest := t.TempDir()
			if err := tc.copy(tc.tr, dest); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dest)
			if len(entries) != 1 || entries[0].Name() != "site" {
				t.Fatalf("destination holds %v, want only site", entries)
			}
			compare(t, snapshot(t, filepath.Join(dest, "site"), false), want)
			if tc.owner != "" {
				for k, v := range snapshot(t, filepath.Join(dest, "site"), true) {
					if !strings.HasSuffix(v, " "+tc.owner) {
						t.Errorf("%s: %s, want owner %s", k, v, tc.owner)
					}
				}
			}
		})
	}
	t.Run("missing source", func(t *testing.T) {
		if err := transport.UploadFolder(ctx, New(), filepath.Join(src, "nope"), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("upload: %v", err)
		}
		if _, err := transport.DownloadFolder(ctx, New(), filepath.Join(src, "nope"), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("download: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := New().UploadFolder(cctx, src, t.TempDir()); !errors.Is(err, context.Canceled) {
			t.Errorf("upload with a cancelled context: %v", err)
		}
	})
}

func rootHome(t *testing.T) string {
	u, err := user.Lookup("root")
	if err != nil {
		t.Skip("no user root")
	}
	return u.HomeDir
}
