package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/imagefile"
)

func imageExportPath(fingerprint string) string {
	return "/1.0/images/" + PathEscape(fingerprint) + "/export"
}

// ExportImage downloads the files of the image with the full fingerprint
// fp into dir (GET /1.0/images/FP/export) and returns their paths: one
// unified tarball, or the metadata file then the rootfs, named as the
// daemon names them. Each file is written through a temporary file and
// renamed into place, so a failed download leaves none; a name the daemon
// gives that is not a plain file name is replaced by one made of fp.
// progress, if not nil, is called with the bytes received so far.
func (c *Client) ExportImage(ctx context.Context, fp, dir string, progress func(bytes int64)) ([]string, error) {
	req, err := c.request(ctx, http.MethodGet, imageExportPath(fp), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.raw(req)
	if err != nil {
		return nil, fmt.Errorf("exporting image %.12s: %w", fp, err)
	}
	defer closeBody(resp)
	moved := &counter{report: progress} // file bytes, not multipart framing
	ctype, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ctype != "multipart/form-data" {
		_, cd, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		path, err := save(dir, cd["filename"], fp, moved.from(resp.Body))
		if err != nil {
			return nil, fmt.Errorf("exporting image %.12s: %w", fp, err)
		}
		return []string{path}, nil
	}
	// A split image: the metadata part, then the rootfs (or rootfs.img).
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var paths []string
	defer func() {
		if len(paths) != 2 {
			for _, p := range paths {
				os.Remove(p)
			}
		}
	}()
	for i, want := range []string{"metadata", "rootfs"} {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("exporting image %.12s: reading part %d of the answer: %w", fp, i+1, err)
		}
		if name := part.FormName(); name != want && name != want+".img" {
			return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "exporting image %.12s: the daemon sent a part %q where %q was expected", fp, name, want)
		}
		fallback := fp
		if want == "metadata" {
			fallback = "meta-" + fp
		}
		name := part.FileName()
		if len(paths) == 1 && safeBase(name) == filepath.Base(paths[0]) {
			name = "" // the same name twice: the fallback
		}
		path, err := save(dir, name, fallback, moved.from(part))
		if err != nil {
			return nil, fmt.Errorf("exporting image %.12s: %w", fp, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// safeBase is name as save would write it, or "" when it would not.
func safeBase(name string) string {
	s, ok := imagefile.SafeName(name)
	if !ok || s[0] == '.' {
		return ""
	}
	return s
}

// save writes r to dir under name, or under fallback when name is not a
// plain file name (or would be hidden).
func save(dir, name, fallback string, r io.Reader) (string, error) {
	if name = safeBase(name); name == "" {
		name = fallback
	}
	path, _, err := imagefile.Save(dir, name, r)
	return path, err
}

// ImportImage uploads files as a new image (POST /1.0/images): one unified
// tarball sent as it is, or the metadata file then the rootfs, sent as a
// multipart form. fp is their fingerprint, which the daemon checks. It
// waits for the daemon to store the image. progress, if not nil, is called
// with the bytes sent so far.
func (c *Client) ImportImage(ctx context.Context, files []string, fp string, progress func(bytes int64)) error {
	if len(files) != 1 && len(files) != 2 {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "an image is one file or two (metadata, rootfs), not %d", len(files))
	}
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		opened = append(opened, f)
	}
	moved := &counter{report: progress} // file bytes, not multipart framing
	var body io.Reader
	var ctype string
	var length int64 = -1
	if len(files) == 1 {
		body, ctype = moved.from(opened[0]), "application/octet-stream"
		if fi, err := opened[0].Stat(); err == nil {
			length = fi.Size()
		}
	} else {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() { pw.CloseWithError(writeParts(mw, opened, moved)) }()
		defer pr.Close()
		body, ctype = pr, mw.FormDataContentType()
	}
	req, err := c.request(ctx, http.MethodPost, "/1.0/images", body)
	if err != nil {
		return err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", ctype)
	req.Header.Set(c.header("fingerprint"), fp)
	req.Header.Set(c.header("filename"), filepath.Base(files[len(files)-1]))
	resp, err := c.raw(req)
	if err != nil {
		return fmt.Errorf("importing image %.12s: %w", fp, err)
	}
	a, err := c.decodeAnswer(resp)
	closeBody(resp)
	if err != nil {
		return fmt.Errorf("importing image %.12s: %w", fp, c.refusal(err))
	}
	if a.Type != "async" {
		return nil
	}
	var op api.Operation
	if err := json.Unmarshal(a.Metadata, &op); err != nil {
		return fmt.Errorf("importing image %.12s: decoding operation: %w", fp, err)
	}
	if _, err := c.Wait(ctx, &op); err != nil {
		return fmt.Errorf("importing image %.12s: %w", fp, err)
	}
	return nil
}

// writeParts writes a split image's files as the parts the daemon
// expects: "metadata", then "rootfs".
func writeParts(mw *multipart.Writer, files []*os.File, moved *counter) error {
	for i, field := range []string{"metadata", "rootfs"} {
		w, err := mw.CreateFormFile(field, filepath.Base(files[i].Name()))
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, moved.from(files[i])); err != nil {
			return err
		}
	}
	return mw.Close()
}

// counter adds up the bytes read through the readers it makes, and
// reports the sum.
type counter struct {
	n      int64
	report func(int64)
}

// from returns r, counted.
func (c *counter) from(r io.Reader) io.Reader { return &counted{r: r, c: c} }

type counted struct {
	r io.Reader
	c *counter
}

func (r *counted) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.c.n += int64(n)
		if r.c.report != nil {
			r.c.report(r.c.n)
		}
	}
	return n, err
}
