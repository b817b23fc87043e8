package restapi

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/internal/accounts"
	"github.com/lxkit/lxkit/internal/localtree"
	"github.com/lxkit/lxkit/transport"
)

// UploadFolder copies a local folder into remoteDir as one tar stream
// through exec, or per file through the files API when the container has
// no tar. Files belong to the transport's user.
func (t *Transport) UploadFolder(ctx context.Context, local, remoteDir string) error {
	id, err := t.identity(ctx, "", "")
	if err != nil {
		return err
	}
	err = transport.UploadFolderTar(ctx, t, local, remoteDir, transport.FolderOptions{UID: id.UID, GID: id.GID})
	if errors.Is(err, transport.ErrNoTar) {
		return t.uploadPerFile(ctx, local, remoteDir, id)
	}
	return err
}

// DownloadFolder copies a folder of the container into localDir, as one tar
// stream or, without tar in the container, per file.
func (t *Transport) DownloadFolder(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	sum, err := transport.DownloadFolderTar(ctx, t, remote, localDir)
	if errors.Is(err, transport.ErrNoTar) {
		return t.downloadPerFile(ctx, remote, localDir)
	}
	return sum, err
}

func (t *Transport) uploadPerFile(ctx context.Context, local, remoteDir string, id accounts.Identity) error {
	return localtree.Walk(local, remoteDir, func(e localtree.Entry) error {
		put := client.FilePut{Mode: e.Mode, UID: id.UID, GID: id.GID}
		switch e.Kind {
		case localtree.Dir:
			put.Type = client.FileTypeDirectory
			return t.c.PutFile(ctx, t.name, e.Remote, nil, put)
		case localtree.Symlink:
			put.Type, put.Mode = client.FileTypeSymlink, 0
			return t.c.PutFile(ctx, t.name, e.Remote, strings.NewReader(e.Target), put)
		}
		f, err := os.Open(e.Local)
		if err != nil {
			return err
		}
		defer f.Close()
		return t.c.PutFile(ctx, t.name, e.Remote, f, put)
	})
}

// downloadPerFile walks a folder through the files API and feeds it, as a
// tar stream, to the same safe extractor the tar path uses.
func (t *Transport) downloadPerFile(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	remote = path.Clean(remote)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := t.walk(ctx, tw, remote, path.Base(remote))
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	sum, err := transport.ExtractFolder(pr, localDir)
	pr.CloseWithError(errors.New("extraction stopped"))
	return sum, err
}

func (t *Transport) walk(ctx context.Context, tw *tar.Writer, p, name string) error {
	rc, info, err := t.c.GetFile(ctx, t.name, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	hdr := &tar.Header{Name: name, Mode: int64(info.Mode.Perm()), Uid: info.UID, Gid: info.GID}
	switch info.Type {
	case client.FileTypeDirectory:
		var listing struct {
			Metadata []string `json:"metadata"`
		}
		if err := json.NewDecoder(rc).Decode(&listing); err != nil {
			return fmt.Errorf("listing %s: %w", p, err)
		}
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		for _, child := range listing.Metadata {
			if child == "" || child == "." || child == ".." || strings.Contains(child, "/") {
				return fmt.Errorf("listing %s: bad entry %q", p, child)
			}
			if err := t.walk(ctx, tw, path.Join(p, child), name+"/"+child); err != nil {
				return err
			}
		}
		return nil
	case client.FileTypeSymlink:
		target, err := io.ReadAll(io.LimitReader(rc, 4096))
		if err != nil {
			return err
		}
		// The files API answers with the resolved, absolute target; readlink
		// keeps a relative link relative where the container has it.
		if out, err := transport.Run(ctx, t, "readlink", p); err == nil {
			target = []byte(strings.TrimSuffix(out, "\n"))
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(target)
		return tw.WriteHeader(hdr)
	default:
		// Spool to learn the size: the files API does not always send one.
		tmp, err := os.CreateTemp("", "lxkit-pull-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		n, err := io.Copy(tmp, rc)
		if err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, n
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, tmp)
		return err
	}
}
