package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/unixmode"
)

// File types of the files API.
const (
	FileTypeFile      = "file"
	FileTypeDirectory = "directory"
	FileTypeSymlink   = "symlink"
)

// FileInfo describes a file in an instance, as the files API reports it.
type FileInfo struct {
	Type string // FileTypeFile, FileTypeDirectory or FileTypeSymlink
	Mode os.FileMode
	UID  int
	GID  int
	Size int64 // -1 when unknown
}

// FilePut says how PutFile creates a file. UID and GID of -1 and a zero
// Mode let the daemon choose (root, 0644 for files and 0755 for
// directories).
type FilePut struct {
	Type   string // defaults to FileTypeFile; for a symlink the body is its target
	Mode   os.FileMode
	UID    int
	GID    int
	Append bool
}

// header returns the file API header name for the daemon's kind.
func (c *Client) header(key string) string {
	if c.Kind() == KindIncus {
		return "X-Incus-" + key
	}
	return "X-LXD-" + key
}

func filesPath(instance, path string) string {
	return hostapi.InstancePath(instance, "files") + "?path=" + url.QueryEscape(path)
}

// GetFile opens a file in an instance for reading. The caller must close
// the returned reader. For a directory the reader holds the daemon's JSON
// listing, no larger than the client's answer limit (WithMaxAnswerSize).
// Each read must get bytes within the response timeout
// (WithResponseTimeout); the time between reads is the caller's.
func (c *Client) GetFile(ctx context.Context, instance, path string) (io.ReadCloser, FileInfo, error) {
	req, err := c.request(ctx, http.MethodGet, filesPath(instance, path), nil)
	if err != nil {
		return nil, FileInfo{}, err
	}
	resp, err := c.raw(req)
	if err != nil {
		if missing := hostapi.InstanceMissing(err, instance, c.Addr()); missing != err {
			return nil, FileInfo{}, missing
		}
		return nil, FileInfo{}, fmt.Errorf("reading %s:%s: %w", instance, path, err)
	}
	info := FileInfo{Type: resp.Header.Get(c.header("type")), Size: resp.ContentLength}
	info.UID, _ = strconv.Atoi(resp.Header.Get(c.header("uid")))
	info.GID, _ = strconv.Atoi(resp.Header.Get(c.header("gid")))
	if m, err := strconv.ParseUint(resp.Header.Get(c.header("mode")), 8, 32); err == nil {
		info.Mode = unixmode.From(uint32(m))
	}
	if info.Type == FileTypeDirectory {
		return &capped{ReadCloser: resp.Body, left: c.maxAnswer, err: c.tooLarge("the listing of "+instance+":"+path, c.maxAnswer)}, info, nil
	}
	return resp.Body, info, nil
}

// capped is a body that may hold no more than left bytes: past them,
// reads fail with err.
type capped struct {
	io.ReadCloser
	left int64
	err  error
}

func (r *capped) Read(p []byte) (int, error) {
	if int64(len(p)) > r.left+1 {
		p = p[:r.left+1]
	}
	n, err := r.ReadCloser.Read(p)
	if r.left -= int64(n); r.left < 0 {
		return 0, r.err
	}
	return n, err
}

// PutFile creates or replaces a file in an instance with the contents of
// body, streaming it.
func (c *Client) PutFile(ctx context.Context, instance, path string, body io.Reader, put FilePut) error {
	req, err := c.request(ctx, http.MethodPost, filesPath(instance, path), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if f, ok := body.(interface{ Stat() (os.FileInfo, error) }); ok {
		// A known length spares chunked encoding and lets the kernel copy.
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			req.ContentLength = fi.Size()
		}
	}
	typ := put.Type
	if typ == "" {
		typ = FileTypeFile
	}
	req.Header.Set(c.header("type"), typ)
	if put.Mode != 0 {
		// The leading 0 makes the daemon read the mode as octal.
		req.Header.Set(c.header("mode"), fmt.Sprintf("0%o", unixmode.To(put.Mode)))
	}
	if put.UID >= 0 {
		req.Header.Set(c.header("uid"), strconv.Itoa(put.UID))
	}
	if put.GID >= 0 {
		req.Header.Set(c.header("gid"), strconv.Itoa(put.GID))
	}
	if put.Append {
		req.Header.Set(c.header("write"), "append")
	} else {
		req.Header.Set(c.header("write"), "overwrite")
	}
	resp, err := c.raw(req)
	if err != nil {
		if missing := hostapi.InstanceMissing(err, instance, c.Addr()); missing != err {
			return missing
		}
		return fmt.Errorf("writing %s:%s: %w", instance, path, err)
	}
	resp.Body.Close()
	return nil
}

// DeleteFile removes a file or an empty directory in an instance.
func (c *Client) DeleteFile(ctx context.Context, instance, path string) error {
	_, err := c.Query(ctx, http.MethodDelete, filesPath(instance, path), nil, nil)
	return err
}
