package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromCheckout builds lxkit as `make build` does and checks
// that it names the checkout's commit.
func TestVersionFromCheckout(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("this test runs in a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "lxkit")
	if out, err := exec.Command("make", "--no-print-directory", "-C", "../..", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
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
