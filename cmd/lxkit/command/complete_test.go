package command_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/hostapi"
)

// listingAPI answers every GET with one object under the path asked,
// and records the paths.
type listingAPI struct {
	hostapi.API
	asked []string
}

func (a *listingAPI) Query(_ context.Context, method, path string, _, out any) (string, error) {
	a.asked = append(a.asked, path)
	raw, _ := json.Marshal([]string{path + "/obj"})
	return "", json.Unmarshal(raw, out)
}

type listingDriver struct {
	driver.Driver
	api *listingAPI
}

func (d listingDriver) API() hostapi.API { return d.api }

// TestCompletionKinds: each command completes its first argument (every
// argument, where it takes several of one kind) from the host's list of
// what the argument names, and nothing where it names something new.
func TestCompletionKinds(t *testing.T) {
	for line, want := range map[string]string{
		"start ":                "/1.0/instances",
		"delete a ":             "/1.0/instances",
		"show a ":               "",
		"info ":                 "/1.0/instances",
		"info a ":               "",
		"console ":              "/1.0/instances",
		"list ":                 "",
		"cat ":                  "/1.0/instances",
		"copy ":                 "/1.0/instances",
		"launch ":               "",
		"profile show ":         "/1.0/profiles",
		"profile create ":       "",
		"network delete a ":     "/1.0/networks",
		"storage volume list ":  "/1.0/storage-pools",
		"project set ":          "/1.0/projects",
		"cluster evacuate ":     "/1.0/cluster/members",
		"cluster group delete ": "/1.0/cluster/groups",
		"image show ":           "/1.0/images/aliases",
		"image alias delete ":   "/1.0/images/aliases",
		"snapshot create ":      "/1.0/instances",
		"move a --target ":      "/1.0/cluster/members",
		"launch a --image ":     "/1.0/images/aliases",
		"--project ":            "/1.0/projects",
	} {
		ios, _, out, _ := iostreams.Test()
		f := cmdutil.NewFactory(ios)
		a := &listingAPI{}
		f.Driver = func(context.Context) (driver.Driver, error) { return listingDriver{api: a}, nil }
		args := append([]string{"__complete"}, strings.Split(line, " ")...)
		if code := command.Run(context.Background(), f, args); code != 0 {
			t.Errorf("%q: exit %d", line, code)
			continue
		}
		got := strings.Join(a.asked, " ")
		if got != want {
			t.Errorf("%q: asked the host for %q, want %q", line, got, want)
		}
		if want != "" && !strings.HasPrefix(out.String(), "obj") {
			t.Errorf("%q: completed %q", line, out.String())
		}
	}
}
