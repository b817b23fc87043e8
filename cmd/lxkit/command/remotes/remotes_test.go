package remotes

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/internal/certs/atomicfile"
	"github.com/lxkit/lxkit/testkit/dirsnap"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// lxcConfig is lxc's config.yml (LXD 5.0) after `lxc remote add prod`
// and `lxc remote switch prod`: the file lxc writes, aliases and all.
const lxcConfig = `default-remote: prod
remotes:
  images:
    addr: https://images.linuxcontainers.org
    protocol: simplestreams
    public: true
  local:
    addr: unix://
    public: false
  prod:
    addr: https://10.0.0.5:8443
    auth_type: tls
    project: web
    protocol: lxd
    public: false
  shared:
    addr: https://10.0.0.6:8443
    auth_type: tls
    protocol: lxd
    public: false
aliases: {}
`

// incusConfig is incus's config.yml (Incus 6.0), with a remote added.
const incusConfig = `default-remote: local
remotes:
  images:
    addr: https://images.linuxcontainers.org
    protocol: simplestreams
    public: true
  lab:
    addr: https://192.168.1.20:8443
    auth_type: tls
    protocol: incus
    public: false
  local:
    addr: unix://
    protocol: incus
    public: false
  other:
    addr: unix:///run/other/unix.socket
    public: false
  shared:
    addr: https://10.0.0.7:8443
    protocol: incus
    public: false
aliases: {}
`

// lxkitConfig is lxkit's own, with a remote shadowing lxc's "shared".
const lxkitConfig = `remotes:
  build:
    addr: https://build.example.com:8443
    protocol: incus
    public: false
  shared:
    addr: https://10.0.0.8:8443
    public: false
`

type env struct {
	dir, lxc, incus string
	serverCert      *x509.Certificate
}

// setup makes lxkit's, lxc's and incus's directories with the given
// config.yml contents ("" for no file) and a pinned certificate for lxc's
// prod, incus's lab and lxkit's build.
func setup(t *testing.T, own, lxc, incus string) env {
	t.Helper()
	root := t.TempDir()
	e := env{dir: filepath.Join(root, "lxkit"), lxc: filepath.Join(root, "lxc"), incus: filepath.Join(root, "incus")}
	certDir := t.TempDir()
	if _, err := certs.Generate(filepath.Join(certDir, "s.crt"), filepath.Join(certDir, "s.key"), certs.GenerateOptions{CommonName: "root@server"}); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.serverCert, err = certs.ReadCertificate(filepath.Join(certDir, "s.crt")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ dir, content, pinned string }{{e.dir, own, "build"}, {e.lxc, lxc, "prod"}, {e.incus, incus, "lab"}} {
		if f.content == "" {
			continue
		}
		if err := os.MkdirAll(f.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, ConfigFile), []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := certs.WriteCertificate(filepath.Join(f.dir, "servercerts", f.pinned+".crt"), e.serverCert); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e env) open(t *testing.T) *Store {
	t.Helper()
	s, err := OpenDir(e.dir, e.lxc, e.incus)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// row is a remote as a line, for comparing lists.
func row(r Remote) string {
	s := fmt.Sprintf("%s %s %s %s proto=%s auth=%s project=%s public=%v", r.Source, r.Name, r.Addr,
		map[bool]string{true: "default", false: "-"}[r.Default], r.Protocol, r.AuthType, r.Project, r.Public)
	if r.Shadowed {
		s += " shadowed"
	}
	if r.ServerCertPath != "" {
		s += " pinned"
	}
	return s
}

func TestList(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	got := e.open(t).List()
	want := []string{
		"lxkit build https://build.example.com:8443 - proto=incus auth= project= public=false pinned",
		"lxkit shared https://10.0.0.8:8443 - proto= auth= project= public=false",
		"lxc images https://images.linuxcontainers.org - proto=simplestreams auth= project= public=true",
		"lxc local unix:// - proto=lxd auth= project= public=false",
		"lxc prod https://10.0.0.5:8443 default proto=lxd auth=tls project=web public=false pinned",
		"lxc shared https://10.0.0.6:8443 - proto=lxd auth=tls project= public=false shadowed",
		"lxc ubuntu https://cloud-images.ubuntu.com/releases - proto=simplestreams auth= project= public=true",
		"lxc ubuntu-daily https://cloud-images.ubuntu.com/daily - proto=simplestreams auth= project= public=true",
		"incus images https://images.linuxcontainers.org - proto=simplestreams auth= project= public=true shadowed",
		"incus lab https://192.168.1.20:8443 - proto=incus auth=tls project= public=false pinned",
		"incus local unix:// - proto=incus auth= project= public=false shadowed",
		"incus other unix:///run/other/unix.socket - proto=incus auth=tls project= public=false",
		"incus shared https://10.0.0.7:8443 - proto=incus auth=tls project= public=false shadowed",
	}
	var rows []string
	for _, r := range got {
		rows = append(rows, row(r))
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("List:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range got {
		wantPath := map[string]string{SourceLXKit: e.dir, SourceLXC: e.lxc, SourceIncus: e.incus}[r.Source]
		if r.ConfigPath != filepath.Join(wantPath, ConfigFile) {
			t.Errorf("%s %s: ConfigPath %s", r.Source, r.Name, r.ConfigPath)
		}
	}
}

func TestListWithoutConfigurations(t *testing.T) {
	for _, tc := range []struct {
		name             string
		own, lxc, incus  string
		want             []string
		lxcDir, incusDir bool // pass the directories at all
	}{
		{
			name: "nothing anywhere: the built-in local",
			want: []string{"builtin local unix:// default proto= auth= project= public=false"},
		},
		{
			name: "only incus: its local and its built-in local",
			// An incus file without local still gets incus's built-in one.
			incus: "remotes:\n  lab:\n    addr: https://h:8443\n    public: false\n",
			want: []string{
				"incus lab https://h:8443 - proto=incus auth=tls project= public=false pinned",
				"incus local unix:// default proto=incus auth= project= public=false",
			},
		},
		{
			name: "an empty lxc file: lxc's built-in remotes",
			lxc:  "\n",
			want: []string{
				"lxc local unix:// default proto=lxd auth= project= public=false",
				"lxc ubuntu https://cloud-images.ubuntu.com/releases - proto=simplestreams auth= project= public=true",
				"lxc ubuntu-daily https://cloud-images.ubuntu.com/daily - proto=simplestreams auth= project= public=true",
			},
		},
		{
			name: "lxc's built-in local replaces the file's, keeping its project",
			lxc:  "remotes:\n  local:\n    addr: https://evil:8443\n    project: p1\n    public: false\n  ubuntu:\n    addr: https://evil\n    public: false\n",
			want: []string{
				"lxc local unix:// default proto=lxd auth= project=p1 public=false",
				"lxc ubuntu https://cloud-images.ubuntu.com/releases - proto=simplestreams auth= project= public=true",
				"lxc ubuntu-daily https://cloud-images.ubuntu.com/daily - proto=simplestreams auth= project= public=true",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, tc.own, tc.lxc, tc.incus)
			var rows []string
			for _, r := range e.open(t).List() {
				rows = append(rows, row(r))
			}
			if strings.Join(rows, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("List:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestGet(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	for _, tc := range []struct{ name, source, addr string }{
		{"shared", SourceLXKit, "https://10.0.0.8:8443"}, // lxkit's over lxc's over incus's
		{"prod", SourceLXC, "https://10.0.0.5:8443"},
		{"images", SourceLXC, "https://images.linuxcontainers.org"},
		{"local", SourceLXC, "unix://"},
		{"lab", SourceIncus, "https://192.168.1.20:8443"},
		{"ubuntu", SourceLXC, "https://cloud-images.ubuntu.com/releases"},
	} {
		r, err := s.Get(tc.name)
		if err != nil {
			t.Errorf("Get(%s): %v", tc.name, err)
			continue
		}
		if r.Source != tc.source || r.Addr != tc.addr || r.Shadowed {
			t.Errorf("Get(%s) = %s", tc.name, row(r))
		}
	}

	_, err := s.Get("nope")
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	for _, dir := range []string{e.dir, e.lxc, e.incus} {
		if !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
			t.Errorf("%q does not name %s", err, dir)
		}
	}
}

func TestServerCert(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	for _, name := range []string{"prod", "lab", "build"} {
		r, err := s.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.ServerCert()
		if err != nil {
			t.Fatal(err)
		}
		if c == nil || certs.Fingerprint(c) != certs.Fingerprint(e.serverCert) {
			t.Errorf("%s: wrong pinned certificate", name)
		}
	}
	r, _ := s.Get("images")
	if c, err := r.ServerCert(); c != nil || err != nil {
		t.Errorf("images: %v, %v; want nothing pinned", c, err)
	}
}

func TestClientFiles(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	give := func(dir string) {
		t.Helper()
		if _, err := certs.Generate(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), certs.GenerateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) Remote {
		t.Helper()
		r, err := s.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Nothing anywhere.
	for _, name := range []string{"build", "prod", "lab"} {
		if _, err := get(name).ClientFiles(); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: err = %v, want not found", name, err)
		}
	}

	// Only lxc has a pair: lxkit's remotes fall back to it, incus's do not.
	give(e.lxc)
	if f, err := get("build").ClientFiles(); err != nil || f.Source != SourceLXC {
		t.Errorf("build: %+v, %v; want lxc's files", f, err)
	}
	if _, err := get("lab").ClientFiles(); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "incus") {
		t.Errorf("lab: err = %v, want incus's missing pair", err)
	}

	give(e.incus)
	give(e.dir)
	for _, tc := range []struct{ name, dir string }{{"build", e.dir}, {"prod", e.lxc}, {"lab", e.incus}, {"shared", e.dir}} {
		f, err := get(tc.name).ClientFiles()
		if err != nil {
			t.Fatal(err)
		}
		if f.Cert != filepath.Join(tc.dir, "client.crt") || f.Key != filepath.Join(tc.dir, "client.key") {
			t.Errorf("%s: %+v, want the files in %s", tc.name, f, tc.dir)
		}
	}
}

func TestSocketPath(t *testing.T) {
	t.Setenv("LXD_DIR", "/lxd")
	t.Setenv("INCUS_DIR", "")
	t.Setenv("INCUS_SOCKET", "/incus.sock")
	for _, tc := range []struct {
		r    Remote
		want string
		ok   bool
	}{
		{Remote{Addr: "unix://", Source: SourceLXC}, "/lxd/unix.socket", true},
		{Remote{Addr: "unix://", Source: SourceIncus}, "/incus.sock", true},
		{Remote{Addr: "unix://", Source: SourceLXKit, Protocol: "incus"}, "/incus.sock", true},
		{Remote{Addr: "unix://", Source: SourceLXKit}, "", true},
		{Remote{Addr: "unix://", Source: SourceBuiltin}, "", true},
		{Remote{Addr: "unix:///run/x/unix.socket", Source: SourceIncus}, "/run/x/unix.socket", true},
		{Remote{Addr: "unix:/run/y.socket", Source: SourceLXC}, "/run/y.socket", true},
		{Remote{Addr: "https://h:8443"}, "", false},
	} {
		got, ok := tc.r.SocketPath()
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s from %s: %q, %v; want %q, %v", tc.r.Addr, tc.r.Source, got, ok, tc.want, tc.ok)
		}
	}
	t.Setenv("INCUS_SOCKET", "")
	if got, _ := (Remote{Addr: "unix://", Source: SourceIncus}).SocketPath(); got != "/var/lib/incus/unix.socket" && got != "/var/lib/incus/unix.socket.user" {
		t.Errorf("incus default socket %q", got)
	}
}

func TestAddRemove(t *testing.T) {
	e := setup(t, "", lxcConfig, incusConfig)
	s := e.open(t)
	web := Remote{Name: "web", Addr: "https://10.1.1.1:8443", Protocol: "incus", Project: "p", AuthType: "tls"}
	if err := s.Add(web, e.serverCert); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Remote{Name: "sock", Addr: "unix:///run/lxd.socket"}, nil); err != nil {
		t.Fatal(err)
	}
	// lxc has a "prod": lxkit's own comes first from now on.
	if err := s.Add(Remote{Name: "prod", Addr: "https://10.9.9.9:8443"}, nil); err != nil {
		t.Fatal(err)
	}

	for name, perm := range map[string]fs.FileMode{e.dir: 0o700, s.Path(): 0o600, filepath.Join(e.dir, "servercerts"): 0o700} {
		if fi, err := os.Stat(name); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != perm {
			t.Errorf("%s: %v; want mode %04o", name, fi.Mode().Perm(), perm)
		}
	}

	// A fresh store reads what the first wrote.
	for _, st := range []*Store{s, e.open(t)} {
		r, err := st.Get("web")
		if err != nil {
			t.Fatal(err)
		}
		if row(r) != "lxkit web https://10.1.1.1:8443 - proto=incus auth=tls project=p public=false pinned" {
			t.Errorf("got %s", row(r))
		}
		if c, err := r.ServerCert(); err != nil || certs.Fingerprint(c) != certs.Fingerprint(e.serverCert) {
			t.Errorf("pinned certificate: %v", err)
		}
		if r, _ := st.Get("prod"); r.Source != SourceLXKit {
			t.Errorf("prod from %s, want lxkit's", r.Source)
		}
	}

	if err := s.Add(Remote{Name: "web", Addr: "https://other:8443"}, nil); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("adding web again: %v, want a conflict naming the file", err)
	}

	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "servercerts", "web.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pinned certificate outlived its remote: %v", err)
	}
	for _, st := range []*Store{s, e.open(t)} {
		if _, err := st.Get("web"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("web still there: %v", err)
		}
	}
	if err := s.Remove("web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removing web twice: %v", err)
	}
	// Re-added without a certificate, web pins nothing.
	if err := s.Add(Remote{Name: "web", Addr: "https://10.1.1.1:8443"}, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get("web"); r.ServerCertPath != "" {
		t.Error("a new remote inherited an old pin")
	}
}

func TestAddValidation(t *testing.T) {
	e := setup(t, "", "", "")
	s := e.open(t)
	for _, tc := range []struct {
		r    Remote
		cert bool
		want string
	}{
		{Remote{Name: "", Addr: "https://h"}, false, "empty"},
		{Remote{Name: "a/b", Addr: "https://h"}, false, "slash"},
		{Remote{Name: "..", Addr: "https://h"}, false, "not a name"},
		{Remote{Name: ".a", Addr: "https://h"}, false, "start with"},
		{Remote{Name: "a:b", Addr: "https://h"}, false, "only ASCII letters"},
		{Remote{Name: "é", Addr: "https://h"}, false, "only ASCII letters"},
		{Remote{Name: strings.Repeat("a", 65), Addr: "https://h"}, false, "longer"},
		{Remote{Name: "x", Addr: ""}, false, "expected https://"},
		{Remote{Name: "x", Addr: "http://h:8443"}, false, "expected https://"},
		{Remote{Name: "x", Addr: "h:8443"}, false, "expected https://"},
		{Remote{Name: "x", Addr: "https://"}, false, "expected https://"},
		{Remote{Name: "x", Addr: "https://user:pw@h"}, false, "expected https://"},
		{Remote{Name: "x", Addr: "unix:relative"}, false, "expected https://"},
		{Remote{Name: "x", Addr: "unix://", Protocol: "simplestreams"}, false, "simplestreams"},
		{Remote{Name: "x", Addr: "unix://"}, true, "no server certificate"},
		{Remote{Name: "x", Addr: "https://h", Protocol: "docker"}, false, "protocol"},
	} {
		var cert *x509.Certificate
		if tc.cert {
			cert = e.serverCert
		}
		err := s.Add(tc.r, cert)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q, %q): %v; want invalid argument with %q", tc.r.Name, tc.r.Addr, err, tc.want)
		}
	}
	if _, err := os.Stat(e.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused Add created lxkit's directory")
	}
	for _, name := range []string{"a", "web-1", "my_remote", "host.example.com", "A1", strings.Repeat("z", 64)} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q): %v", name, err)
		}
	}
}

func TestRemoveForeign(t *testing.T) {
	e := setup(t, "", lxcConfig, incusConfig)
	s := e.open(t)
	for _, tc := range []struct{ name, want string }{
		{"prod", "lxc remote remove prod"},
		{"lab", "incus remote remove lab"},
	} {
		err := s.Remove(tc.name)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "lxkit does not edit that file") {
			t.Errorf("Remove(%s): %v", tc.name, err)
		}
	}
	if err := setup(t, "", "", "").open(t).Remove("local"); err == nil || !strings.Contains(err.Error(), "built in") {
		t.Errorf("Remove(local): %v", err)
	}
}

func TestDefault(t *testing.T) {
	for _, tc := range []struct {
		name, own, lxc, want string
	}{
		{"nothing: local", "", "", "local"},
		{"lxc's default", "", lxcConfig, "prod"},
		{"lxc without one: local", "", "remotes: {}\n", "local"},
		{"lxkit's over lxc's", "default-remote: build\n" + strings.TrimPrefix(lxkitConfig, ""), lxcConfig, "build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t, tc.own, tc.lxc, incusConfig).open(t)
			if got := s.Default(); got != tc.want {
				t.Errorf("Default() = %q, want %q", got, tc.want)
			}
			// Exactly one remote is marked, and it is the one Get returns.
			var marked []string
			for _, r := range s.List() {
				if r.Default {
					marked = append(marked, r.Source+" "+r.Name)
				}
			}
			r, err := s.Get(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if len(marked) != 1 || marked[0] != r.Source+" "+r.Name {
				t.Errorf("marked %v, want %s %s", marked, r.Source, r.Name)
			}
		})
	}
}

func TestSetDefault(t *testing.T) {
	e := setup(t, "", lxcConfig, incusConfig)
	s := e.open(t)
	if err := s.SetDefault("lab"); err != nil { // incus's
		t.Fatal(err)
	}
	if got := e.open(t).Default(); got != "lab" {
		t.Errorf("Default() = %q after SetDefault(lab)", got)
	}
	if err := s.SetDefault("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("SetDefault(nope): %v", err)
	}
	if err := s.Add(Remote{Name: "web", Addr: "https://w:8443"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDefault("web"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("web"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("removing the default: %v, want a conflict", err)
	}
	if err := s.SetDefault("local"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("web"); err != nil {
		t.Errorf("removing a former default: %v", err)
	}
	data, _ := os.ReadFile(s.Path())
	if !strings.Contains(string(data), "default-remote: local") {
		t.Errorf("lxkit's file:\n%s", data)
	}
}

// checkError checks that err, what call returned, matches class and says
// each of want.
func checkError(t *testing.T, call string, err, class error, want ...string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: %v, want %v", call, err, class)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q lacks %q", call, err, w)
		}
	}
}

// readFile is a file's content, "" if it is missing.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

func TestRename(t *testing.T) {
	e := setup(t, "default-remote: build\n"+lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	certFile := func(name string) string { return filepath.Join(e.dir, "servercerts", name+".crt") }
	pin := readFile(t, certFile("build"))
	if pin == "" {
		t.Fatal("setup pinned nothing for build")
	}

	if err := s.Rename("build", "ci"); err != nil {
		t.Fatal(err)
	}
	want := `default-remote: ci
remotes:
  ci:
    addr: https://build.example.com:8443
    protocol: incus
    public: false
  shared:
    addr: https://10.0.0.8:8443
    public: false
`
	if got := readFile(t, s.Path()); got != want {
		t.Errorf("lxkit's file:\n%s\nwant:\n%s", got, want)
	}
	if readFile(t, certFile("ci")) != pin {
		t.Error("the pinned certificate did not move to ci.crt")
	}
	if _, err := os.Stat(certFile("build")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("build.crt outlived the rename: %v", err)
	}
	for _, st := range []*Store{s, e.open(t)} {
		r, err := st.Get("ci")
		if err != nil || row(r) != "lxkit ci https://build.example.com:8443 default proto=incus auth= project= public=false pinned" {
			t.Errorf("ci: %s, %v", row(r), err)
		}
		if _, err := st.Get("build"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("build after the rename: %v", err)
		}
	}

	// A remote without a pin drops a stale certificate of its new name, and
	// a rename leaves a default naming another remote alone.
	if err := certs.WriteCertificate(certFile("web"), e.serverCert); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("shared", "web"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get("web"); r.Source != SourceLXKit || r.ServerCertPath != "" {
		t.Errorf("web: %s, want lxkit's without a pin", row(r))
	}
	if s.Default() != "ci" {
		t.Errorf("Default() = %q, want ci", s.Default())
	}
	// lxc's shared is no longer shadowed.
	if r, _ := s.Get("shared"); r.Source != SourceLXC {
		t.Errorf("shared from %s, want lxc's", r.Source)
	}

	before := readFile(t, s.Path())
	for _, tc := range []struct {
		from, to string
		class    error
		want     []string
	}{
		{"ci", "web", errdefs.ErrConflict, []string{"remote web already exists", s.Path()}},
		{"ci", "ci", errdefs.ErrConflict, []string{"remote ci already exists"}},
		{"nope", "x", errdefs.ErrNotFound, []string{`"nope" not found`}},
		{"ci", "a/b", errdefs.ErrInvalidArgument, []string{"invalid remote name"}},
		{"ci", "", errdefs.ErrInvalidArgument, []string{"empty"}},
		{"prod", "x", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", filepath.Join(e.lxc, ConfigFile), "`lxc remote rename prod x`"}},
		{"lab", "x", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", filepath.Join(e.incus, ConfigFile), "`incus remote rename lab x`"}},
		{"local", "x", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", "built in: it cannot be renamed"}},
		{"ubuntu", "x", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", "built in"}},
	} {
		checkError(t, fmt.Sprintf("Rename(%q, %q)", tc.from, tc.to), s.Rename(tc.from, tc.to), tc.class, tc.want...)
	}
	if got := readFile(t, s.Path()); got != before {
		t.Errorf("a refused rename changed lxkit's file:\n%s", got)
	}
	if readFile(t, certFile("ci")) != pin {
		t.Error("a refused rename lost ci's pin")
	}

	err := setup(t, "", "", "").open(t).Rename("local", "x")
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "built in: it cannot be renamed") {
		t.Errorf("Rename(built-in local): %v", err)
	}
}

// TestRenameWriteFails checks that a rename whose configuration cannot be
// written leaves the remote, its pin and no copy of it.
func TestRenameWriteFails(t *testing.T) {
	e := setup(t, lxkitConfig, "", "")
	s := e.open(t)
	if err := s.SetDefault("build"); err != nil { // makes the lock file
		t.Fatal(err)
	}
	before := dirsnap.Must(t, e.dir)
	writeConfigFile = func(string, []byte, fs.FileMode) error { return errors.New("disk full") }
	t.Cleanup(func() { writeConfigFile = atomicfile.Write })
	if err := s.Rename("build", "ci"); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Rename with a failing write: %v", err)
	}
	writeConfigFile = atomicfile.Write
	after := dirsnap.Must(t, e.dir)
	// The files, not the directories (whose times the copy changed).
	for _, d := range []string{e.dir, filepath.Join(e.dir, "servercerts")} {
		delete(before, d)
		delete(after, d)
	}
	assertSame(t, before, after)
	if r, err := e.open(t).Get("build"); err != nil || r.ServerCertPath == "" {
		t.Errorf("build: %s, %v", row(r), err)
	}
}

// TestRenameInterrupted checks the states a rename cut short leaves: a
// copy of the pin under the new name before the file is written, the old
// pin after. Neither is taken for a remote's.
func TestRenameInterrupted(t *testing.T) {
	e := setup(t, lxkitConfig, "", "")
	s := e.open(t)
	old := filepath.Join(e.dir, "servercerts", "build.crt")
	data := readFile(t, old)
	stray := filepath.Join(e.dir, "servercerts", "ci.crt")
	if err := os.WriteFile(stray, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Remote{Name: "ci", Addr: "https://ci:8443"}, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get("ci"); r.ServerCertPath != "" {
		t.Error("a new remote took the copy left by an interrupted rename")
	}
	if err := s.Remove("ci"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("build", "ci"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte(data), 0o644); err != nil { // as if not yet removed
		t.Fatal(err)
	}
	if err := s.Add(Remote{Name: "build", Addr: "https://b:8443"}, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get("build"); r.ServerCertPath != "" {
		t.Error("a new remote took the pin an interrupted rename left")
	}
}

func TestSetAddr(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	if err := s.SetAddr("build", "https://10.2.2.2:8443"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAddr("shared", "unix:///run/x/unix.socket"); err != nil {
		t.Fatal(err)
	}
	want := `remotes:
  build:
    addr: https://10.2.2.2:8443
    protocol: incus
    public: false
  shared:
    addr: unix:///run/x/unix.socket
    public: false
`
	if got := readFile(t, s.Path()); got != want {
		t.Errorf("lxkit's file:\n%s\nwant:\n%s", got, want)
	}
	r, err := e.open(t).Get("build")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := r.ServerCert(); err != nil || c == nil || certs.Fingerprint(c) != certs.Fingerprint(e.serverCert) {
		t.Errorf("build's pin after set-url: %v, %v", c, err)
	}

	if err := s.Add(Remote{Name: "img", Addr: "https://images.example.com", Protocol: "simplestreams", Public: true}, nil); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, s.Path())
	for _, tc := range []struct {
		name, addr string
		class      error
		want       []string
	}{
		{"build", "unix://", errdefs.ErrInvalidArgument, []string{"no server certificate to pin"}},
		{"img", "unix://", errdefs.ErrInvalidArgument, []string{"simplestreams"}},
		{"build", "http://h:8443", errdefs.ErrInvalidArgument, []string{"expected https://"}},
		{"build", "", errdefs.ErrInvalidArgument, []string{"expected https://"}},
		{"nope", "https://h:8443", errdefs.ErrNotFound, []string{`"nope" not found`}},
		{"prod", "https://h:8443", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", filepath.Join(e.lxc, ConfigFile), "`lxc remote set-url prod https://h:8443`"}},
		{"lab", "https://h:8443", errdefs.ErrInvalidArgument, []string{"lxkit does not edit that file", "`incus remote set-url lab https://h:8443`"}},
		{"local", "https://h:8443", errdefs.ErrInvalidArgument, []string{"built in: its address cannot be changed"}},
	} {
		checkError(t, fmt.Sprintf("SetAddr(%q, %q)", tc.name, tc.addr), s.SetAddr(tc.name, tc.addr), tc.class, tc.want...)
	}
	if got := readFile(t, s.Path()); got != before {
		t.Errorf("a refused set-url changed lxkit's file:\n%s", got)
	}

	// Nothing to change: lxkit's directory is not created.
	e = setup(t, "", "", "")
	if err := e.open(t).SetAddr("local", "ftp://h"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("SetAddr(local, ftp://h): %v", err)
	}
	if _, err := os.Stat(e.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused SetAddr created lxkit's directory")
	}
	if err := e.open(t).SetAddr("local", "https://h:8443"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "built in") {
		t.Errorf("SetAddr(built-in local): %v", err)
	}
}

func TestMalformedYAML(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, line string
	}{
		{"lxkit syntax", "lxkit", "remotes:\n  web:\n    addr: https://h\n  bad line\n", "line 4"},
		{"lxkit type", "lxkit", "remotes:\n  web:\n    addr: https://h\n    public: maybe\n", "line 4"},
		{"lxc", "lxc", "default-remote: local\nremotes:\n  - not a map\n", "line 3"},
		{"incus tab", "incus", "remotes:\n\tlocal: {}\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var own, lxc, incus string
			switch tc.file {
			case "lxkit":
				own = tc.content
			case "lxc":
				lxc = tc.content
			case "incus":
				incus = tc.content
			}
			e := setup(t, own, lxc, incus)
			path := filepath.Join(map[string]string{"lxkit": e.dir, "lxc": e.lxc, "incus": e.incus}[tc.file], ConfigFile)
			_, err := OpenDir(e.dir, e.lxc, e.incus)
			if err == nil {
				t.Fatal("no error")
			}
			if want := path + ":" + strings.TrimPrefix(tc.line, "line ") + ": "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line starting with %s", err, want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("err = %v, want invalid argument", err)
			}
		})
	}
}

func TestConcurrentAdds(t *testing.T) {
	e := setup(t, "", "", "")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		// One store each, as separate processes would have.
		s := e.open(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Add(Remote{Name: fmt.Sprintf("r%d", i), Addr: "https://h:8443"}, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, r := range e.open(t).List() {
		if r.Source == SourceLXKit {
			names = append(names, r.Name)
		}
	}
	if len(names) != n {
		t.Errorf("after %d concurrent adds: %v", n, names)
	}
}

// exercise runs every store operation, the refused ones included, on names
// of every source.
func exercise(t *testing.T, e env) {
	t.Helper()
	s := e.open(t)
	for _, r := range s.List() {
		_, _ = r.ServerCert()
		_, _ = r.ClientFiles()
		_, _ = s.Get(r.Name)
		_ = s.SetDefault(r.Name)
		_ = s.SetAddr(r.Name, "https://y:8443")
		_ = s.SetAddr(r.Name, "unix:///run/y.socket")
		_ = s.Rename(r.Name, "renamed")
		_ = s.Rename("renamed", r.Name)
		_ = s.Add(Remote{Name: r.Name, Addr: "https://x:8443"}, e.serverCert)
		_ = s.Remove(r.Name)
		_ = s.Remove(r.Name)
	}
	_ = s.Add(Remote{Name: "new", Addr: "https://x:8443"}, e.serverCert)
	_ = s.SetDefault("new")
	_ = s.Rename("new", "newer")
	_ = s.SetAddr("newer", "https://z:8443")
	_ = s.Rename("newer", "new")
	_ = s.SetDefault("local")
	_ = s.Remove("new")
	_ = s.Default()
}

func TestNeverWritesLXCOrIncus(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	// Past mtimes, so that a rewrite within the same clock tick still shows.
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{e.lxc, e.incus} {
		filepath.WalkDir(d, func(p string, _ fs.DirEntry, _ error) error { return os.Chtimes(p, old, old) })
	}
	before := []dirsnap.Snapshot{dirsnap.Must(t, e.lxc), dirsnap.Must(t, e.incus)}
	exercise(t, e)
	after := []dirsnap.Snapshot{dirsnap.Must(t, e.lxc), dirsnap.Must(t, e.incus)}
	for i := range before {
		assertSame(t, before[i], after[i])
	}
	// And lxkit's own file did change, so the operations did run.
	if got := dirsnap.Must(t, e.dir); len(got) == 0 {
		t.Error("lxkit's directory is empty")
	}
}

func assertSame(t *testing.T, before, after dirsnap.Snapshot) {
	t.Helper()
	for _, d := range dirsnap.Diff(before, after) {
		t.Error(d)
	}
}

// TestRealConfigurations reads copies of this machine's lxc and incus
// configurations, if it has any: their format is what lxkit must read.
func TestRealConfigurations(t *testing.T) {
	d, err := certs.DefaultDirs()
	if err != nil {
		testhost.Unavailable(t, "no home directory: %v", err)
	}
	e := setup(t, "", "", "")
	found := 0
	for src, dst := range map[string]string{d.LXC: e.lxc, d.Incus: e.incus} {
		data, err := os.ReadFile(filepath.Join(src, ConfigFile))
		if err != nil {
			continue
		}
		found++
		if err := os.MkdirAll(dst, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, ConfigFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if found == 0 {
		// `make hosts` runs lxc and incus, which write their config.yml.
		testhost.Unavailable(t, "no lxc or incus configuration in %s or %s", d.LXC, d.Incus)
	}
	s := e.open(t)
	r, err := s.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := r.SocketPath(); !ok || p == "" {
		t.Errorf("local: socket %q, %v", p, ok)
	}
	for _, r := range s.List() {
		t.Logf("%s", row(r))
	}
	before := []dirsnap.Snapshot{dirsnap.Must(t, e.lxc), dirsnap.Must(t, e.incus)}
	exercise(t, e)
	assertSame(t, before[0], dirsnap.Must(t, e.lxc))
	assertSame(t, before[1], dirsnap.Must(t, e.incus))
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"web", "a.b-c_d", "", "..", "a/b", "-x", "é", "a b", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		// A valid name is one plain file name inside servercerts/.
		p := serverCertPath("/cfg", name)
		if filepath.Dir(p) != "/cfg/servercerts" || filepath.Base(p) != name+".crt" || strings.HasPrefix(name, ".") {
			t.Fatalf("valid name %q gives path %q", name, p)
		}
		for _, c := range name {
			if c > 0x7e || c <= ' ' || strings.ContainsRune(`/\:'"$`, c) {
				t.Fatalf("valid name %q holds %q", name, c)
			}
		}
	})
}

// TestSetMembers records the members of one of lxkit's remotes'
// clusters, which a later store reads back; lxc's remotes and addresses
// that are no HTTPS are refused.
func TestSetMembers(t *testing.T) {
	e := setup(t, lxkitConfig, lxcConfig, incusConfig)
	s := e.open(t)
	addrs := []string{"https://10.2.2.1:8443", "https://10.2.2.2:8443"}
	if err := s.SetMembers("build", addrs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, s.Path()), "    member_addrs:\n      - https://10.2.2.1:8443\n      - https://10.2.2.2:8443\n") {
		t.Errorf("lxkit's file:\n%s", readFile(t, s.Path()))
	}
	if r, err := e.open(t).Get("build"); err != nil || !slices.Equal(r.Members, addrs) {
		t.Fatalf("build read again: %+v, %v", r, err)
	}
	if err := s.SetMembers("prod", addrs); err == nil || !strings.Contains(err.Error(), "lxkit does not edit that file") {
		t.Errorf("lxc's remote: %v", err)
	}
	if err := s.SetMembers("build", []string{"10.2.2.3:8443"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("an address without https://: %v", err)
	}
	if err := s.SetMembers("build", nil); err != nil || strings.Contains(readFile(t, s.Path()), "member_addrs") {
		t.Errorf("no members: %v\n%s", err, readFile(t, s.Path()))
	}
}
