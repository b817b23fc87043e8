package fleet_test

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
)

// NativeUserData hands one file on as written and several as a MIME
// multipart document that cloud-init merges as lxkit's Merge does.
func TestNativeUserData(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.cfg":    "#cloud-config\nruncmd: [a]\n",
		"b.sh":     "#!/bin/sh\necho b\n",
		"c.cfg":    "#cloud-config\nwrite_files: [{path: /c, content: c}]\n",
		"bad.yaml": "image: x\n",
		"bad.cfg":  "#cloud-config\nruncmd:\n  - a\n b: [\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
		return out
	}

	if got, err := fleet.NativeUserData(p("a.cfg")); err != nil || got != files["a.cfg"] {
		t.Errorf("one file: %q, %v; want it as written", got, err)
	}
	if got, err := fleet.NativeUserData(nil); err != nil || got != "" {
		t.Errorf("no file: %q, %v", got, err)
	}

	got, err := fleet.NativeUserData(p("a.cfg", "b.sh", "c.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fleet.NativeUserData(p("a.cfg", "b.sh", "c.cfg")); again != got {
		t.Errorf("the same files made another user-data:\n%s\nthen:\n%s", got, again)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got))
	if err != nil {
		t.Fatalf("not a MIME message: %v\n%s", err, got)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q, %v", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	want := []struct{ kind, body string }{
		{"text/cloud-config", files["a.cfg"]}, {"text/x-shellscript", files["b.sh"]}, {"text/cloud-config", files["c.cfg"]},
	}
	for i := 0; ; i++ {
		part, err := r.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("%d parts; want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(part)
		kind, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if i >= len(want) || kind != want[i].kind || string(body) != want[i].body {
			t.Errorf("part %d: %s %q", i, kind, body)
			continue
		}
		if m := part.Header.Get("Merge-Type"); m != "list(append)+dict(recurse_array)+str()" {
			t.Errorf("part %d: Merge-Type %q", i, m)
		}
	}

	for name, want := range map[string]string{
		"bad.yaml": "bad.yaml:1: not a #cloud-config file or a #! script",
		"bad.cfg":  "did not find expected key",
	} {
		_, err := fleet.NativeUserData(p("a.cfg", name))
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v; want an invalid argument with %q", name, err, want)
		}
	}
}
