package instance

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lxkit/lxkit/api"
)

func TestLooksLikeFingerprint(t *testing.T) {
	for in, want := range map[string]bool{
		"bef9ee819d41": true,
		"BEF9EE819D41": true,
		"bef9ee819d417a0dc89e0f83299db24b3becf1167d7b4627e417420ee80a7165": true,
		"bef9ee819d4":  false, // too short to tell from an alias
		"testimage":    false,
		"deadbeef":     false,
		"bef9ee819d4g": false,
		"":             false,
	} {
		if got := LooksLikeFingerprint(in); got != want {
			t.Errorf("LooksLikeFingerprint(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestFilter(t *testing.T) {
	all := []Record{
		{Instance: api.Instance{Name: "web-2", Status: "Stopped"}},
		{Instance: api.Instance{Name: "db", Status: "Running"}},
		{Instance: api.Instance{Name: "web-1", Status: "Running"}},
		{Instance: api.Instance{Name: "web-3", Status: "Frozen"}},
	}
	names := func(recs []Record) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.Name)
		}
		return out
	}
	tests := []struct {
		prefix   string
		statuses []string
		want     []string
	}{
		{"", nil, []string{"db", "web-1", "web-2", "web-3"}},
		{"web-", nil, []string{"web-1", "web-2", "web-3"}},
		{"web-", []string{"running"}, []string{"web-1"}},
		{"", []string{"stopped", "frozen"}, []string{"web-2", "web-3"}},
		{"x", nil, []string{}},
	}
	for _, tt := range tests {
		if got := names(filter(all, tt.prefix, tt.statuses)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("filter(%q, %v) = %v; want %v", tt.prefix, tt.statuses, got, tt.want)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	u, err := parseUpdate([]string{"a=1", "b="}, []string{"d,type=none"}, []string{"old"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"d": {"type": "none"}, "old": nil}
	if !reflect.DeepEqual(u.Devices, want) || !reflect.DeepEqual(u.Config, map[string]string{"a": "1", "b": ""}) {
		t.Errorf("parseUpdate = %+v", u)
	}
	for _, bad := range [][3][]string{
		{{"=x"}, nil, nil},
		{nil, {"nameonly"}, nil},
		{nil, nil, {""}},
		{nil, {"d,type=none"}, {"d"}},
	} {
		if _, err := parseUpdate(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("parseUpdate(%q) succeeded; want an error", bad)
		}
	}
}

func TestResolveImageCertificate(t *testing.T) {
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "server.crt")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(pemFile, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := resolveImage(context.Background(), &LaunchOptions{Image: "busybox", Server: "https://127.0.0.1:8999", Protocol: "simplestreams", CertFile: pemFile}, nil)
	if err != nil || img.Certificate != pem || img.Alias != "busybox" || img.Server == "" {
		t.Fatalf("resolveImage: %+v, %v", img, err)
	}
	notPEM := filepath.Join(dir, "junk")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{notPEM, filepath.Join(dir, "missing")} {
		if _, err := resolveImage(context.Background(), &LaunchOptions{Image: "x", Server: "https://h", CertFile: f}, nil); err == nil {
			t.Errorf("--certificate %s accepted", f)
		}
	}
}
