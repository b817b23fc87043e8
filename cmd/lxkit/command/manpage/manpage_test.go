package manpage_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/manpage"
)

// TestPages writes lxkit's pages: one per command a user can run, each
// of which groff (Debian's groff-base, on every Debian) formats without
// a warning, with its flags and its place in the tree.
func TestPages(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := command.NewCmdRoot(cmdutil.NewFactory(ios))
	dir := t.TempDir()
	files, err := manpage.WriteAll(root, dir, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	var count func(c *cobra.Command)
	count = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		want++
		for _, s := range c.Commands() {
			count(s)
		}
	}
	count(root)
	if len(files) != want || want < 100 {
		t.Fatalf("%d pages, want %d", len(files), want)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Fatalf("no groff to check the pages with: %v", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(groff, append([]string{"-man", "-Tutf8", "-ww", "-z"}, files...)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
	page, err := os.ReadFile(filepath.Join(dir, "lxkit-stop.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`.TH "LXKIT\-STOP" 1 "2026\-12\-07" "lxkit" "lxkit manual"`,
		`lxkit\-stop \- Stop containers`,
		"\\fB\\-\\-retry\\-interval\\fR \\fIduration\\fR\nthe longest a stop request waits before it is sent again (default 10s)\n",
		"\\fB\\-\\-host\\fR \\fIstring\\fR",
		".SH SEE ALSO\n\\fBlxkit\\fR(1)",
	} {
		if !strings.Contains(string(page), w) {
			t.Errorf("lxkit-stop.1 lacks %q:\n%s", w, page)
		}
	}
}
