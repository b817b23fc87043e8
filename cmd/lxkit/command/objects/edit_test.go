package objects_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
)

// editable things: profiles, with an edit verb.
var editable = &objects.Kind[api.Profile, api.ProfilesPost]{
	Noun: "thing", Arg: "THING",
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.Profiles()) },
}

// profileHost is a host with one profile, p. With etags it answers with
// an ETag and checks If-Match as the REST API does; without, it is the
// CLI driver's API (no ETag read, none sent). It refuses config keys
// that do not start with "user.", as a daemon refuses unknown keys.
type profileHost struct {
	etags   bool
	profile api.Profile
	version int
	puts    []string // the If-Match of each PUT, in order
	refused []int    // the status of each refused PUT
}

func newProfileHost(etags bool) *profileHost {
	return &profileHost{etags: etags, version: 1, profile: api.Profile{
		Name: "p", UsedBy: []string{},
		ProfilePut: api.ProfilePut{Description: "before", Config: map[string]string{"user.a": "1"}, Devices: map[string]map[string]string{}},
	}}
}

func (h *profileHost) Addr() string { return "fake" }

func (h *profileHost) etag() string {
	if !h.etags {
		return ""
	}
	return strconv.Itoa(h.version)
}

func (h *profileHost) Query(_ context.Context, method, path string, _, out any) (string, error) {
	if method != http.MethodGet || path != "/1.0/profiles/p" {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "not found"}
	}
	data, _ := json.Marshal(h.profile)
	return h.etag(), json.Unmarshal(data, out)
}

func (h *profileHost) Do(_ context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	if method != http.MethodPut || path != "/1.0/profiles/p" {
		return nil, fmt.Errorf("unexpected %s %s", method, path)
	}
	h.puts = append(h.puts, ifMatch)
	if ifMatch != "" && ifMatch != h.etag() {
		h.refused = append(h.refused, http.StatusPreconditionFailed)
		return nil, &errdefs.StatusError{Status: http.StatusPreconditionFailed, Message: "ETag doesn't match"}
	}
	var put api.ProfilePut
	data, _ := json.Marshal(body)
	if err := json.Unmarshal(data, &put); err != nil {
		return nil, err
	}
	for k := range put.Config {
		if !strings.HasPrefix(k, "user.") {
			h.refused = append(h.refused, http.StatusBadRequest)
			return nil, &errdefs.StatusError{Status: http.StatusBadRequest, Message: "Unknown configuration key: " + k}
		}
	}
	h.change(func(p *api.ProfilePut) { *p = put })
	return &api.Operation{}, nil
}

// change changes the profile as someone else would.
func (h *profileHost) change(f func(*api.ProfilePut)) {
	f(&h.profile.ProfilePut)
	h.version++
}

type profileDriver struct {
	driver.Driver
	h *profileHost
}

func (d *profileDriver) API() hostapi.API { return d.h }

// editor is a fake editor: each call runs the next step on the file's
// text, and records what it was given.
type editor struct {
	t     *testing.T
	steps []func(text string) string
	seen  []string
}

func (e *editor) edit(_ context.Context, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	e.seen = append(e.seen, string(data))
	if len(e.seen) > len(e.steps) {
		e.t.Fatalf("the editor opened %d times; want %d", len(e.seen), len(e.steps))
	}
	return os.WriteFile(file, []byte(e.steps[len(e.seen)-1](string(data))), 0o600)
}

// runEdit runs `edit p` against h: in the editor ed when tty, else with
// stdin.
func runEdit(h *profileHost, tty bool, stdin string, ed *editor) error {
	f, _ := objectstest.Factory(&profileDriver{h: h})
	f.IOStreams.SetStdinTTY(tty)
	f.IOStreams.In = strings.NewReader(stdin)
	cmd := objects.NewCmdEdit(f, editable, func(ctx context.Context, o *objects.EditOptions) error {
		if ed != nil {
			o.Editor = ed.edit
		}
		return editable.RunEdit(ctx, o)
	})
	return objectstest.Execute(f, cmd, "edit", "p")
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

func same(s string) string { return s }

// TestEditChangedMeanwhile: a change made while the editor is open is
// not overwritten, through either driver's API, and the edit is not
// tried again: the daemon refuses the ETag (412), or, without ETags, the
// object read again before the PUT differs and nothing is sent.
func TestEditChangedMeanwhile(t *testing.T) {
	for _, etags := range []bool{true, false} {
		t.Run(fmt.Sprintf("etags=%v", etags), func(t *testing.T) {
			h := newProfileHost(etags)
			ed := &editor{t: t, steps: []func(string) string{func(s string) string {
				h.change(func(p *api.ProfilePut) { p.Config["user.other"] = "x" })
				return replace("description: before", "description: mine")(s)
			}}}
			err := runEdit(h, true, "", ed)
			if !errors.Is(err, errdefs.ErrPreconditionFailed) {
				t.Fatalf("got %v; want a precondition failure", err)
			}
			want := regexp.MustCompile(`^thing p changed since the editor opened: nothing sent; run edit again: .*\(your text is kept in (\S+)\)$`)
			m := want.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q does not match %s", err, want)
			}
			kept, rerr := os.ReadFile(m[1])
			os.Remove(m[1])
			if rerr != nil || !strings.Contains(string(kept), "description: mine") {
				t.Errorf("the kept file: %v\n%s", rerr, kept)
			}
			switch {
			case etags && (len(h.puts) != 1 || h.puts[0] != "1" || len(h.refused) != 1 || h.refused[0] != http.StatusPreconditionFailed):
				t.Errorf("PUTs with If-Match %q, refused %v; want one with If-Match 1, refused 412", h.puts, h.refused)
			case !etags && len(h.puts) != 0:
				t.Errorf("PUTs %q; want none", h.puts)
			}
			if h.profile.Description != "before" || h.profile.Config["user.other"] != "x" {
				t.Errorf("the profile is now %+v", h.profile.ProfilePut)
			}
		})
	}
}

// TestEditReopen: a refused text opens the editor again, the user's text
// with the error on top as # lines, until the daemon takes it.
func TestEditReopen(t *testing.T) {
	for _, etags := range []bool{true, false} {
		t.Run(fmt.Sprintf("etags=%v", etags), func(t *testing.T) {
			h := newProfileHost(etags)
			ed := &editor{t: t, steps: []func(string) string{
				replace("  user.a: \"1\"", "  user.a: \"2\"\n  bogus.key: x"),
				replace("  bogus.key: x", "  user.fixed: x"),
			}}
			if err := runEdit(h, true, "", ed); err != nil {
				t.Fatal(err)
			}
			second := ed.seen[1]
			if !strings.HasPrefix(second, "# Error: updating profile p: Unknown configuration key: bogus.key\n# ") {
				t.Errorf("reopened with:\n%s", second)
			}
			if !strings.Contains(second, "  user.a: \"2\"\n  bogus.key: x\n") {
				t.Errorf("the user's text is not kept:\n%s", second)
			}
			if strings.Count(second, "# Error:") != 1 {
				t.Errorf("one error on top expected:\n%s", second)
			}
			if got := h.profile.Config; got["user.a"] != "2" || got["user.fixed"] != "x" || len(got) != 2 {
				t.Errorf("config now %v", got)
			}
			if len(h.refused) != 1 || h.refused[0] != http.StatusBadRequest {
				t.Errorf("refused %v; want one 400", h.refused)
			}
		})
	}
}

// TestEditReopenYAMLError: a YAML error reopens the editor too, and its
// line is the line of the reopened file.
func TestEditReopenYAMLError(t *testing.T) {
	h := newProfileHost(true)
	ed := &editor{t: t, steps: []func(string) string{
		replace("config:", "confg:"),
		replace("confg:", "config:"),
	}}
	if err := runEdit(h, true, "", ed); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(ed.seen[1], "\n")
	m := regexp.MustCompile(`^# Error: lxkit-edit-\d+\.yaml:(\d+): unknown key "confg"`).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("reopened with:\n%s", ed.seen[1])
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > len(lines) || lines[n-1] != "confg:" {
		t.Errorf("the error names line %d; confg: is elsewhere:\n%s", n, ed.seen[1])
	}
	// Fixed, the text is the profile as it was: nothing to send.
	if len(h.puts) != 0 || h.version != 1 {
		t.Errorf("PUTs %q, profile %+v", h.puts, h.profile.ProfilePut)
	}
}

// TestEditGiveUp: saving the text unchanged after an error ends the
// edit, with the error; nothing more is sent.
func TestEditGiveUp(t *testing.T) {
	h := newProfileHost(true)
	ed := &editor{t: t, steps: []func(string) string{replace("config:", "config:\n  bogus.key: x"), same}}
	err := runEdit(h, true, "", ed)
	if err == nil || !strings.Contains(err.Error(), "saved unchanged after an error: nothing sent") || !strings.Contains(err.Error(), "bogus.key") {
		t.Fatalf("got %v", err)
	}
	if m := regexp.MustCompile(`kept in (\S+)\)`).FindStringSubmatch(err.Error()); m != nil {
		os.Remove(m[1])
	}
	if len(h.puts) != 1 || h.version != 1 {
		t.Errorf("PUTs %q, version %d", h.puts, h.version)
	}
}

// TestEditNothingSent: an unchanged file (comments aside) sends nothing;
// an emptied one cancels.
func TestEditNothingSent(t *testing.T) {
	h := newProfileHost(true)
	if err := runEdit(h, true, "", &editor{t: t, steps: []func(string) string{same}}); err != nil {
		t.Fatal(err)
	}
	if err := runEdit(h, true, "", &editor{t: t, steps: []func(string) string{func(s string) string { return "# mine\n" + s }}}); err != nil {
		t.Fatal(err)
	}
	err := runEdit(h, true, "", &editor{t: t, steps: []func(string) string{func(string) string { return "# nothing\n\n" }}})
	if err == nil || !strings.Contains(err.Error(), "edit cancelled") {
		t.Errorf("emptied: %v", err)
	}
	if len(h.puts) != 0 {
		t.Errorf("PUTs %q; want none", h.puts)
	}
}

// TestEditStdin: without a terminal the text comes from stdin and an
// error ends the command: the editor never opens.
func TestEditStdin(t *testing.T) {
	never := &editor{t: t}
	tests := []struct {
		stdin, err string // err: "" for success
	}{
		{"description: piped\nconfig:\n  user.a: 1\n", ""},
		{"name: ignored\nused_by: [x]\ndescription: piped\nconfig: {user.a: \"1\"}\n", ""},
		{"config:\n  bogus.key: x\n", "updating profile p: Unknown configuration key: bogus.key"},
		{"description: x\nconfg: {}\n", `stdin:2: unknown key "confg": the keys to edit are config, description, devices`},
		{"description: [x\n", "stdin:1: "},
		{"config:\n  user.a: [1]\n", "stdin:2: cannot unmarshal"},
		{"devices: x\n", "stdin:1: cannot unmarshal"},
		{"- a\n", "stdin:1: expected a mapping"},
		{"", "stdin: empty"},
		{"\xff\n", "invalid UTF-8"},
	}
	for _, tt := range tests {
		h := newProfileHost(true)
		err := runEdit(h, false, tt.stdin, never)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.stdin, err)
		case tt.err == "" && (h.profile.Description != "piped" || h.profile.Config["user.a"] != "1"):
			t.Errorf("%q: profile now %+v", tt.stdin, h.profile.ProfilePut)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: got %v; want %q", tt.stdin, err, tt.err)
		case tt.err != "" && h.version != 1:
			t.Errorf("%q: the profile changed: %+v", tt.stdin, h.profile.ProfilePut)
		}
	}
}
