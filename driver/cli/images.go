package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/imagefile"
	"github.com/lxkit/lxkit/transport"
)

// ExportImage writes the files of the image with the full fingerprint fp
// into dir on this machine and returns their paths: one unified tarball,
// or the metadata file then the rootfs. `lxc image export` writes them
// into a temporary directory on the machine that runs lxc (removed
// afterwards), and they come here through the transport. progress, if not
// nil, is called with the bytes moved so far.
func (q queryAPI) ExportImage(ctx context.Context, fp, dir string, progress func(bytes int64)) (paths []string, err error) {
	tmp, cleanup, err := q.tempDir(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting image %.12s: %w", fp, err)
	}
	defer cleanup()
	if _, err := q.h.Run(ctx, nil, "image", "export", q.h.Target(fp), tmp+"/"); err != nil {
		return nil, fmt.Errorf("exporting image %.12s: %w", fp, err)
	}
	out, err := transport.Run(ctx, q.h.Via, "ls", "-1A", tmp)
	if err != nil {
		return nil, fmt.Errorf("exporting image %.12s: listing what lxc wrote: %w", fp, err)
	}
	names := strings.Fields(out)
	// The metadata file (meta-FP.EXT) comes first.
	slices.SortFunc(names, func(a, b string) int {
		am, bm := strings.HasPrefix(a, "meta-"), strings.HasPrefix(b, "meta-")
		switch {
		case am && !bm:
			return -1
		case bm && !am:
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(names) != 1 && len(names) != 2 {
		return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "exporting image %.12s: %s wrote %d files, not an image's one or two", fp, q.h.Addr(), len(names))
	}
	defer func() {
		if err != nil {
			for _, p := range paths {
				os.Remove(p)
			}
		}
	}()
	var moved int64
	for _, name := range names {
		safe, ok := imagefile.SafeName(name)
		if !ok || safe != name || name[0] == '.' {
			return paths, errdefs.Wrap(errdefs.ErrInternal, nil, "exporting image %.12s: lxc wrote a file named %q", fp, name)
		}
		rc, err := q.h.Via.ReadFile(ctx, tmp+"/"+name)
		if err != nil {
			return paths, fmt.Errorf("exporting image %.12s: reading %s: %w", fp, name, err)
		}
		base := moved
		path, n, err := imagefile.Save(dir, name, &countingReader{r: rc, report: func(n int64) {
			if progress != nil {
				progress(base + n)
			}
		}})
		rc.Close()
		if err != nil {
			return paths, fmt.Errorf("exporting image %.12s: %w", fp, err)
		}
		moved += n
		paths = append(paths, path)
	}
	return paths, nil
}

// ImportImage makes a new image of files on this machine: one unified
// tarball, or the metadata file then the rootfs. They go through the
// transport into a temporary directory on the machine that runs lxc
// (removed afterwards), and `lxc image import` imports them from there.
// fp is their fingerprint; the caller checks the daemon has it after.
// progress, if not nil, is called with the bytes moved so far.
func (q queryAPI) ImportImage(ctx context.Context, files []string, fp string, progress func(bytes int64)) error {
	if len(files) != 1 && len(files) != 2 {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "an image is one file or two (metadata, rootfs), not %d", len(files))
	}
	tmp, cleanup, err := q.tempDir(ctx)
	if err != nil {
		return fmt.Errorf("importing image %.12s: %w", fp, err)
	}
	defer cleanup()
	args := []string{"image", "import"}
	var moved int64
	for i, local := range files {
		remote := tmp + "/" + uploadName(local, i)
		n, err := q.upload(ctx, local, remote, func(n int64) {
			if progress != nil {
				progress(moved + n)
			}
		})
		if err != nil {
			return fmt.Errorf("importing image %.12s: %w", fp, err)
		}
		moved += n
		args = append(args, remote)
	}
	if q.h.Remote != "" {
		args = append(args, q.h.Remote+":")
	}
	if err := q.runImport(ctx, args); err != nil {
		return fmt.Errorf("importing image %.12s: %w", fp, err)
	}
	return nil
}

// runImport runs `lxc image import`, which waits for its operation
// through the events websocket and can miss its end, then wait for ever
// (hostapi.OperationEndLost). So runImport reads the operation's ID from
// the command's debug output and has it watched on the side
// (lxccmd.Runner.WatchOperation): a command still waiting once the
// operation has ended is stopped, and the operation's own end is the
// import's.
func (q queryAPI) runImport(ctx context.Context, args []string) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sniff := newOperationSniffer()
	ended := make(chan struct{})
	var err error
	go func() {
		defer close(ended)
		_, err = q.h.RunTee(runCtx, sniff, append(args, "--debug")...)
	}()
	var id string
	select {
	case <-ended:
		return err
	case id = <-sniff.found:
	}
	missed := q.h.WatchOperation(ctx, ended, func(op api.Operation) bool { return op.ID == id }, stop)
	<-ended
	switch {
	case missed == nil:
		return err
	case missed.StatusCode == api.OperationSuccess:
		return nil
	}
	return &errdefs.OperationError{ID: missed.ID, Description: missed.Description, Status: missed.Status, Err: missed.Err}
}

// operationSniffer passes on, once, the first operation ID that the
// command's debug output names ("... url=.../1.0/operations/ID").
type operationSniffer struct {
	found chan string
	line  []byte
	sent  bool
}

func newOperationSniffer() *operationSniffer { return &operationSniffer{found: make(chan string, 1)} }

var operationURL = regexp.MustCompile(`/1\.0/operations/([0-9a-fA-F-]{36})`)

func (s *operationSniffer) Write(p []byte) (int, error) {
	if s.sent {
		return len(p), nil
	}
	s.line = append(s.line, p...)
	for {
		i := bytes.IndexByte(s.line, '\n')
		if i < 0 {
			if len(s.line) > 64<<10 { // a line this long names no operation URL we need
				s.line = s.line[:0]
			}
			return len(p), nil
		}
		if m := operationURL.FindSubmatch(s.line[:i]); m != nil {
			s.found <- string(m[1])
			s.sent, s.line = true, nil
			return len(p), nil
		}
		s.line = s.line[i+1:]
	}
}

func (q queryAPI) upload(ctx context.Context, local, remote string, report func(int64)) (int64, error) {
	f, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cr := &countingReader{r: f, report: report}
	if err := q.h.Via.WriteFile(ctx, remote, cr, transport.FileOptions{Mode: 0o600}); err != nil {
		return cr.n, fmt.Errorf("copying %s to %s: %w", local, q.h.Addr(), err)
	}
	return cr.n, nil
}

// uploadName is the name a file to import takes on the far side: its own
// when that is plain (lxc records a unified image's file name), else one
// that lxc cannot take for a property (KEY=VALUE) or a remote (NAME:).
func uploadName(local string, i int) string {
	name := filepath.Base(local)
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r)) {
			return "file" + strconv.Itoa(i+1)
		}
	}
	if name == "" || name[0] == '.' || name[0] == '-' {
		return "file" + strconv.Itoa(i+1)
	}
	return name
}

// tempDir makes a temporary directory on the machine that runs lxc;
// cleanup removes it, on its own deadline since ctx may have ended.
func (q queryAPI) tempDir(ctx context.Context) (dir string, cleanup func(), err error) {
	out, err := transport.Run(ctx, q.h.Via, "mktemp", "-d")
	if err != nil {
		return "", nil, fmt.Errorf("making a temporary directory on %s: %w", q.h.Addr(), err)
	}
	dir = strings.TrimSpace(out)
	if !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, "\n") {
		return "", nil, errdefs.Wrap(errdefs.ErrInternal, nil, "mktemp on %s answered %q", q.h.Addr(), dir)
	}
	return dir, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = transport.Run(cctx, q.h.Via, "rm", "-rf", dir)
	}, nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.report != nil {
			c.report(c.n)
		}
	}
	return n, err
}
