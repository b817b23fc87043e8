package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestFindImage: Find looks on the host first, then in each source in
// order, passing over one it cannot read: it copies an image from a
// simplestreams server (by alias) and from the other daemon over HTTPS (by
// properties), says where it came from, and finds it on the host the next
// time; an image nowhere is ErrNotFound, or ErrUnavailable when a source
// could not be read.
func TestFindImage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	dir := t.TempDir()
	hosts := testhost.Hosts()
	files := map[string]testhost.ImageFiles{}
	for _, th := range hosts {
		files[th.Name] = testhost.NewImageFiles(t, dir, th.Name+"-find", false)
	}
	srv := testhost.ServeImages(t, dir, imageserver.Options{})
	served := host.ImageSource{Name: "served", Server: &host.ImageServer{
		URL: srv.URL, Protocol: host.ProtocolSimpleStreams, Certificate: srv.Certificate}}
	broken := host.ImageSource{Name: "broken", Server: &host.ImageServer{
		URL: "https://127.0.0.1:1", Protocol: host.ProtocolSimpleStreams, Stall: 5 * time.Second}}
	for i, th := range hosts {
		t.Run(th.Name, func(t *testing.T) {
			ctx := testhost.Context(t, 4*time.Minute)
			h := host.New(testhost.Connect(t, th))
			otherHost := hosts[1-i]
			testhost.ListenHTTPS(t, otherHost)
			other := host.New(testhost.Connect(t, otherHost))
			img := files[th.Name]
			alias := testhost.Name("found")
			t.Cleanup(func() {
				_ = h.Images().Delete(context.Background(), img.Fingerprint)
				_ = other.Images().Delete(context.Background(), img.Fingerprint)
			})

			found, err := h.Images().Find(ctx, host.ImageQuery{Alias: th.Name + "-find"},
				[]host.ImageSource{broken, served}, host.FindOptions{Aliases: []string{alias}})
			if err != nil || found.Fingerprint != img.Fingerprint || found.Source != "served" {
				t.Fatalf("Find from the server: %+v, %v; want %.12s from served", found, err, img.Fingerprint)
			}
			if got, err := h.Images().Resolve(ctx, alias); err != nil || got != img.Fingerprint {
				t.Errorf("alias %s: %q, %v", alias, got, err)
			}
			// On the host now: found there.
			found, err = h.Images().Find(ctx, host.ImageQuery{Alias: alias}, []host.ImageSource{broken}, host.FindOptions{})
			if err != nil || found.Fingerprint != img.Fingerprint || found.Source != "" {
				t.Fatalf("Find on the host: %+v, %v", found, err)
			}

			// From the other daemon, which has it (imported: with the
			// properties of its metadata), over HTTPS, by properties.
			if _, err := other.Images().Import(ctx, img.Files, host.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := h.Images().Delete(ctx, img.Fingerprint); err != nil {
				t.Fatal(err)
			}
			byProps := host.ImageQuery{Properties: map[string]string{"lxkit.test": img.Unique}}
			fromOther := host.ImageSource{Name: "other", Host: other}
			found, err = h.Images().Find(ctx, byProps, []host.ImageSource{broken, fromOther}, host.FindOptions{})
			if err != nil || found.Fingerprint != img.Fingerprint || found.Source != "other" {
				t.Fatalf("Find from the other daemon: %+v, %v", found, err)
			}

			missing := host.ImageQuery{Alias: testhost.Name("nowhere")}
			_, err = h.Images().Find(ctx, missing, []host.ImageSource{served, fromOther}, host.FindOptions{})
			mustClass(t, "an image nowhere", err, errdefs.ErrNotFound, "served: ", "other: ")
			_, err = h.Images().Find(ctx, missing, []host.ImageSource{broken, served}, host.FindOptions{SkipLocal: true})
			if !errors.Is(err, errdefs.ErrUnavailable) {
				t.Errorf("an image nowhere, one source unreadable: %v, want ErrUnavailable", err)
			}
		})
	}
}
