package transport

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/testkit/dirsnap"
)

// cutShort is a transport whose downloads break halfway, as when the
// daemon dies or the connection drops.
type cutShort struct{ Transport }

var errLost = errors.New("connection to the daemon lost")

func (cutShort) ReadFile(ctx context.Context, p string) (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(strings.NewReader("first half"), errReader{})), nil
}

func (cutShort) DownloadFolder(ctx context.Context, remote, localDir string) (FolderSummary, error) {
	dir := filepath.Join(localDir, "tree")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return FolderSummary{}, err
	}
	return FolderSummary{Files: 1}, errors.Join(os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644), errLost)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errLost }

func TestDownloadCutShortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if err := DownloadFile(ctx, cutShort{}, "/big", filepath.Join(dir, "big")); !errors.Is(err, errLost) {
		t.Fatalf("DownloadFile: %v, want the lost connection", err)
	}
	if names := dirsnap.Names(t, dir); len(names) != 0 {
		t.Errorf("a download cut short left %v", names)
	}
	// An older file of that name stays as it was.
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := DownloadFile(ctx, cutShort{}, "/old", old); !errors.Is(err, errLost) {
		t.Fatalf("DownloadFile: %v", err)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != "old content" {
		t.Errorf("the older file became %q, %v", b, err)
	}
	if names := dirsnap.Names(t, dir); len(names) != 1 {
		t.Errorf("left %v", names)
	}

	dest := filepath.Join(dir, "dest")
	if _, err := DownloadFolder(ctx, cutShort{}, "/srv/tree", dest); !errors.Is(err, errLost) {
		t.Fatalf("DownloadFolder: %v, want the lost connection", err)
	}
	if names := dirsnap.Names(t, dest); len(names) != 0 {
		t.Errorf("a folder download cut short left %v", names)
	}
}
