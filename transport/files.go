package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/lxkit/lxkit/internal/tarx"
)

// ReadAll reads a whole file.
func ReadAll(ctx context.Context, t Transport, p string) ([]byte, error) {
	rc, err := t.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// WriteBytes writes data to a file.
func WriteBytes(ctx context.Context, t Transport, p string, data []byte, opts FileOptions) error {
	return t.WriteFile(ctx, p, bytes.NewReader(data), opts)
}

// UploadFile copies a local file to remote, streaming it. Without an
// explicit mode the local file's mode is kept.
func UploadFile(ctx context.Context, t Transport, local, remote string, opts FileOptions) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	if opts.Mode == 0 {
		if fi, err := f.Stat(); err == nil {
			opts.Mode = fi.Mode().Perm()
		}
	}
	return t.WriteFile(ctx, remote, f, opts)
}

// DownloadFile copies a remote file to local, streaming it into a
// temporary file beside local that takes local's name only once the whole
// file is there: a download cut short (a daemon or a connection lost)
// leaves no file that looks complete, and an older local file stays as it
// was. The partial file is removed on failure.
func DownloadFile(ctx context.Context, t Transport, remote, local string) (err error) {
	rc, err := t.ReadFile(ctx, remote)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := createPartial(local)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), local)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = io.Copy(f, rc)
	return err
}

// createPartial creates a new file beside path for a download to path, as
// os.Create would make path itself (mode 0666 less the umask).
func createPartial(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".part")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("%s: no free name for a partial download", path)
}

// FolderUploader is implemented by transports that copy folders their own
// way (for example without tar on the target).
type FolderUploader interface {
	UploadFolder(ctx context.Context, local, remoteDir string) error
}

// FolderDownloader is the download side of FolderUploader.
type FolderDownloader interface {
	DownloadFolder(ctx context.Context, remote, localDir string) (FolderSummary, error)
}

// FolderSummary counts what a folder download wrote.
type FolderSummary struct {
	Files    int      // regular files and hard links
	Dirs     int      // directory entries
	Symlinks int      // symbolic links
	Bytes    int64    // file content written
	Skipped  []string // names of entries not extracted (devices, fifos, unknown types)
}

// FolderOptions says how a folder is written into a tar stream for
// upload.
type FolderOptions struct {
	UID, GID int // numeric owner written into every header
}

// ExtractFolder recreates the entries of the tar stream r below localDir,
// which must exist. Nothing is written outside localDir: absolute names,
// names that climb out with "..", writes through symlinks and hard links
// that lead out are refused; devices and fifos are skipped and listed.
func ExtractFolder(r io.Reader, localDir string) (FolderSummary, error) {
	sum, err := tarx.Extract(r, filepath.Clean(localDir), tarx.ExtractOptions{})
	return FolderSummary(sum), err
}

// UploadFolder copies the local folder into remoteDir, keeping its base
// name: local "site" and remoteDir "/srv" make "/srv/site". Modes,
// symlinks and empty directories are kept.
func UploadFolder(ctx context.Context, t Transport, local, remoteDir string) error {
	if u, ok := t.(FolderUploader); ok {
		return u.UploadFolder(ctx, local, remoteDir)
	}
	return UploadFolderTar(ctx, t, local, remoteDir, FolderOptions{})
}

// DownloadFolder copies the remote folder into localDir, keeping its base
// name. Nothing is ever written outside localDir, whatever the target
// sends. A folder that is not in localDir yet arrives in a temporary
// folder beside it and takes its name only once whole: a download cut
// short leaves no folder that looks complete. Into a folder that exists
// already, files arrive in place (merged, as `lxc file pull -r` does).
func DownloadFolder(ctx context.Context, t Transport, remote, localDir string) (FolderSummary, error) {
	download := func(dir string) (FolderSummary, error) {
		if d, ok := t.(FolderDownloader); ok {
			return d.DownloadFolder(ctx, remote, dir)
		}
		return DownloadFolderTar(ctx, t, remote, dir)
	}
	base := path.Base(path.Clean(remote))
	final := filepath.Join(localDir, base)
	if _, err := os.Lstat(final); err == nil || base == "/" || base == "." || base == ".." {
		return download(localDir)
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return FolderSummary{}, err
	}
	tmp, err := os.MkdirTemp(localDir, "."+base+".*.part")
	if err != nil {
		return FolderSummary{}, err
	}
	defer os.RemoveAll(tmp)
	sum, err := download(tmp)
	if err == nil {
		err = os.Rename(filepath.Join(tmp, base), final)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil // nothing came that could be written (all skipped)
		}
	}
	return sum, err
}

// ErrNoTar is returned by the tar functions when the target has no tar.
var ErrNoTar = errors.New("no tar on the target")

// UploadFolderTar streams local as a tar archive into `tar -x` on the
// target. opts sets the owner written into the archive.
func UploadFolderTar(ctx context.Context, t Transport, local, remoteDir string, opts FolderOptions) error {
	if _, err := os.Stat(local); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarx.Write(pw, local, tarx.WriteOptions(opts))) }()
	defer pr.Close()
	res, err := t.Exec(ctx, Command{Args: []string{"tar", "-xf", "-", "-C", remoteDir}, Stdin: pr})
	if err != nil {
		return err
	}
	if res.ExitCode == 127 {
		return ErrNoTar
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("uploading %s to %s: %w", local, remoteDir, err)
	}
	return nil
}

// DownloadFolderTar streams `tar -c` of remote from the target into a
// safe extractor below localDir.
func DownloadFolderTar(ctx context.Context, t Transport, remote, localDir string) (FolderSummary, error) {
	remote = path.Clean(remote)
	parent, base := path.Split(remote)
	if base == "" || base == "/" {
		parent, base = "/", "."
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return FolderSummary{}, err
	}
	// A tar of anything holds at least one entry and ends with a trailer.
	// An empty or cut stream from a tar that succeeded is output that the
	// lxc or incus client of the CLI transport dropped (they can drop the
	// output of a command that has just ended; see client.websocket): ask
	// again.
	for attempt := 1; ; attempt++ {
		sum, err := downloadTarOnce(ctx, t, parent, base, localDir)
		empty := sum.Files+sum.Dirs+sum.Symlinks+len(sum.Skipped) == 0
		if (err == nil && !empty) || (err != nil && !errors.Is(err, tarx.ErrTruncated)) {
			if err != nil {
				err = fmt.Errorf("downloading %s: %w", remote, err)
			}
			return sum, err
		}
		if attempt == 3 {
			return sum, fmt.Errorf("downloading %s: tar's output arrived empty or cut, %d times", remote, attempt)
		}
	}
}

func downloadTarOnce(ctx context.Context, t Transport, parent, base, localDir string) (FolderSummary, error) {
	pr, pw := io.Pipe()
	type extracted struct {
		sum FolderSummary
		err error
	}
	done := make(chan extracted, 1)
	go func() {
		sum, err := ExtractFolder(pr, localDir)
		// Drain what is left so that the command never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
		done <- extracted{sum, err}
	}()
	res, err := t.Exec(ctx, Command{Args: []string{"tar", "-cf", "-", "-C", parent, base}, Stdout: pw})
	pw.Close()
	x := <-done
	switch {
	case err != nil:
		return x.sum, err
	case res.ExitCode == 127:
		return x.sum, ErrNoTar
	case res.Err() != nil:
		return x.sum, res.Err()
	}
	return x.sum, x.err
}
