package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestDefaultDirs(t *testing.T) {
	home := t.TempDir()
	snap := filepath.Join(home, "snap", "lxd", "common", "config")
	for _, tc := range []struct {
		name  string
		env   map[string]string
		mkdir []string // made in home first
		want  Dirs
	}{
		{
			name: "defaults",
			want: Dirs{LXKit: home + "/.config/lxkit", LXC: home + "/.config/lxc", Incus: home + "/.config/incus"},
		},
		{
			name: "variables",
			env:  map[string]string{"LXKIT_CONF": "/a", "LXD_CONF": "/b", "INCUS_CONF": "/c", "XDG_CONFIG_HOME": "/x"},
			want: Dirs{LXKit: "/a", LXC: "/b", Incus: "/c"},
		},
		{
			name: "XDG_CONFIG_HOME moves lxkit's only",
			env:  map[string]string{"XDG_CONFIG_HOME": "/x"},
			want: Dirs{LXKit: "/x/lxkit", LXC: home + "/.config/lxc", Incus: home + "/.config/incus"},
		},
		{
			name: "a relative XDG_CONFIG_HOME is ignored",
			env:  map[string]string{"XDG_CONFIG_HOME": "rel"},
			want: Dirs{LXKit: home + "/.config/lxkit", LXC: home + "/.config/lxc", Incus: home + "/.config/incus"},
		},
		{
			name:  "the snap's lxc",
			mkdir: []string{snap},
			want:  Dirs{LXKit: home + "/.config/lxkit", LXC: snap, Incus: home + "/.config/incus"},
		},
		{
			name:  "Debian's lxc wins over the snap's",
			mkdir: []string{snap, home + "/.config/lxc"},
			want:  Dirs{LXKit: home + "/.config/lxkit", LXC: home + "/.config/lxc", Incus: home + "/.config/incus"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(home, "snap"))
			os.RemoveAll(filepath.Join(home, ".config"))
			for _, d := range tc.mkdir {
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("HOME", home)
			for _, k := range []string{"LXKIT_CONF", "LXD_CONF", "INCUS_CONF", "XDG_CONFIG_HOME"} {
				t.Setenv(k, tc.env[k])
			}
			got, err := DefaultDirs()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultDirsWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("LXKIT_CONF", "/a")
	t.Setenv("LXD_CONF", "/b")
	t.Setenv("INCUS_CONF", "/c")
	if d, err := DefaultDirs(); err != nil || d != (Dirs{"/a", "/b", "/c"}) {
		t.Errorf("got %+v, %v", d, err)
	}
	t.Setenv("INCUS_CONF", "")
	if _, err := DefaultDirs(); err == nil {
		t.Error("no error without $HOME and $INCUS_CONF")
	}
}

func TestClientFiles(t *testing.T) {
	root := t.TempDir()
	d := Dirs{LXKit: filepath.Join(root, "lxkit"), LXC: filepath.Join(root, "lxc"), Incus: filepath.Join(root, "incus")}
	give := func(dir string) {
		t.Helper()
		if _, err := Generate(filepath.Join(dir, ClientCertFile), filepath.Join(dir, ClientKeyFile), GenerateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	_, err := d.ClientFiles()
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	for _, dir := range []string{d.LXKit, d.LXC, d.Incus} {
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("%q does not say it looked in %s", err, dir)
		}
	}

	for _, step := range []struct {
		give string
		want string
	}{
		{d.Incus, SourceIncus},
		{d.LXC, SourceLXC},
		{d.LXKit, SourceLXKit},
	} {
		give(step.give)
		f, err := d.ClientFiles()
		if err != nil {
			t.Fatal(err)
		}
		if f.Source != step.want || f.Cert != filepath.Join(step.give, ClientCertFile) || f.Key != filepath.Join(step.give, ClientKeyFile) {
			t.Errorf("got %+v, want %s's files", f, step.want)
		}
		if _, err := f.Load(); err != nil {
			t.Error(err)
		}
	}

	// lxkit's key without its certificate is an error, not a fallback.
	os.Remove(filepath.Join(d.LXKit, ClientCertFile))
	if _, err := d.ClientFiles(); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), ClientKeyFile) {
		t.Errorf("err = %v, want the lone key named", err)
	}

	if own := d.OwnClientFiles(); own.Source != SourceLXKit || filepath.Dir(own.Cert) != d.LXKit {
		t.Errorf("OwnClientFiles = %+v", own)
	}

	// An empty directory is not looked at.
	if f, err := (Dirs{LXC: d.LXC}).ClientFiles(); err != nil || f.Source != SourceLXC {
		t.Errorf("got %+v, %v", f, err)
	}
}
