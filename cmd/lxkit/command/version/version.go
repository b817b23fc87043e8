// Package version is `lxkit version` and `lxkit --version`: what the
// binary was built from, read from the build information Go stamps into
// it (the module's version, the commit of a checkout built with
// -buildvcs, the Go version), and the version of the host's daemon.
package version

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// Info is what a build of lxkit says about itself.
type Info struct {
	// Version is the module's: a release tag, a pseudo-version made
	// from the commit, or "(devel)" when Go knew neither.
	Version string `json:"version"`
	// Commit and CommitTime are the checkout's, when it was built from
	// one (`make build`); Modified says it had uncommitted changes.
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

// Read returns this binary's Info.
func Read() Info {
	i := Info{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	if v := bi.Main.Version; v != "" {
		i.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.time":
			i.CommitTime = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the one line `lxkit --version` prints.
func (i Info) String() string {
	s := i.Version
	if i.Commit != "" {
		commit := i.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		s += " (commit " + commit
		if i.CommitTime != "" {
			s += " of " + i.CommitTime
		}
		if i.Modified {
			s += ", with changes"
		}
		s += ")"
	}
	return s + ", " + i.Go + " " + i.Platform
}

// Options are the inputs of `lxkit version`.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)
}

// Output is what `lxkit version --format json|yaml` prints.
type Output struct {
	Client Info          `json:"client"`
	Server *ServerOutput `json:"server"`
}

// ServerOutput is the host's daemon, or why it did not answer.
type ServerOutput struct {
	Kind    string `json:"kind,omitempty"`
	Version string `json:"version,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Error   string `json:"error,omitempty"`
}

// NewCmdVersion returns `lxkit version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	return &cobra.Command{
		Use:   "version",
		Short: "Show lxkit's version and the host daemon's",
		Long: `Show the version lxkit was built as (its commit when built from a checkout
with make build, and the Go version), then the kind and version of the
host's daemon, or why it did not answer: that is no error.`,
		Args: cmdutil.MaximumArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
}

func versionRun(ctx context.Context, opts *Options) error {
	out := Output{Client: Read(), Server: server(ctx, opts)}
	return cmdutil.Print(opts.IO, opts.Globals.Format, out, func(w io.Writer) error {
		fmt.Fprintf(w, "Client: lxkit %s\n", out.Client)
		if s := out.Server; s.Error != "" {
			fmt.Fprintf(w, "Server: unreachable: %s\n", s.Error)
		} else {
			fmt.Fprintf(w, "Server: %s %s at %s\n", s.Kind, s.Version, s.Addr)
		}
		return nil
	})
}

// server asks the host's daemon for its kind and version.
func server(ctx context.Context, opts *Options) *ServerOutput {
	d, err := opts.Driver(ctx)
	if err != nil {
		return &ServerOutput{Error: err.Error()}
	}
	s, err := host.New(d.API()).Server(ctx)
	if err != nil {
		return &ServerOutput{Error: err.Error()}
	}
	return &ServerOutput{Kind: s.Environment.Server, Version: s.Environment.ServerVersion, Addr: d.API().Addr()}
}
