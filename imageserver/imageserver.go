// Package imageserver serves a directory of image files as a simplestreams
// image server: the protocol that LXD and Incus pull public images with
// (images.linuxcontainers.org speaks it). A daemon given the server's URL,
// the protocol "simplestreams" and, for a self-signed certificate, that
// certificate, launches containers from these images or copies them into
// its own store.
//
// The directory holds images as `lxc image export` (or `lxkit image
// export`) writes them: a unified tarball (FINGERPRINT.tar.xz, any name
// will do), or a split image's metadata tarball meta-NAME.EXT next to its
// rootfs NAME.EXT (a tarball, squashfs, or qcow2 for a virtual machine).
// New reads each file's metadata.yaml and hashes it once, then serves:
//
//	streams/v1/index.json   the index, naming images.json
//	streams/v1/images.json  the products: one per image, with its aliases
//	images/FINGERPRINT/NAME every image file, by its own name
//
// and nothing else: a request names an indexed file, never a path in the
// directory, and files are opened through an os.Root, so a symlink that
// points out of the directory is not followed. A file that changed since
// New hashed it is not served (the daemons would refuse its checksum).
//
// The fingerprint the server announces for an image is the one the daemons
// compute when they import the same files: the SHA-256 of the unified
// tarball, or of the metadata file followed by the rootfs.
//
// Two habits of the daemons' clients matter to whoever runs a server: they
// keep a server's index.json and images.json for an hour, by URL, so a
// server restarted with other files should be given another URL (another
// port, or a path prefix with http.StripPrefix); and they ask for each
// file over plain HTTP on the HTTPS port first, which the TLS listener
// refuses, before they ask over HTTPS.
package imageserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/imagefile"
)

// Image is one image a Server offers.
type Image struct {
	Fingerprint string `json:"fingerprint"`
	// Files are the image's file names in the directory: the unified
	// tarball, or the metadata file then the rootfs.
	Files        []string          `json:"files"`
	Aliases      []string          `json:"aliases"`
	Architecture string            `json:"architecture"`
	Type         string            `json:"type"` // "container" or "virtual-machine"
	Properties   map[string]string `json:"properties"`
	CreatedAt    time.Time         `json:"created_at"`
	Size         int64             `json:"size"`
}

// Split reports whether the image is split into metadata and rootfs.
func (im Image) Split() bool { return len(im.Files) == 2 }

// Options tunes New. The zero value gives each image the alias of its file
// name (see FileAliases) and logs nothing.
type Options struct {
	// Aliases maps alias names to the images they name: a file name in
	// the directory (either file of a split image), or a fingerprint or a
	// unique prefix of one. An alias that names nothing fails New.
	Aliases map[string]string
	// NoFileAliases turns off the aliases made from file names: an image
	// in debian-12.tar.xz is otherwise offered as "debian-12" too. Files
	// named by their fingerprint, as exported images are, get none.
	NoFileAliases bool
	// Logger, if set, logs each request (at info level) and files that
	// changed since they were indexed (at warn level).
	Logger *slog.Logger
}

// Server serves the images of one directory. It is an http.Handler; use
// ServeTLS, or any HTTPS server, to serve it. Close releases the
// directory.
type Server struct {
	root     *os.Root
	dir      string
	images   []Image
	problems []error
	files    map[string]servedFile // by URL path
	sums     map[string]string     // SHA-256 by file name
	formats  map[string]imagefile.Format
	index    []byte
	products []byte
	log      *slog.Logger
}

// servedFile is a file as New indexed it.
type servedFile struct {
	name    string
	size    int64
	modTime time.Time
}

// The URL paths of the two JSON documents.
const (
	IndexPath    = "/streams/v1/index.json"
	ProductsPath = "/streams/v1/images.json"
)

// New indexes the images in dir (not its subdirectories; names starting
// with a dot are ignored). Files that are not images, or that cannot be
// read, are left out and listed by Problems; so are file aliases that two
// images would share. It fails when dir cannot be read or when an alias of
// opts names no image.
func New(ctx context.Context, dir string, opts Options) (*Server, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{root: root, dir: dir, files: map[string]servedFile{},
		sums: map[string]string{}, formats: map[string]imagefile.Format{}, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.scan(ctx, opts); err != nil {
		root.Close()
		return nil, err
	}
	if s.index, s.products, err = s.documents(); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the directory.
func (s *Server) Close() error { return s.root.Close() }

// Images returns the images served, by fingerprint.
func (s *Server) Images() []Image { return slices.Clone(s.images) }

// Problems returns why files were left out and file aliases not given.
func (s *Server) Problems() []error { return slices.Clone(s.problems) }

// candidate is one image's files before they are read.
type candidate struct{ files []string }

// scan reads the directory: its regular files, paired into candidates,
// read into images, named by their aliases.
func (s *Server) scan(ctx context.Context, opts Options) error {
	names, regular, err := s.regularFiles()
	if err != nil {
		return err
	}
	byFile, fileAlias, err := s.readImages(ctx, s.candidates(names), regular, opts)
	if err != nil {
		return err
	}
	if err := s.nameImages(opts, byFile, fileAlias, regular); err != nil {
		return err
	}
	sort.Slice(s.images, func(i, j int) bool { return s.images[i].Fingerprint < s.images[j].Fingerprint })
	return nil
}

// regularFiles lists the regular files of the directory (a symlink that
// stays inside counts as its target), sorted; others are problems.
func (s *Server) regularFiles() ([]string, map[string]fs.FileInfo, error) {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return nil, nil, err
	}
	regular := map[string]fs.FileInfo{}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		// Stat through the root follows a symlink only while it stays
		// inside the directory.
		fi, err := s.root.Stat(name)
		if err != nil {
			s.problem(fmt.Errorf("%s: %w", name, unescaped(err)))
			continue
		}
		if !fi.Mode().IsRegular() {
			if !fi.IsDir() {
				s.problem(fmt.Errorf("%s: not a regular file", name))
			}
			continue
		}
		regular[name] = fi
		names = append(names, name)
	}
	sort.Strings(names)
	return names, regular, nil
}

// candidates pairs meta-NAME.EXT with NAME.EXT (a split image); the other
// files are unified candidates.
func (s *Server) candidates(names []string) []candidate {
	byStem := map[string][]string{}
	for _, n := range names {
		if stem, meta := imagefile.Stem(n); !meta {
			byStem[stem] = append(byStem[stem], n)
		}
	}
	paired := map[string]bool{}
	var cands []candidate
	for _, n := range names {
		stem, meta := imagefile.Stem(n)
		if !meta {
			continue
		}
		switch roots := byStem[stem]; len(roots) {
		case 0:
			s.problem(fmt.Errorf("%s: a split image's metadata without its rootfs (%s.*)", n, stem))
		case 1:
			cands = append(cands, candidate{files: []string{n, roots[0]}})
			paired[roots[0]] = true
		default:
			s.problem(fmt.Errorf("%s: more than one rootfs could go with it: %s", n, strings.Join(roots, ", ")))
			for _, r := range roots {
				paired[r] = true
			}
		}
		paired[n] = true
	}
	for _, n := range names {
		if !paired[n] {
			cands = append(cands, candidate{files: []string{n}})
		}
	}
	return cands
}

// readImages reads the candidates into s.images (one per fingerprint) and
// s.files, and returns which image each file is and, unless
// opts.NoFileAliases, which images each file name would alias.
func (s *Server) readImages(ctx context.Context, cands []candidate, regular map[string]fs.FileInfo, opts Options) (byFile map[string]int, fileAlias map[string][]int, err error) {
	byFP := map[string]int{}
	byFile = map[string]int{}      // file -> image, duplicates included
	fileAlias = map[string][]int{} // alias -> images
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		img, err := s.read(ctx, c, regular)
		if err != nil {
			s.problem(err)
			continue
		}
		i, seen := byFP[img.Fingerprint]
		if !seen {
			i = len(s.images)
			byFP[img.Fingerprint] = i
			s.images = append(s.images, *img)
			for j, f := range img.Files {
				s.files[itemPath(*img, j)] = servedFile{name: f, size: regular[f].Size(), modTime: regular[f].ModTime()}
			}
		}
		for _, f := range c.files {
			byFile[f] = i
		}
		// A second copy (or a symlink) of an image lends its name as an
		// alias, and nothing else.
		if !opts.NoFileAliases {
			if a := fileAliasOf(c.files[len(c.files)-1]); a != "" && !slices.Contains(fileAlias[a], i) {
				fileAlias[a] = append(fileAlias[a], i)
			}
		}
	}
	return byFile, fileAlias, nil
}

// nameImages gives the images their aliases: opts.Aliases, then the file
// names' where only one image has them.
func (s *Server) nameImages(opts Options, byFile map[string]int, fileAlias map[string][]int, regular map[string]fs.FileInfo) error {
	aliases := map[string]int{}
	for a, target := range opts.Aliases {
		if err := ValidateAlias(a); err != nil {
			return err
		}
		i, err := s.lookup(target, byFile, regular)
		if err != nil {
			return fmt.Errorf("alias %s: %w", a, err)
		}
		aliases[a] = i
	}
	for a, imgs := range fileAlias {
		if _, explicit := aliases[a]; explicit {
			continue
		}
		if len(imgs) > 1 {
			var fps []string
			for _, i := range imgs {
				fps = append(fps, s.images[i].Fingerprint[:12])
			}
			s.problem(fmt.Errorf("alias %s: the file names of %d images give it (%s): none has it", a, len(imgs), strings.Join(fps, ", ")))
			continue
		}
		aliases[a] = imgs[0]
	}
	for a, i := range aliases {
		s.images[i].Aliases = append(s.images[i].Aliases, a)
	}
	for i := range s.images {
		sort.Strings(s.images[i].Aliases)
	}
	return nil
}

func (s *Server) problem(err error) { s.problems = append(s.problems, err) }

// unescaped explains os.Root's refusal of a symlink that leads out.
func unescaped(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return errors.New("a symlink that leads out of the directory: not served")
	}
	return err
}

// fileAliasOf is the alias a file's name gives its image: its stem,
// unless that is a fingerprint (or not a valid alias).
func fileAliasOf(name string) string {
	stem, _ := imagefile.Stem(name)
	if looksLikeFingerprint(stem) || ValidateAlias(stem) != nil {
		return ""
	}
	return stem
}

func looksLikeFingerprint(s string) bool {
	if len(s) < 12 {
		return false
	}
	_, err := hex.DecodeString(s[:len(s)&^1])
	return err == nil
}

// lookup finds the image an alias of Options names.
func (s *Server) lookup(target string, byFile map[string]int, regular map[string]fs.FileInfo) (int, error) {
	if i, ok := byFile[target]; ok {
		return i, nil
	}
	if _, ok := regular[target]; ok {
		return 0, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not served (see the problems with the directory's files)", target)
	}
	found := -1
	for i, img := range s.images {
		if len(target) >= 4 && strings.HasPrefix(img.Fingerprint, strings.ToLower(target)) {
			if found >= 0 {
				return 0, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s matches more than one fingerprint", target)
			}
			found = i
		}
	}
	if found < 0 {
		return 0, errdefs.Wrap(errdefs.ErrNotFound, nil, "no image file or fingerprint %s in the directory", target)
	}
	return found, nil
}

// ValidateAlias reports whether name can be an alias on the server: not
// empty, at most 255 bytes, with no comma (the protocol's list separator),
// no white space or control character.
func ValidateAlias(name string) error {
	bad := func(why string) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid alias %q: %s", name, why)
	}
	switch {
	case name == "":
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid alias: empty")
	case len(name) > 255:
		return bad("longer than 255 bytes")
	case strings.Contains(name, ","):
		return bad("it has a comma")
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029' {
			return bad("it has white space or a control character")
		}
	}
	return nil
}

// read hashes a candidate's files and reads its metadata.
func (s *Server) read(ctx context.Context, c candidate, regular map[string]fs.FileInfo) (*Image, error) {
	img := &Image{Files: c.files, Type: "container"}
	combined := sha256.New()
	var meta *imagefile.Metadata
	for i, name := range c.files {
		f, err := s.open(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, unescaped(err))
		}
		format, err := imagefile.DetectReader(f)
		if err == nil && i == 0 {
			meta, err = imagefile.ReadMetadataFrom(ctx, f, name)
		}
		if err == nil && i == 1 && !format.IsRootfs() {
			err = errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not a rootfs: %s", name, describe(format))
		}
		if err == nil && i == 1 && format == imagefile.Qcow2 {
			img.Type = "virtual-machine"
		}
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		own := sha256.New()
		if err == nil {
			err = hashInto(ctx, io.MultiWriter(combined, own), f)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
		s.sums[name] = hex.EncodeToString(own.Sum(nil))
		s.formats[name] = format
		img.Size += regular[name].Size()
	}
	if len(c.files) == 1 && !meta.HasRootfs {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"%s: an image's metadata without rootfs/: name it meta-NAME.EXT next to its rootfs NAME.EXT", c.files[0])
	}
	img.Fingerprint = hex.EncodeToString(combined.Sum(nil))
	img.Architecture = meta.Architecture
	img.Properties = meta.Properties
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	img.CreatedAt = meta.Created()
	if img.CreatedAt.IsZero() {
		img.CreatedAt = regular[c.files[0]].ModTime().UTC()
	}
	return img, nil
}

func describe(f imagefile.Format) string {
	if f == imagefile.Unknown {
		return "neither a tarball, squashfs nor qcow2"
	}
	return string(f)
}

// hashInto copies r into h, stopping when ctx ends.
func hashInto(ctx context.Context, h io.Writer, r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// open opens a regular file of the directory for reading. It does not
// wait on a FIFO put in a file's place.
func (s *Server) open(name string) (*os.File, error) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = errors.New("not a regular file")
		}
		return nil, err
	}
	return f, nil
}

// itemPath is where the i-th file of img is served: under its own name
// when that is plain, else under its role (image, meta or rootfs) and
// extension, so that no URL needs escaping.
func itemPath(img Image, i int) string {
	name := img.Files[i]
	plain := name[0] != '.'
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r)) {
			plain = false
		}
	}
	if !plain {
		role := "image"
		if img.Split() {
			role = []string{"meta", "rootfs"}[i]
		}
		stem, _ := imagefile.Stem(name)
		name = role + strings.Map(func(r rune) rune {
			if strings.ContainsRune("._+-", r) || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, strings.TrimPrefix(strings.TrimPrefix(name, "meta-"), stem))
	}
	return "/images/" + img.Fingerprint + "/" + name
}

// ServeHTTP answers GET and HEAD for the index, the products and the
// indexed files; anything else is 404 (405 for other methods).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.bytes, "from", r.RemoteAddr)
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case IndexPath:
		s.serveJSON(rec, r, s.index)
		return
	case ProductsPath:
		s.serveJSON(rec, r, s.products)
		return
	}
	sf, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(rec, r)
		return
	}
	f, err := s.open(sf.name)
	if err != nil {
		s.log.Warn("indexed file unreadable", "file", sf.name, "err", err)
		http.NotFound(rec, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() != sf.size || !fi.ModTime().Equal(sf.modTime) {
		s.log.Warn("file changed since it was indexed: not served (restart the server to index it again)", "file", sf.name)
		http.Error(rec, "the file changed since the server indexed it", http.StatusNotFound)
		return
	}
	rec.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(rec, r, path.Base(sf.name), sf.modTime, f)
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, doc []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(doc)))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps http.ServeContent's sendfile path.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// ServeTLS serves s over HTTPS on l with cert until ctx ends, then shuts
// down, letting requests in flight finish for a few seconds. It returns nil
// after a shutdown that ctx asked for.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener, cert tls.Certificate) error {
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// The daemons try each file over plain HTTP on the HTTPS port
		// first; the refused handshakes are no news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}
