package transport

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/internal/localtree"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/internal/unixmode"
)

// The per-file folder copies below serve targets without tar. They need a
// POSIX shell with find, stat, mkdir, chmod, chown, ln and readlink there
// (busybox has them), and move each file with ReadFile and WriteFile.

// UploadFolderPerFile copies local into remoteDir file by file; everything
// made belongs to uid:gid.
func UploadFolderPerFile(ctx context.Context, t Transport, local, remoteDir string, uid, gid int) error {
	owner := strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
	var mkdirs [][]string
	var finish [][][]string // per entry, done deepest first
	var files []localtree.Entry
	err := localtree.Walk(local, remoteDir, func(e localtree.Entry) error {
		switch e.Kind {
		case localtree.Dir:
			// Made writable first; the real mode is set once it is filled.
			mkdirs = append(mkdirs, []string{"mkdir", "-p", "-m", "0700", "--", e.Remote})
			finish = append(finish, [][]string{{"chown", owner, "--", e.Remote}, {"chmod", fmt.Sprintf("%04o", unixmode.To(e.Mode)), "--", e.Remote}})
		case localtree.Symlink:
			finish = append(finish, [][]string{{"ln", "-sfn", "--", e.Target, e.Remote}, {"chown", "-h", owner, "--", e.Remote}})
		case localtree.File:
			files = append(files, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := runScript(ctx, t, mkdirs); err != nil {
		return err
	}
	for _, f := range files {
		err := UploadFile(ctx, t, f.Local, f.Remote, FileOptions{Mode: f.Mode, UID: Int(uid), GID: Int(gid)})
		if err != nil {
			return err
		}
	}
	// Deepest directories first, so a read-only parent does not stop a child.
	var last [][]string
	for i := len(finish) - 1; i >= 0; i-- {
		last = append(last, finish[i]...)
	}
	return runScript(ctx, t, last)
}

// runScript runs commands with sh, stopping at the first failure, in
// chunks that keep each command line small.
func runScript(ctx context.Context, t Transport, cmds [][]string) error {
	var script strings.Builder
	flush := func() error {
		if script.Len() == 0 {
			return nil
		}
		s := "set -e\n" + script.String()
		script.Reset()
		_, err := Run(ctx, t, Shell(s)...)
		return err
	}
	for _, c := range cmds {
		line, err := shquote.Join(c)
		if err != nil {
			return err
		}
		script.WriteString(line + "\n")
		if script.Len() > 64<<10 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// listScript prints, for each entry below $1, its raw mode and size in hex
// and decimal on a line, then its path and a NUL.
const listScript = `find "$1" -exec stat -c '%f %s' {} \; -print0`

// DownloadFolderPerFile copies a remote folder into localDir file by file.
// What arrives goes through the same safe extraction as a tar stream, so
// nothing is written outside localDir whatever the target answers.
func DownloadFolderPerFile(ctx context.Context, t Transport, remote, localDir string) (FolderSummary, error) {
	remote = path.Clean(remote)
	// Captured, not streamed: through the CLI transport a streamed `lxc
	// exec` can drop the output of a command that ends at once (see
	// client.websocket), which would list an empty folder.
	res, err := t.Exec(ctx, Command{Args: []string{"/bin/sh", "-c", listScript, "sh", remote}, Capture: true})
	if err != nil {
		return FolderSummary{}, err
	}
	if err := res.Err(); err != nil {
		return FolderSummary{}, fmt.Errorf("listing %s: %w", remote, err)
	}
	entries, err := parseListing(res.Stdout)
	if err == nil && len(entries) == 0 {
		err = errors.New("no output, not even the folder itself")
	}
	if err != nil {
		return FolderSummary{}, fmt.Errorf("listing %s: %w", remote, err)
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return FolderSummary{}, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeEntries(ctx, t, pw, path.Dir(remote), entries)) }()
	sum, err := ExtractFolder(pr, localDir)
	pr.CloseWithError(errors.New("extraction stopped"))
	if err != nil {
		return sum, fmt.Errorf("downloading %s: %w", remote, err)
	}
	return sum, nil
}

type entry struct {
	path string
	mode uint32 // raw st_mode
	size int64
}

func parseListing(b []byte) ([]entry, error) {
	var out []entry
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return out, nil
		}
		if err != nil {
			return nil, errors.New("cut listing")
		}
		var e entry
		var mode string
		if _, err := fmt.Sscanf(line, "%s %d\n", &mode, &e.size); err != nil {
			return nil, fmt.Errorf("bad listing line %q", line)
		}
		m, err := strconv.ParseUint(mode, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("bad mode %q", mode)
		}
		e.mode = uint32(m)
		if e.path, err = r.ReadString(0); err != nil {
			return nil, errors.New("cut listing")
		}
		e.path = strings.TrimSuffix(e.path, "\x00")
		out = append(out, e)
	}
}

// writeEntries writes a tar stream of the entries, relative to parent,
// reading regular files and symlink targets from t.
func writeEntries(ctx context.Context, t Transport, w io.Writer, parent string, entries []entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		rel := strings.TrimPrefix(strings.TrimPrefix(e.path, parent), "/")
		hdr := &tar.Header{Name: rel, Mode: int64(e.mode & 0o7777)}
		switch e.mode & 0o170000 {
		case 0o040000:
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		case 0o120000:
			target, err := Run(ctx, t, "readlink", "--", e.path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, strings.TrimSuffix(target, "\n")
		case 0o100000:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.size
		default:
			hdr.Typeflag = tar.TypeFifo // something else: the extractor skips it
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyFile(ctx, t, tw, e.path, e.size); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func copyFile(ctx context.Context, t Transport, w io.Writer, p string, size int64) error {
	rc, err := t.ReadFile(ctx, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while it was copied", p)
	}
	return err
}
