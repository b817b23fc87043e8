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
