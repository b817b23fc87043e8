package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

type imageFiler interface {
	ImportImage(ctx context.Context, files []string, fp string, progress func(int64)) error
}

// fakeImporter serves, on a unix socket in a fresh directory, an image
// upload whose operation fails while the command's event listener never
// hears of it: what LXD 5.0.2 and Incus 6.0.4 do now and then
// (hostapi.OperationEndLost), here every time. It returns the directory.
func fakeImporter(t *testing.T, kind string) string {
	t.Helper()
	const id = "6f1d7a4e-2b0c-4e57-9a83-5c2f0e1b9d31"
	var waited atomic.Bool
	op := func() string {
		status, code, msg := "Running", 103, ""
		if waited.Load() {
			status, code, msg = "Failure", 400, "Unsupported compression"
		}
		return `{"id":"` + id + `","class":"task","description":"Downloading image","status":"` + status + `","status_code":` +
			strconv.Itoa(code) + `,"err":"` + msg + `","location":"none","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	}
	sync200 := func(w http.ResponseWriter, metadata string) {
		_, _ = w.Write([]byte(`{"type":"sync","status":"Success","status_code":200,"metadata":` + metadata + `}`))
	}
	return fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/1.0":
			sync200(w, `{"api_extensions":[],"api_status":"stable","api_version":"1.0","auth":"trusted","environment":{"server":"`+kind+`","server_version":"1","project":"default"}}`)
		case r.Method == http.MethodPost && r.URL.Path == "/1.0/images":
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/` + id + `","metadata":` + op() + `}`))
		case r.URL.Path == "/1.0/events":
			var up websocket.Upgrader
			conn, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			for { // the listener that hears nothing
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		case r.URL.Path == "/1.0/operations/"+id+"/wait":
			waited.Store(true)
			sync200(w, op())
		case r.URL.Path == "/1.0/operations/"+id:
			sync200(w, op())
		case r.URL.Path == "/1.0/operations":
			sync200(w, `{"running":[`+op()+`]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"type":"error","error":"not found","error_code":404}`))
		}
	})
}

// TestImportWhoseEndIsMissed: the command waits forever for the end of an
// import operation that it missed; the driver follows the operation
// itself and returns its failure.
func TestImportWhoseEndIsMissed(t *testing.T) {
	eachFake(t, fakeImporter, func(t *testing.T, d *cli.Driver) {
		file, fp := junkFile(t)
		start := time.Now()
		err := d.API().(imageFiler).ImportImage(testhost.Context(t, 30*time.Second), []string{file}, fp, nil)
		if err == nil || !strings.Contains(err.Error(), "Unsupported compression") {
			t.Fatalf("import: %v, want the operation's failure", err)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("import took %s", took)
		}
	})
}

// TestImportsOfJunkEnd: many imports the real daemons refuse at once, two
// at a time through each one's command; before runImport, one in 50 or
// so waited forever (ci41).
func TestImportsOfJunkEnd(t *testing.T) {
	testhost.Integration(t)
	file, fp := junkFile(t)
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			t.Parallel()
			testhost.Connect(t, th)
			d := cli.Open(local.New(), cli.ForSocket(th.Socket))
			var wg sync.WaitGroup
			var ended, missed atomic.Int32
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 30 {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						err := d.API().(imageFiler).ImportImage(ctx, []string{file}, fp, nil)
						late := ctx.Err()
						cancel()
						if err == nil || late != nil {
							t.Errorf("import of junk: %v", err)
							return
						}
						if strings.HasPrefix(strings.TrimPrefix(err.Error(), "importing image "+fp[:12]+": "), "Downloading image: ") {
							missed.Add(1) // the operation's own end: the command missed it
						}
						ended.Add(1)
					}
				}()
			}
			wg.Wait()
			t.Logf("%s: %d imports of junk refused, %d of them after the command missed the operation's end", th.Name, ended.Load(), missed.Load())
		})
	}
}

func junkFile(t *testing.T) (path, fp string) {
	path = filepath.Join(t.TempDir(), "junk.tar.gz")
	data := []byte("not an image")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return path, hex.EncodeToString(sum[:])
}
