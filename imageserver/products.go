package imageserver

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lxkit/lxkit/internal/imagefile"
)

// Stream is streams/v1/index.json: which product files the server has.
type Stream struct {
	Format  string                 `json:"format"` // "index:1.0"
	Updated string                 `json:"updated,omitempty"`
	Index   map[string]StreamIndex `json:"index"`
}

// StreamIndex is one product file of the index.
type StreamIndex struct {
	// DataType is "image-downloads" for images: the only kind the
	// daemons read.
	DataType string `json:"datatype"`
	Path     string `json:"path"`
	Format   string `json:"format,omitempty"` // "products:1.0"
	Updated  string `json:"updated,omitempty"`
	// Products are the IDs of the products the file holds; the daemons
	// skip a file that names none.
	Products []string `json:"products"`
}

// Products is a product file, streams/v1/images.json.
type Products struct {
	ContentID string             `json:"content_id"`
	DataType  string             `json:"datatype"`
	Format    string             `json:"format"`
	Updated   string             `json:"updated,omitempty"`
	Products  map[string]Product `json:"products"`
}

// Product is an image line (an OS release on an architecture), with its
// versions. The daemons take an image's properties from it: os, release,
// architecture, variant, and a description made of os and release title.
type Product struct {
	Aliases      string `json:"aliases"` // comma-separated
	Architecture string `json:"arch"`
	OS           string `json:"os"`
	Release      string `json:"release"`
	ReleaseTitle string `json:"release_title"`
	Variant      string `json:"variant,omitempty"`
	// Requirements become the image's requirements.* properties: LXD
	// reads lxd_requirements, Incus requirements.
	LXDRequirements map[string]string  `json:"lxd_requirements,omitempty"`
	Requirements    map[string]string  `json:"requirements,omitempty"`
	Versions        map[string]Version `json:"versions"`
}

// Version is one build of a product. Its name starts with the build date,
// YYYYMMDD: the daemons skip a version whose name does not.
type Version struct {
	Items map[string]Item `json:"items"`
}

// Item is one file of a version. The daemons pick an image's files by
// FileType and take its fingerprint from the metadata item: the file's own
// SHA-256 for a unified tarball, or the Combined* field that goes with the
// rootfs's type for a split image.
type Item struct {
	FileType string `json:"ftype"`
	Path     string `json:"path"` // relative to the server's URL
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`

	CombinedSHA256         string `json:"combined_sha256,omitempty"`
	CombinedRootxzSHA256   string `json:"combined_rootxz_sha256,omitempty"`
	CombinedSquashfsSHA256 string `json:"combined_squashfs_sha256,omitempty"`
	CombinedDiskKVMSHA256  string `json:"combined_disk-kvm-img_sha256,omitempty"`
}

// File types of items. LXD reads the lxd* ones and Incus the incus* ones,
// so every image is offered under both. The names are the protocol's
// slots, not formats: a unified tarball is "lxd_combined.tar.gz" however
// it is compressed, and the daemons detect the real format when they
// unpack it.
const (
	FileTypeLXDCombined   = "lxd_combined.tar.gz"
	FileTypeIncusCombined = "incus_combined.tar.gz"
	FileTypeLXDMeta       = "lxd.tar.xz"
	FileTypeIncusMeta     = "incus.tar.xz"
	FileTypeRootTar       = "root.tar.xz"
	FileTypeSquashfs      = "squashfs"
	FileTypeDiskKVM       = "disk-kvm.img"
)

// documents builds index.json and images.json from the images.
func (s *Server) documents() (index, products []byte, err error) {
	var updated time.Time
	for _, sf := range s.files {
		if sf.modTime.After(updated) {
			updated = sf.modTime
		}
	}
	stamp := updated.UTC().Format(time.RFC1123Z)
	ps := Products{ContentID: "images", DataType: "image-downloads", Format: "products:1.0", Updated: stamp,
		Products: map[string]Product{}}
	for _, img := range s.images {
		ps.Products[img.Fingerprint] = s.product(img)
	}
	ids := append([]string{}, slices.Sorted(maps.Keys(ps.Products))...) // [] rather than null when empty
	st := Stream{Format: "index:1.0", Updated: stamp, Index: map[string]StreamIndex{
		"images": {DataType: "image-downloads", Path: strings.TrimPrefix(ProductsPath, "/"), Format: "products:1.0",
			Updated: stamp, Products: ids},
	}}
	if index, err = json.MarshalIndent(st, "", "  "); err != nil {
		return nil, nil, err
	}
	if products, err = json.MarshalIndent(ps, "", "  "); err != nil {
		return nil, nil, err
	}
	return index, products, nil
}

// product is the product of one image: its own, with one version.
func (s *Server) product(img Image) Product {
	p := Product{
		Aliases:      strings.Join(img.Aliases, ","),
		Architecture: img.Architecture,
		OS:           img.Properties["os"],
		Release:      img.Properties["release"],
		ReleaseTitle: img.Properties["release"],
		Variant:      img.Properties["variant"],
		Versions:     map[string]Version{},
	}
	if p.OS == "" {
		p.OS = "unknown"
	}
	for k, v := range img.Properties {
		if req, ok := strings.CutPrefix(k, "requirements."); ok {
			if p.Requirements == nil {
				p.Requirements = map[string]string{}
			}
			p.Requirements[req] = v
		}
	}
	p.LXDRequirements = p.Requirements
	items := map[string]Item{}
	file := func(i int) Item {
		path := itemPath(img, i)
		return Item{Path: strings.TrimPrefix(path, "/"), SHA256: s.sums[img.Files[i]], Size: s.files[path].size}
	}
	if !img.Split() {
		it := file(0)
		for _, ft := range []string{FileTypeLXDCombined, FileTypeIncusCombined} {
			it.FileType = ft
			items[ft] = it
		}
	} else {
		meta, root := file(0), file(1)
		switch s.formats[img.Files[1]] {
		case imagefile.Squashfs:
			root.FileType = FileTypeSquashfs
			meta.CombinedSquashfsSHA256 = img.Fingerprint
		case imagefile.Qcow2:
			root.FileType = FileTypeDiskKVM
			meta.CombinedDiskKVMSHA256 = img.Fingerprint
		default:
			root.FileType = FileTypeRootTar
			meta.CombinedRootxzSHA256 = img.Fingerprint
			meta.CombinedSHA256 = img.Fingerprint
		}
		items[root.FileType] = root
		for _, ft := range []string{FileTypeLXDMeta, FileTypeIncusMeta} {
			meta.FileType = ft
			items[ft] = meta
		}
	}
	p.Versions[VersionName(img.CreatedAt)] = Version{Items: items}
	return p
}

// VersionName is the name of an image's version: its creation time as
// YYYYMMDD_hhmm, which the daemons read as its date.
func VersionName(created time.Time) string { return created.UTC().Format("20060102_1504") }
