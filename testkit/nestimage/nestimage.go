// Package nestimage knows lxkit's nested test image (Debian with LXD
// inside, built by `make nested-image`): its alias, its cached tarball,
// how to wait for the LXD inside, and how to give that LXD the image too
// so that containers nest one level deeper.
package nestimage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lxkit/lxkit/transport"
)

// Alias is the image's alias on the hosts `make nested-image` prepares.
const Alias = "nestimage"

// Config is what a container of the image needs.
var Config = map[string]string{"security.nesting": "true"}

// Tarball returns the newest cached image tarball.
func Tarball() (string, error) {
	files, _ := filepath.Glob("/var/cache/lxkit/nested-bookworm-lxd-v*.tar.zst")
	if len(files) == 0 {
		return "", errors.New("no nested image in /var/cache/lxkit (run `make nested-image`)")
	}
	sort.Strings(files)
	return files[len(files)-1], nil
}

// WaitReady waits until the LXD inside a container of the image is ready.
func WaitReady(ctx context.Context, tr transport.Transport) error {
	for {
		out, err := transport.Run(ctx, tr, "/bin/sh", "-c",
			"if [ -e /run/lxkit-ready ]; then echo ready; elif [ -e /run/lxkit-failed ]; then cat /run/lxkit-failed; fi")
		switch {
		case err == nil && out == "ready\n":
			return nil
		case err == nil && out != "":
			return errors.New(strings.TrimSpace(out))
		case ctx.Err() != nil:
			return ctx.Err()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Import gives the LXD inside a container of the image the image itself
// (from tarball), so that it can run nested containers of its own.
func Import(ctx context.Context, tr transport.Transport, tarball string) error {
	drop := "/var/lib/lxkit/images/" + Alias + ".tar.zst"
	if err := transport.UploadFile(ctx, tr, tarball, drop+".part", transport.FileOptions{}); err != nil {
		return err
	}
	_, err := transport.Run(ctx, tr, "sh", "-c", `mv "$1.part" "$1" && lxkit-nested-up`, "sh", drop)
	if err != nil {
		return fmt.Errorf("importing the nested image: %w", err)
	}
	return nil
}
