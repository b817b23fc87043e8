package ssh

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
)

func TestApplySSHConfig(t *testing.T) {
	home := writeConfig(t, map[string]string{
		".ssh/config": `
# global values come first only if nothing before them said otherwise
Include conf.d/*.conf

Host build1 build2
  HostName %h.ci.example
  User ci
  IdentityFile ~/.ssh/ci_%r
  ConnectTimeout 7

Host build*
  Port 2200
  User ignored-the-first-value-wins
  IdentityFile %d/second

Match originalhost build2 user ci
  ProxyJump bastion.example:2222

Host !build1 *
  UserKnownHostsFile ~/.ssh/known_%n none
  GlobalKnownHostsFile none
  IdentityAgent none
`,
		".ssh/conf.d/a.conf": "Host build2\n  Port 2202\n",
	})

	c, err := Config{Host: "build1"}.applySSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Host: "build1.ci.example", User: "ci", Port: 2200, Timeout: 7 * time.Second,
		configKeyFiles: []string{filepath.Join(home, ".ssh/ci_ci"), filepath.Join(home, "second")}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("build1:\n got %+v\nwant %+v", c, want)
	}

	c, err = Config{Host: "build2"}.applySSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	want = Config{Host: "build2.ci.example", User: "ci", Port: 2202, Timeout: 7 * time.Second,
		ProxyJump: "bastion.example:2222", NoAgent: true,
		KnownHosts:     []string{filepath.Join(home, ".ssh/known_build2")},
		configKeyFiles: []string{filepath.Join(home, ".ssh/ci_ci"), filepath.Join(home, "second")}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("build2:\n got %+v\nwant %+v", c, want)
	}

	// What the caller set wins; the Match on user no longer holds.
	c, err = Config{Host: "build2", User: "root", Port: 22, KeyFiles: []string{"/k"}, Timeout: time.Second}.applySSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "root" || c.Port != 22 || c.ProxyJump != "" || c.configKeyFiles != nil || c.Timeout != time.Second {
		t.Errorf("explicit values: got %+v", c)
	}

	// No configuration files: nothing changes.
	c, err = Config{Host: "build1", NoConfigFiles: true}.applySSHConfig()
	if err != nil || !reflect.DeepEqual(c, Config{Host: "build1", NoConfigFiles: true}) {
		t.Errorf("NoConfigFiles: %+v, %v", c, err)
	}
}

func TestSSHConfigKnownHostsNone(t *testing.T) {
	writeConfig(t, map[string]string{".ssh/config": "UserKnownHostsFile none\nGlobalKnownHostsFile none\n"})
	c, err := Config{Host: "h"}.applySSHConfig()
	if err != nil || !reflect.DeepEqual(c.KnownHosts, []string{os.DevNull}) {
		t.Errorf("none: %q, %v; want no host known", c.KnownHosts, err)
	}
}

func TestSSHConfigErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"Host a\n  Match tagged x\n", "config:2: match tagged is not supported"},
		{"Match localnetwork 10.0.0.0\n", `config:1: match localnetwork: "10.0.0.0" is not`},
		{"Match exec\n", "config:1: match exec without an argument"},
		{"Host a\nHostName \"x\n", "config:2: unterminated quote"},
		{"Host\n", "config:1: Host without a pattern"},
		{"Port\n", "config:1: port without a value"},
		{"Port 99999\n", `bad Port "99999"`},
		{"ConnectTimeout soon\n", `bad ConnectTimeout "soon"`},
		{"Include config\n", "Include nested more than 16 deep"},
	} {
		writeConfig(t, map[string]string{".ssh/config": tc.config})
		_, err := Config{Host: "a"}.applySSHConfig()
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an invalid-argument error with %q", tc.config, err, tc.want)
		}
	}
}

func TestJumpHosts(t *testing.T) {
	writeConfig(t, map[string]string{".ssh/config": "Host bastion\n  HostName 192.0.2.1\n  User jump\n  ProxyJump elsewhere\n"})
	hops, err := Config{Host: "x", ProxyJump: "bastion, ops@192.0.2.2:2222", NoAgent: true}.jumpHosts()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hops {
		got = append(got, h.URL()+" jump="+h.ProxyJump)
	}
	want := []string{"ssh://jump@192.0.2.1:22 jump=", "ssh://ops@192.0.2.2:2222 jump="}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hops %q, want %q", got, want)
	}
	if _, err := (Config{Host: "x", ProxyJump: "a:b:c"}).jumpHosts(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad ProxyJump: %v", err)
	}
}

// TestMatchExecAndLocalNetwork: Match exec runs its command with the
// tokens expanded (exit 0 matches); Match localnetwork looks at this
// machine's interface addresses.
func TestMatchExecAndLocalNetwork(t *testing.T) {
	home := writeConfig(t, map[string]string{".ssh/config": `
Host b1
  HostName build1
Match exec "test %h = build1 && test %n = b1 && test %r = $(id -un) && test %d = $HOME"
  Port 2201
Match exec "exit 1"
  User nobody
Match !localnetwork 127.0.0.0/8
  User not-on-loopback
Match localnetwork 192.0.2.0/24,127.0.0.0/8
  IdentityFile ~/on-loopback
Match all
  User ci
`})
	c, err := Config{Host: "b1"}.applySSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 2201 || c.User != "ci" || !reflect.DeepEqual(c.configKeyFiles, []string{filepath.Join(home, "on-loopback")}) {
		t.Errorf("got port %d, user %s, keys %q; want port 2201, user ci and the loopback key", c.Port, c.User, c.configKeyFiles)
	}
}

func FuzzSSHConfig(f *testing.F) {
	defer func(run func(string) bool) { matchExec = run }(matchExec)
	matchExec = func(string) bool { return false } // never run made-up commands
	f.Setenv("HOME", f.TempDir())                  // relative Includes stay in here
	f.Add("Host a b\n HostName %h.x\nMatch host a,!b user c\nInclude x\n", "a")
	f.Add("Port=22\nIdentityFile \"~/a b\"\n", "h")
	f.Fuzz(func(t *testing.T, config, host string) {
		home := t.TempDir()
		p := filepath.Join(home, "config")
		if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Config{Host: host, ConfigFiles: []string{p}}.applySSHConfig()
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("error of no class: %v", err)
		}
	})
}

// TestSSHConfigIncludeNotAFile: an Include of a device or a directory is an
// error, never a read that does not end.
func TestSSHConfigIncludeNotAFile(t *testing.T) {
	for _, include := range []string{"/dev/zero", "/dev/null", "/"} {
		writeConfig(t, map[string]string{".ssh/config": "Include " + include + "\n"})
		_, err := Config{Host: "a"}.applySSHConfig()
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Include %s: %v", include, err)
		}
	}
}

// writeConfig writes files under a fresh HOME and returns the home.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for name, text := range files {
		p := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}
