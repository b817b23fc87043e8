package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestSFTPMissingInstance checks that a refused upgrade is both ErrNoSFTP
// (so that callers fall back) and the class of the daemon's answer.
func TestSFTPMissingInstance(t *testing.T) {
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		_, err := c.SFTP(testhost.Context(t, time.Minute), "lxkit-no-such-instance", client.SFTPOptions{})
		if !errors.Is(err, client.ErrNoSFTP) || !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("SFTP to a missing instance: %v; want ErrNoSFTP and ErrNotFound", err)
		}
	})
}

// TestSFTPRoundTrip writes and reads back a file in sessions with either
// packet size. The daemons' servers answer at most 32 KiB a read: a
// session with larger packets must still read whole files right.
func TestSFTPRoundTrip(t *testing.T) {
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		ctx := testhost.Context(t, 2*time.Minute)
		name := testhost.Name("sftp")
		req := api.InstancesPost{Name: name, Source: api.InstanceSource{Type: "image", Alias: testhost.Image}}
		if _, err := c.Do(ctx, http.MethodPost, "/1.0/instances", req, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = c.Do(context.Background(), http.MethodDelete, "/1.0/instances/"+name, nil, "") })
		data := make([]byte, 3<<20+4321)
		_, _ = rand.Read(data)
		for _, packet := range []int{0, 128 << 10} {
			s, err := c.SFTP(ctx, name, client.SFTPOptions{WritePacket: packet})
			if err != nil {
				t.Fatal(err)
			}
			put := client.FilePut{Mode: 0o640, UID: 1000, GID: 1001}
			if err := s.PutFile("/root/blob", bytes.NewReader(data), put); err != nil {
				t.Fatalf("packet %d: put: %v", packet, err)
			}
			rc, info, err := s.Open("/root/blob")
			if err != nil {
				t.Fatalf("packet %d: open: %v", packet, err)
			}
			var back bytes.Buffer
			if _, err := io.Copy(&back, rc); err != nil || !bytes.Equal(back.Bytes(), data) {
				t.Errorf("packet %d: read back %d bytes, differ (%v)", packet, back.Len(), err)
			}
			rc.Close()
			if info.Type != client.FileTypeFile || info.Size != int64(len(data)) || info.Mode != 0o640 || info.UID != 1000 || info.GID != 1001 {
				t.Errorf("packet %d: info %+v", packet, info)
			}
			if _, _, err := s.Open("/root/missing"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("packet %d: open missing: %v; want ErrNotFound", packet, err)
			}
			s.Close()
			_, _ = c.Query(ctx, http.MethodDelete, "/1.0/instances/"+name+"/files?path=/root/blob", nil, nil)
		}
	})
}
