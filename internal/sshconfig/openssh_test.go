package sshconfig

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgainstOpenSSH reads configurations with Read and with OpenSSH's own
// `ssh -G -F FILE HOST` (the configuration ssh evaluates, printed) and
// compares what lxkit uses. ssh -G is the oracle here, not what lxkit runs
// when it dials: it reads ~ from the password database where lxkit
// follows $HOME, -F drops /etc/ssh/ssh_config, and its output cannot tell
// a setting from a default.
func TestAgainstOpenSSH(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no ssh client (scripts/install-hosts.sh installs openssh-server, which brings it): %v", err)
		}
		t.Skip("no ssh client")
	}
	dir := t.TempDir()
	included := filepath.Join(dir, "included")
	if err := os.WriteFile(included, []byte("Host inc*\n  Port 2300\n  User from-include\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configs := []string{
		`Host b1 b2
  HostName build-%h.lan
  Port 2201
Match originalhost b2
  User deploy
  IdentityFile ~/.ssh/deploy
  IdentityFile /keys/second
Host *
  ProxyJump jump.lan
  ConnectTimeout 7
  UserKnownHostsFile /kh/one /kh/two
`,
		`Host *.lan !skip.lan
  User lan-user
  Port=2222
Host "quoted host"
  Port 1
Match host build-*,web? user lan-user
  ConnectTimeout 3
Match !host web1
  ProxyJump none
Match all
  Port 9
  User last
`,
		`Include ` + included + `
Host a
  Port 2400
Match exec "true"
  User by-exec
Match exec "false"
  HostName never
Match localuser ` + LocalUser() + `
  ConnectTimeout 11
`,
	}
	hosts := []string{"b1", "b2", "c", "x.lan", "skip.lan", "web1", "web2", "inc1", "a", "build-1"}
	for i, text := range configs {
		file := filepath.Join(dir, "config"+string(rune('0'+i)))
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, host := range hosts {
			o, err := Read(host, "", []File{{Path: file}})
			if err != nil {
				t.Fatalf("config %d, host %s: %v", i, host, err)
			}
			g := openSSH(t, sshBin, file, host)
			got := map[string]string{
				"hostname":       or(ExpandTokens(o.Get("hostname"), map[byte]string{'h': host}), host),
				"user":           or(o.Get("user"), LocalUser()),
				"port":           or(o.Get("port"), "22"),
				"proxyjump":      o.Get("proxyjump"),
				"connecttimeout": or(o.Get("connecttimeout"), "none"),
			}
			if g["proxyjump"] == "" && got["proxyjump"] == "none" {
				got["proxyjump"] = "" // ssh prints no ProxyJump of "none"
			}
			if v, ok := o.Values("userknownhostsfile"); ok {
				got["userknownhostsfile"] = strings.Join(v, " ")
			} else {
				got["userknownhostsfile"] = g["userknownhostsfile"] // its default, not compared
			}
			if len(o.IdentityFiles) > 0 {
				got["identityfile"] = strings.Join(o.IdentityFiles, " ")
			} else {
				got["identityfile"] = g["identityfile"]
			}
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if got[k] != g[k] {
					t.Errorf("config %d, host %s: %s is %q; ssh -G says %q", i, host, k, got[k], g[k])
				}
			}
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// openSSH returns the values that `ssh -G -F file host` prints, a list's
// values joined by spaces.
func openSSH(t *testing.T, sshBin, file, host string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, sshBin, "-G", "-F", file, host).Output()
	if err != nil {
		t.Fatalf("ssh -G -F %s %s: %v", file, host, err)
	}
	values := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		if values[key] != "" {
			values[key] += " " + val
		} else {
			values[key] = val
		}
	}
	return values
}
