package host

import (
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
)

func TestMatch(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	imgs := []api.Image{
		{Fingerprint: "aaaa1111bbbb2222", Architecture: "x86_64", CreatedAt: old,
			Aliases:    []api.ImageAlias{{Name: "debian/12"}},
			Properties: map[string]string{"os": "Debian", "release": "bookworm", "architecture": "amd64"}},
		{Fingerprint: "cccc3333dddd4444", Architecture: "x86_64", CreatedAt: old.Add(time.Hour),
			Properties: map[string]string{"os": "Debian", "release": "bookworm", "architecture": "amd64"}},
		{Fingerprint: "eeee5555ffff6666", Architecture: "aarch64", CreatedAt: old.Add(2 * time.Hour),
			Properties: map[string]string{"os": "Debian", "release": "bookworm", "architecture": "arm64"}},
	}
	for _, c := range []struct {
		q    ImageQuery
		want string
	}{
		{ImageQuery{Alias: "debian/12"}, "aaaa1111bbbb2222"},
		{ImageQuery{Alias: "debian"}, ""},
		{ImageQuery{Alias: "cccc3333dddd"}, "cccc3333dddd4444"},                                                   // a fingerprint prefix
		{ImageQuery{Alias: "cccc3333"}, ""},                                                                       // too short to be one
		{ImageQuery{Properties: map[string]string{"os": "Debian", "architecture": "x86_64"}}, "cccc3333dddd4444"}, // the newest
		{ImageQuery{Properties: map[string]string{"os": "Debian", "architecture": "amd64"}}, "cccc3333dddd4444"},
		{ImageQuery{Properties: map[string]string{"os": "Debian"}}, "eeee5555ffff6666"},
		{ImageQuery{Properties: map[string]string{"os": "Debian", "release": "trixie"}}, ""},
		{ImageQuery{Alias: "debian/12", Properties: map[string]string{"architecture": "arm64"}}, ""},
	} {
		if got := match(imgs, c.q); got != c.want {
			t.Errorf("match(%v) = %q, want %q", c.q, got, c.want)
		}
	}
}

func TestProductImages(t *testing.T) {
	type versions = map[string]struct {
		Items map[string]streamItem `json:"items"`
	}
	unified := streamProduct{Aliases: "busybox, bb", Architecture: "x86_64", OS: "busybox", Release: "1.35", ReleaseTitle: "1.35.0",
		Versions: versions{
			"20261205_1200": {Items: map[string]streamItem{"u": {FileType: "lxd_combined.tar.gz", SHA256: "old", Size: 1}}},
			"20261206_1934": {Items: map[string]streamItem{"u": {FileType: "lxd_combined.tar.gz", SHA256: "new", Size: 2}}},
		}}
	got := productImages(unified)
	if len(got) != 1 || got[0].Fingerprint != "new" || got[0].Size != 2 || got[0].Type != "container" ||
		len(got[0].Aliases) != 2 || got[0].Aliases[1].Name != "bb" || got[0].Properties["os"] != "busybox" ||
		!got[0].CreatedAt.Equal(time.Date(2026, 12, 6, 19, 34, 0, 0, time.UTC)) {
		t.Errorf("a unified image: %+v", got)
	}
	split := streamProduct{Architecture: "amd64", OS: "Debian", Release: "bookworm", Variant: "cloud",
		Versions: versions{"20261206_05:24": {Items: map[string]streamItem{
			"m":  {FileType: "incus.tar.xz", Size: 10, CombinedSquashfs: "sq", CombinedRootxz: "xz", CombinedDiskKVM: "vm"},
			"r":  {FileType: "squashfs", Size: 100},
			"vm": {FileType: "disk-kvm.img", Size: 1000},
		}}}}
	got = productImages(split)
	if len(got) != 2 || got[0].Fingerprint != "sq" || got[0].Size != 110 || got[1].Type != "virtual-machine" ||
		got[1].Fingerprint != "vm" || got[1].Size != 1010 || got[0].Properties["variant"] != "cloud" {
		t.Errorf("a split image with a VM disk: %+v", got)
	}
	if got := productImages(streamProduct{}); got != nil {
		t.Errorf("no versions: %+v", got)
	}
}
