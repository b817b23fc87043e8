package host

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lxkit/lxkit/errdefs"
)

// Bounds of lxkit's own reading of a simplestreams server's documents
// (see ImageServer.SkipIndexCheck). Public servers' are far smaller: the
// index a few KiB, the products some MiB.
const (
	MaxIndexSize    = 4 << 20
	MaxProductsSize = 64 << 20
)

// The daemons read the index at this path under the server's URL.
const streamIndexPath = "streams/v1/index.json"

// The item types (ftype) a daemon downloads for a container: the
// unified tarball, or the metadata and a rootfs.
var containerFileTypes = []string{"lxd_combined.tar.gz", "incus_combined.tar.gz", "lxd.tar.xz", "incus.tar.xz", "root.tar.xz", "squashfs"}

// streamIndex and streamProducts are the parts of a server's documents
// that a daemon acts on, as LXD 5.0.2 and Incus 6.0.4 read them (the same
// fields in both).
type streamIndex struct {
	Index map[string]struct {
		DataType string   `json:"datatype"`
		Path     string   `json:"path"`
		Products []string `json:"products"`
	} `json:"index"`
}

type streamProducts struct {
	Products map[string]streamProduct `json:"products"`
}

// streamProduct is an image line (an OS release on an architecture), with
// its versions: a daemon takes an image's properties from it.
type streamProduct struct {
	Aliases      string `json:"aliases"`
	Architecture string `json:"arch"`
	OS           string `json:"os"`
	Release      string `json:"release"`
	ReleaseTitle string `json:"release_title"`
	Variant      string `json:"variant"`
	Versions     map[string]struct {
		Items map[string]streamItem `json:"items"`
	} `json:"versions"`
}

type streamItem struct {
	FileType string `json:"ftype"`
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// The fingerprints of the image whose metadata this is, by the type
	// of its rootfs; a daemon takes one as the image's file name.
	Combined         string `json:"combined_sha256"`
	CombinedRootxz   string `json:"combined_rootxz_sha256"`
	CombinedSquashfs string `json:"combined_squashfs_sha256"`
	CombinedDiskKVM  string `json:"combined_disk-kvm-img_sha256"`
	CombinedDisk     string `json:"combined_disk1-img_sha256"`
	CombinedUEFI     string `json:"combined_uefi1-img_sha256"`
}

// checkIndex reads a simplestreams server's index and product files as a
// daemon would, within src's stall bound and the size bounds above, and
// refuses what a daemon should not be given: a path that is absolute or
// has a ".." element (the daemons join it to the URL and leave the
// server's path), a hash or fingerprint that is not a SHA-256 (LXD 5.0.2
// and Incus 6.0.4 make the fingerprint a file name under their images
// directory: "../.." there creates, then deletes, a file anywhere), a
// negative size, a document that does not end. For the files of the
// image ref names, it asks the server their size (HEAD) and refuses one
// that is not the index's (the daemons record the index's size, a lie
// included, as the image's).
func checkIndex(ctx context.Context, src ImageServer, ref string) error {
	ctx, cancel := context.WithTimeout(ctx, src.stall())
	defer cancel()
	r, err := newStreamReader(src)
	if err != nil {
		return err
	}
	var index streamIndex
	if err := r.get(ctx, streamIndexPath, MaxIndexSize, &index); err != nil {
		return err
	}
	var files []streamFile
	for name, e := range index.Index {
		// The daemons read only these; so does the check.
		if e.DataType != "image-downloads" || len(e.Products) == 0 {
			continue
		}
		if err := checkItemPath(e.Path); err != nil {
			return r.refuse(streamIndexPath, "index %q: %v", name, err)
		}
		var products streamProducts
		if err := r.get(ctx, e.Path, MaxProductsSize, &products); err != nil {
			return err
		}
		found, err := checkProducts(products, ref)
		if err != nil {
			return r.refuse(e.Path, "%v", err)
		}
		files = append(files, found...)
	}
	for _, f := range files {
		if err := r.checkSize(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// streamFile is a file of the image a pull asks for, as the index gives it.
type streamFile struct {
	path string
	size int64
}

// checkProducts checks every item of every product and returns the
// files of the images ref names: by alias (as the daemons expand them,
// also ALIAS/ARCH), the newest version; by fingerprint prefix, that
// version.
func checkProducts(products streamProducts, ref string) ([]streamFile, error) {
	var files []streamFile
	for id, prod := range products.Products {
		var aliases []string
		for _, a := range strings.Split(prod.Aliases, ",") {
			if a = strings.TrimSpace(a); a != "" {
				aliases = append(aliases, a, a+"/"+prod.Architecture)
			}
		}
		byAlias := ref != "" && slices.Contains(aliases, ref)
		newest := ""
		for name := range prod.Versions {
			newest = max(newest, name)
		}
		for name, v := range prod.Versions {
			byFingerprint := false
			for key, item := range v.Items {
				fps, err := checkItem(item)
				if err != nil {
					return nil, fmt.Errorf("product %q, version %q, item %q: %w", id, name, key, err)
				}
				for _, fp := range fps {
					byFingerprint = byFingerprint || ref != "" && strings.HasPrefix(fp, strings.ToLower(ref))
				}
			}
			if !byFingerprint && !(byAlias && name == newest) {
				continue
			}
			for _, item := range v.Items {
				f := streamFile{path: item.Path, size: item.Size}
				if slices.Contains(containerFileTypes, item.FileType) && !slices.Contains(files, f) {
					files = append(files, f)
				}
			}
		}
	}
	return files, nil
}

// checkItem checks one item and returns the hash and fingerprints it
// gives.
func checkItem(item streamItem) ([]string, error) {
	if err := checkItemPath(item.Path); err != nil {
		return nil, err
	}
	if item.Size < 0 {
		return nil, fmt.Errorf("size %d is not a number of bytes", item.Size)
	}
	if item.SHA256 == "" && slices.Contains(containerFileTypes, item.FileType) {
		return nil, fmt.Errorf("no sha256 for a %s", item.FileType)
	}
	var sums []string
	for _, f := range []struct{ key, value string }{
		{"sha256", item.SHA256},
		{"combined_sha256", item.Combined},
		{"combined_rootxz_sha256", item.CombinedRootxz},
		{"combined_squashfs_sha256", item.CombinedSquashfs},
		{"combined_disk-kvm-img_sha256", item.CombinedDiskKVM},
		{"combined_disk1-img_sha256", item.CombinedDisk},
		{"combined_uefi1-img_sha256", item.CombinedUEFI},
	} {
		if f.value == "" {
			continue
		}
		if !isSHA256(f.value) {
			return nil, fmt.Errorf("%s %q is not a SHA-256 (64 lower-case hexadecimal digits)", f.key, f.value)
		}
		sums = append(sums, f.value)
	}
	return sums, nil
}

// checkItemPath refuses a path that would not stay under the server's
// URL once a daemon joins the two.
func checkItemPath(p string) error {
	if p == "" {
		return errors.New("an empty path")
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is absolute", p)
	}
	for _, r := range p {
		if r < ' ' || r == 0x7f || r == '\\' {
			return fmt.Errorf("path %q has a control character or a backslash", p)
		}
	}
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "..":
			return fmt.Errorf("path %q has a \"..\" element: it leads out of the server's URL", p)
		case "", ".":
			return fmt.Errorf("path %q is not a clean relative path", p)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// streamReader fetches a server's documents as lxkit itself, trusting
// the server's certificate as the daemons do when they are given one.
type streamReader struct {
	src  ImageServer
	base *url.URL
	hc   *http.Client
}

func newStreamReader(src ImageServer) (*streamReader, error) {
	base, err := url.Parse(strings.TrimSuffix(src.URL, "/"))
	if err != nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "image server %q", src.URL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if src.Certificate != "" {
		block, _ := pem.Decode([]byte(src.Certificate))
		var cert *x509.Certificate
		if block != nil {
			cert, err = x509.ParseCertificate(block.Bytes)
		}
		if block == nil || err != nil {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "the certificate of image server %s", src.URL)
		}
		// The given certificate is the root, whatever name the server has:
		// as for the daemons, which check its name against the
		// certificate's own.
		roots := x509.NewCertPool()
		roots.AddCert(cert)
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}}
	}
	return &streamReader{src: src, base: base, hc: &http.Client{Transport: tr}}, nil
}

func (r *streamReader) url(p string) string { return r.base.JoinPath(p).String() }

// refuse is the error for what the server sent at p.
func (r *streamReader) refuse(p, format string, args ...any) error {
	return errdefs.Wrap(errdefs.ErrIntegrity, nil, "image server %s: refused before the daemon pulls: %s: %s", r.src.URL, p, fmt.Sprintf(format, args...))
}

// failed is the error for a request to p that did not complete.
func (r *streamReader) failed(ctx context.Context, p string, err error) error {
	switch {
	case certificateRefused(err):
		return errdefs.Wrap(errdefs.ErrCertificate, err, "image server %s: lxkit could not verify its certificate (for a self-signed server, give its certificate, PEM)", r.src.URL)
	case ctx.Err() != nil:
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "image server %s: %s did not come whole within %s (see ImageServer.Stall): refused before the daemon pulls", r.src.URL, p, r.src.stall())
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, err, "image server %s: lxkit could not read %s to check it before the daemon pulls (if only the daemon reaches the server, skip the check)", r.src.URL, p)
}

// certificateRefused reports an error of Go's TLS client about the
// server's certificate.
func certificateRefused(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// get reads the document at p, at most max bytes, into out.
func (r *streamReader) get(ctx context.Context, p string, max int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(p), nil)
	if err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err, "image server %s", r.src.URL)
	}
	req.Header.Set("User-Agent", "lxkit")
	resp, err := r.hc.Do(req)
	if err != nil {
		return r.failed(ctx, p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		class := errdefs.ErrUnavailable
		if resp.StatusCode == http.StatusNotFound {
			class = errdefs.ErrNotFound
		}
		return errdefs.Wrap(class, nil, "image server %s: %s answered %s", r.src.URL, p, resp.Status)
	}
	if resp.ContentLength > max {
		return r.refuse(p, "%d bytes, more than the %d a document may have", resp.ContentLength, max)
	}
	// The daemons read a document whole (and keep it in memory): so does
	// the check, up to max.
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err == nil && ctx.Err() != nil {
		// Go's transport can end the body of a request cancelled over TLS
		// with io.EOF: the deadline, not the document's end.
		err = ctx.Err()
	}
	if err != nil {
		return r.failed(ctx, p, err)
	}
	if int64(len(body)) > max {
		return r.refuse(p, "it does not end within %d bytes", max)
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), out); err != nil {
		return r.refuse(p, "not a JSON document: %v", err)
	}
	return nil
}

// checkSize asks the server the size of a file (HEAD) and refuses one
// that is not the index's. A server that does not say is let be: the
// daemon checks the file's hash.
func (r *streamReader) checkSize(ctx context.Context, f streamFile) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url(f.path), nil)
	if err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err, "image server %s", r.src.URL)
	}
	req.Header.Set("User-Agent", "lxkit")
	resp, err := r.hc.Do(req)
	if err != nil {
		return r.failed(ctx, f.path, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "image server %s: %s, which its index names, is not there (%s)", r.src.URL, f.path, resp.Status)
	case resp.StatusCode != http.StatusOK || resp.ContentLength < 0:
		return nil
	case resp.ContentLength != f.size:
		return r.refuse(f.path, "the server sends %d bytes, its index says %d", resp.ContentLength, f.size)
	}
	return nil
}

// stall is how long the pull may go without news (see ImageServer.Stall).
func (s ImageServer) stall() time.Duration {
	if s.Stall > 0 {
		return s.Stall
	}
	return DefaultStall
}
