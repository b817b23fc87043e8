package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromCheckout installs lxkit as `make install` does, with
// PREFIX and DESTDIR, and checks that the binary names the checkout's
// commit and that its man pages are there.
func TestVersionFromCheckout(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("this test runs in a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	tmp := t.TempDir()
	if out, err := exec.Command("make", "--no-print-directory", "-C", "../..", "install", "BIN="+filepath.Join(tmp, "build", "lxkit"),
		"MAN="+filepath.Join(tmp, "man1"), "DESTDIR="+filepath.Join(tmp, "dest"), "PREFIX=/opt/lxkit").CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(tmp, "dest", "opt", "lxkit", "bin", "lxkit")
	for _, page := range []string{"lxkit.1", "lxkit-launch.1", "lxkit-profile-show.1"} {
		if _, err := os.Stat(filepath.Join(tmp, "dest", "opt", "lxkit", "share", "man", "man1", page)); err != nil {
			t.Error(err)
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "(commit "+commit[:12]+" of ") || !strings.HasPrefix(string(out), "lxkit v") {
		t.Fatalf("lxkit --version: %q, %v; want commit %s", out, err, commit[:12])
	}
	out, err = exec.Command(bin, "--host", filepath.Join(t.TempDir(), "none.sock"), "version", "--format", "json").Output()
	if err != nil || !strings.Contains(string(out), `"commit": "`+commit+`"`) {
		t.Fatalf("lxkit version --format json: %s, %v", out, err)
	}
}
