package host

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
)

// ServerImages lists the images of a simplestreams server as a daemon
// sees them: the newest version of each product, a container image and,
// where the version has a VM disk, a virtual machine's, with their
// aliases and properties (os, release, variant, architecture,
// description). lxkit reads the server itself, within src.Stall and the
// documents' size bounds.
func ServerImages(ctx context.Context, src ImageServer) ([]api.Image, error) {
	src, err := src.check()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, src.stall())
	defer cancel()
	r, err := newStreamReader(src)
	if err != nil {
		return nil, err
	}
	var index streamIndex
	if err := r.get(ctx, streamIndexPath, MaxIndexSize, &index); err != nil {
		return nil, err
	}
	var out []api.Image
	for _, e := range index.Index {
		if e.DataType != "image-downloads" || len(e.Products) == 0 {
			continue
		}
		if err := checkItemPath(e.Path); err != nil {
			return nil, r.refuse(streamIndexPath, "%v", err)
		}
		var products streamProducts
		if err := r.get(ctx, e.Path, MaxProductsSize, &products); err != nil {
			return nil, err
		}
		for _, p := range products.Products {
			out = append(out, productImages(p)...)
		}
	}
	slices.SortFunc(out, func(a, b api.Image) int {
		return strings.Compare(a.Properties["description"]+a.Type, b.Properties["description"]+b.Type)
	})
	return out, nil
}

// productImages is the newest version of a product, as images.
func productImages(p streamProduct) []api.Image {
	newest := ""
	for name := range p.Versions {
		newest = max(newest, name)
	}
	v, ok := p.Versions[newest]
	if !ok {
		return nil
	}
	var aliases []api.ImageAlias
	for _, a := range strings.Split(p.Aliases, ",") {
		if a = strings.TrimSpace(a); a != "" {
			aliases = append(aliases, api.ImageAlias{Name: a})
		}
	}
	props := map[string]string{"os": p.OS, "release": p.Release, "architecture": p.Architecture,
		"description": strings.TrimSpace(p.OS + " " + p.ReleaseTitle + " " + p.Architecture + " (" + newest + ")")}
	if p.Variant != "" {
		props["variant"] = p.Variant
	}
	created := versionTime(newest)
	var out []api.Image
	add := func(typ, fp string, size int64) {
		if fp == "" {
			return
		}
		out = append(out, api.Image{Fingerprint: fp, Type: typ, Architecture: p.Architecture, Size: size,
			Aliases: aliases, Properties: props, CreatedAt: created, Public: true})
	}
	var meta streamItem
	var rootSize, diskSize int64
	for _, it := range v.Items {
		switch it.FileType {
		case "lxd_combined.tar.gz", "incus_combined.tar.gz":
			add("container", it.SHA256, it.Size)
			return out
		case "lxd.tar.xz", "incus.tar.xz":
			meta = it
		case "squashfs", "root.tar.xz":
			rootSize = max(rootSize, it.Size)
		case "disk-kvm.img":
			diskSize = it.Size
		}
	}
	fp := meta.CombinedSquashfs
	if fp == "" {
		fp = meta.CombinedRootxz
	}
	if fp == "" {
		fp = meta.Combined
	}
	add("container", fp, meta.Size+rootSize)
	add("virtual-machine", meta.CombinedDiskKVM, meta.Size+diskSize)
	return out
}

// versionTime reads a version's name, which starts with its build date
// (20241201_05:24, 20241201_0524 or 20241201).
func versionTime(name string) time.Time {
	for _, layout := range []string{"20060102_15:04", "20060102_1504", "20060102"} {
		if len(name) >= len(layout) {
			if t, err := time.Parse(layout, name[:len(layout)]); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
