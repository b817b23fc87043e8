package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"

	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/yamlfile"
	"github.com/lxkit/lxkit/transport"
)

// CloudConfigFunc reads an instance's #cloud-config files and returns
// what applies them to the running container, so that a bad file is
// reported before anything is made.
type CloudConfigFunc func(files []string) (apply func(ctx context.Context, tr transport.Transport, opts cloudconfig.ApplyOptions) error, err error)

// cloudConfigApply is what a CloudConfigFunc returns.
type cloudConfigApply = func(context.Context, transport.Transport, cloudconfig.ApplyOptions) error

// CloudConfig reads and merges cloud-config files with package
// cloudconfig, which applies them through the container's transport
// (no cloud-init needed in the container).
func CloudConfig(files []string) (func(context.Context, transport.Transport, cloudconfig.ApplyOptions) error, error) {
	var cfgs []*cloudconfig.Config
	for _, f := range files {
		data, err := readSmall(f)
		if err != nil {
			return nil, err
		}
		cfg, err := cloudconfig.Parse(f, data)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
		// Each file holds MaxContent at most: checking after each keeps
		// what many files hold bounded too.
		if err := cloudconfig.Merge(cfgs...).Validate(); err != nil {
			return nil, err
		}
	}
	merged := cloudconfig.Merge(cfgs...)
	if err := merged.Validate(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, tr transport.Transport, opts cloudconfig.ApplyOptions) error {
		return cloudconfig.Apply(ctx, tr, merged, opts)
	}, nil
}

// UserDataKey and UserDataKeyOld are the instance configuration keys that
// hand user-data to the image's cloud-init (cloud-config-mode: native):
// the first where the daemon has the API extension cloud_init (LXD 5.0.2,
// Incus 6.0.4), the second on older daemons.
const (
	UserDataKey    = "cloud-init.user-data"
	UserDataKeyOld = "user.user-data"
)

// nativeMergeType is how cloud-init merges the parts of the user-data
// NativeUserData makes of several files, as cloudconfig.Merge does: lists
// appended, a later file's keys winning, mappings merged key by key.
const nativeMergeType = "list(append)+dict(recurse_array)+str()"

// NativeUserData reads cloud-config files for the image's own cloud-init
// (cloud-config-mode: native) and returns its user-data. Each file is a
// #cloud-config file (checked to be YAML, with the file and line of an
// error; cloud-init checks its modules) or a script (#!). One file is
// handed on as written; several become one MIME multipart document, in
// order, whose cloud-config parts cloud-init merges as Merge does. The
// same files always make the same user-data.
func NativeUserData(files []string) (string, error) {
	type part struct{ kind, data string }
	var parts []part
	for _, f := range files {
		data, err := readSmall(f)
		if err != nil {
			return "", err
		}
		switch {
		case bytes.HasPrefix(data, []byte("#cloud-config")):
			if _, err := yamlfile.Parse(f, data); err != nil {
				return "", err
			}
			parts = append(parts, part{"text/cloud-config", string(data)})
		case bytes.HasPrefix(data, []byte("#!")):
			parts = append(parts, part{"text/x-shellscript", string(data)})
		default:
			return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:1: not a #cloud-config file or a #! script", f)
		}
	}
	switch len(parts) {
	case 0:
		return "", nil
	case 1:
		return parts[0].data, nil
	}
	// The boundary comes from the content, so that the same files make
	// the same user-data (and cannot hold the boundary).
	sum := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(sum, "%s\x00%d\x00%s", p.kind, len(p.data), p.data)
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary("lxkit-" + hex.EncodeToString(sum.Sum(nil))[:40]); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\nMIME-Version: 1.0\r\n\r\n", w.Boundary())
	for i, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.kind+`; charset="utf-8"`)
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("part-%03d", i+1)))
		h.Set("Merge-Type", nativeMergeType)
		pw, err := w.CreatePart(h)
		if err != nil {
			return "", err
		}
		if _, err := io.WriteString(pw, p.data); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}
