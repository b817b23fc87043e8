package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// What the daemons say when a pull fails (LXD 5.0.2 and Incus 6.0.4,
// through REST as an operation's error, through their command as its
// classified failure), and what lxkit makes of it.
func TestPullError(t *testing.T) {
	const url = "https://127.0.0.1:8999/x"
	op := func(msg string) error {
		return &errdefs.OperationError{ID: "1", Description: "Downloading image", Status: "Failure", Err: msg}
	}
	cli := func(msg string) error {
		return fmt.Errorf("POST /1.0/images: %w", errdefs.Wrap(errdefs.ErrInternal, nil, "%s", msg))
	}
	for _, c := range []struct {
		err   error
		class error
		says  string
	}{
		{op(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "` + url + `/streams/v1/index.json": x509: certificate signed by unknown authority`),
			errdefs.ErrCertificate, "verify the certificate of " + url},
		{cli(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "` + url + `/streams/v1/index.json": tls: failed to verify certificate: x509: certificate signed by unknown authority`),
			errdefs.ErrCertificate, "verify the certificate of " + url},
		{op(`Failed to connect to simple streams server "` + url + `": Invalid remote certificate`), errdefs.ErrCertificate, "use or verify the certificate of " + url},
		{op("Failed getting remote image info: Failed getting image: The requested image couldn't be found"), errdefs.ErrNotFound, "image web not found on " + url},
		{cli("Failed getting remote image info: Failed getting image: The requested image couldn't be found"), errdefs.ErrNotFound, "image web not found"},
		{op("Failed getting remote image info: Image not found"), errdefs.ErrNotFound, "not found"},
		{op(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "https://127.0.0.1:1/streams/v1/index.json": Unable to connect to: 127.0.0.1:1 ([dial tcp 127.0.0.1:1: connect: connection refused])`),
			errdefs.ErrUnavailable, "could not reach " + url},
		{op("Remote image with size 5 exceeds allowed bugdget of 1"), nil, "bugdget"},
		{op("Hash mismatch for " + url + "/images/ab/x.tar.gz: 1d76139f != 109e13ce"), errdefs.ErrIntegrity, "not the one the server's index describes"},
		{cli("Hash mismatch for " + url + "/images/ab/x.tar.gz: 1d76139f != 109e13ce"), errdefs.ErrIntegrity, "refused a file from " + url},
		{op("Image fingerprint doesn't match. Got 27a3a5cb expected de75b387"), errdefs.ErrIntegrity, "do not make the fingerprint"},
		{op("Unable to fetch https://127.0.0.1:35805/etc/passwd: 404 Not Found"), errdefs.ErrNotFound, url + " does not have a file"},
		{cli("Unable to fetch https://127.0.0.1:38435/etc/passwd: resource not found"), errdefs.ErrNotFound, "does not have a file"},
		{&errdefs.OperationError{Status: "Cancelled", Err: "image not found, cancelled"}, errdefs.ErrCanceled, ""},
		{context.Canceled, context.Canceled, ""},
	} {
		got := PullError(c.err, url, "web")
		if c.class == nil {
			if got != c.err {
				t.Errorf("%v: classified as %v", c.err, got)
			}
			continue
		}
		if !errors.Is(got, c.class) || !strings.Contains(got.Error(), c.says) || !strings.Contains(got.Error(), c.err.Error()) {
			t.Errorf("PullError(%v) = %v, want %v saying %q and the daemon's words", c.err, got, c.class, c.says)
		}
	}
	if PullError(nil, url, "web") != nil {
		t.Error("PullError(nil) is not nil")
	}
}

// pullAPI answers a pull as a daemon would, and records what it was asked.
type pullAPI struct {
	post    *api.ImagesPost
	aliases map[string]string // name -> target
	deleted []string
}

func (p *pullAPI) Addr() string { return "fake" }

func (p *pullAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	name, isAlias := strings.CutPrefix(path, "/1.0/images/aliases/")
	switch {
	case method == http.MethodGet && strings.HasPrefix(path, "/1.0/operations/op1/wait"):
		*out.(*api.Operation) = api.Operation{ID: "op1", StatusCode: api.OperationSuccess, Metadata: map[string]any{"fingerprint": "abc123"}}
		return "", nil
	case method == http.MethodGet && isAlias:
		target, ok := p.aliases[name]
		if !ok {
			return "", &errdefs.StatusError{Status: http.StatusNotFound}
		}
		if out != nil {
			*out.(*api.ImageAliasesEntry) = api.ImageAliasesEntry{Name: name, Target: target}
		}
		return "", nil
	case method == http.MethodDelete && isAlias:
		p.deleted = append(p.deleted, name)
		delete(p.aliases, name)
		return "", nil
	case method == http.MethodPost && path == "/1.0/images/aliases":
		a := body.(api.ImageAliasesPost)
		p.aliases[a.Name] = a.Target
		return "", nil
	case method == http.MethodGet && path == "/1.0/images":
		*out.(*[]string) = []string{"/1.0/images/abc123"}
		return "", nil
	}
	return "", fmt.Errorf("unexpected %s %s", method, path)
}

func (p *pullAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	return nil, errors.New("unexpected Do")
}

func (p *pullAPI) Start(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	post := body.(api.ImagesPost)
	p.post = &post
	for _, a := range post.Aliases {
		p.aliases[a.Name] = "abc123"
	}
	return &api.Operation{ID: "op1", StatusCode: api.OperationRunning}, nil
}

func TestCopyFromServerRequest(t *testing.T) {
	p := &pullAPI{aliases: map[string]string{}}
	src := ImageServer{URL: "https://images.example/sub", Certificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", SkipIndexCheck: true}
	fp, err := New(p).Images().CopyFromServer(context.Background(), src, "debian/12", CopyOptions{Aliases: []string{"deb"}, Public: true, Progress: func(Progress) {}})
	if err != nil || fp != "abc123" {
		t.Fatalf("CopyFromServer: %q, %v", fp, err)
	}
	s := p.post.Source
	if s.Type != "image" || s.Mode != "pull" || s.Server != src.URL || s.Protocol != "simplestreams" || s.Alias != "debian/12" || s.Certificate != src.Certificate || !p.post.Public {
		t.Errorf("request %+v, source %+v", p.post, s)
	}
	// One scratch alias in the request (so that Incus adds none of the
	// server's), deleted after; then the aliases asked for.
	if len(p.post.Aliases) != 1 || !strings.HasPrefix(p.post.Aliases[0].Name, "lxkit-pull-") {
		t.Fatalf("request aliases %+v", p.post.Aliases)
	}
	if len(p.deleted) != 1 || p.deleted[0] != p.post.Aliases[0].Name {
		t.Errorf("deleted aliases %v", p.deleted)
	}
	if len(p.aliases) != 1 || p.aliases["deb"] != "abc123" {
		t.Errorf("aliases left %v", p.aliases)
	}

	for _, c := range []struct {
		src  ImageServer
		ref  string
		opts CopyOptions
	}{
		{ImageServer{URL: "images.example"}, "x", CopyOptions{}},
		{ImageServer{URL: "https://user:pw@images.example"}, "x", CopyOptions{}},
		{ImageServer{URL: "https://images.example", Protocol: "ftp"}, "x", CopyOptions{}},
		{ImageServer{URL: "https://images.example", Certificate: "abc"}, "x", CopyOptions{}},
		{ImageServer{URL: "https://images.example"}, "", CopyOptions{}},
		{ImageServer{URL: "https://images.example"}, "a b", CopyOptions{}},
		{ImageServer{URL: "https://images.example"}, "x", CopyOptions{SourceAddr: "https://h"}},
		{ImageServer{URL: "https://images.example"}, "x", CopyOptions{Aliases: []string{"a/b"}}},
	} {
		p := &pullAPI{aliases: map[string]string{}}
		_, err := New(p).Images().CopyFromServer(context.Background(), c.src, c.ref, c.opts)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || p.post != nil {
			t.Errorf("CopyFromServer(%+v, %q, %+v): %v (sent: %v)", c.src, c.ref, c.opts, err, p.post != nil)
		}
	}
}
