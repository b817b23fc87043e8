// Package objectstest is what the tests of the host-object commands share:
// a host API answering from canned documents, drivers over it (nested
// hosts too), and a bare root to run a command under.
package objectstest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// API answers GETs from canned documents and records other requests.
type API struct {
	Address string
	Docs    map[string]any // by path
	Sent    []string       // "METHOD PATH"
}

func (a *API) Addr() string { return a.Address }

func (a *API) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	if method != http.MethodGet {
		_, err := a.Do(ctx, method, path, body, "")
		return "", err
	}
	doc, ok := a.Docs[path]
	if !ok {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "not found"}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return "", json.Unmarshal(data, out)
}

func (a *API) Do(_ context.Context, method, path string, _ any, _ string) (*api.Operation, error) {
	a.Sent = append(a.Sent, method+" "+path)
	return &api.Operation{}, nil
}

// Driver is a driver with an API and nothing else.
type Driver struct {
	driver.Driver
	Host *API
}

func (d *Driver) API() hostapi.API { return d.Host }

// Nesting is a Driver whose containers hold the hosts in Nested, by
// container path (a driver.Nester, as driver/nested is).
type Nesting struct {
	Driver
	Nested map[string]*Driver
}

func (n *Nesting) Host(_ context.Context, path string) (driver.Driver, error) {
	if d, ok := n.Nested[path]; ok {
		return d, nil
	}
	return nil, hostapi.NoInstance(path, "fake")
}

// Factory returns a factory whose driver is d, and its standard output.
func Factory(d driver.Driver) (*cmdutil.Factory, func() string) {
	ios, _, out, _ := iostreams.Test()
	f := cmdutil.NewFactory(ios)
	f.Driver = func(context.Context) (driver.Driver, error) { return d, nil }
	return f, out.String
}

// Execute runs cmd under a bare root, as cmd.NewCmdRoot adds it (usage
// errors are FlagErrors; --format is global), with args after the root.
func Execute(f *cmdutil.Factory, cmd *cobra.Command, args ...string) error {
	r := &cobra.Command{Use: "lxkit", SilenceErrors: true, SilenceUsage: true}
	r.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	r.SetOut(io.Discard)
	r.PersistentFlags().StringVar(&f.Globals.Format, "format", cmdutil.FormatTable, "")
	r.AddCommand(cmd)
	r.SetArgs(args)
	return r.Execute()
}

// Parse runs one command built by newCmd with a test hook, and returns
// the options the command would run with, their Scope reduced to its
// Host so that tests can compare them. args start with the command's own
// name.
func Parse[O any](newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, args ...string) (*O, error) {
	f, _ := Factory(nil)
	var got *O
	err := Execute(f, newCmd(f, func(_ context.Context, o *O) error { got = o; return nil }), args...)
	if got != nil {
		if v := reflect.ValueOf(got).Elem().FieldByName("Scope"); v.IsValid() {
			s := v.Addr().Interface().(*objects.Scope)
			*s = objects.Scope{Host: s.Host}
		}
	}
	return got, err
}
