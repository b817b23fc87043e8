// Package monitor is `lxkit monitor`: the host's events as they happen.
package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// Options are the inputs of `lxkit monitor`.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Types       []string // empty means every type
	AllProjects bool
}

// NewCmdMonitor returns `lxkit monitor`.
func NewCmdMonitor(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "monitor [--type lifecycle,logging,operation] [--all-projects]",
		Short: "Print the host's events as they happen, until interrupted",
		Long: `Print the host's events as they happen, until interrupted: lifecycle events
(an instance created, started, deleted; a profile updated...), log messages
of the daemon, and background operations. --type keeps some of them.

The table format prints one line per event: its time, its type and a summary
(a lifecycle event's action and source, a log message's level and text, an
operation's description and status). --format json prints each event as one
JSON object on a line; --format yaml, as one YAML document.`,
		Example: `  lxkit monitor --type lifecycle
  lxkit monitor --format json | jq -r .metadata.action
  lxkit --host /var/lib/incus/unix.socket monitor --type operation --all-projects`,
		Args: cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for i, t := range opts.Types {
				opts.Types[i] = strings.TrimSpace(t)
			}
			if _, err := (api.EventOptions{Types: opts.Types}).EventTypes(); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("--type: %w", err)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return monitorRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Types, "type", nil, "only events of these types: lifecycle, logging, operation (default: all)")
	cmd.Flags().BoolVar(&opts.AllProjects, "all-projects", false, "events of every project, not only the host's current one")
	return cmd
}

func monitorRun(ctx context.Context, opts *Options) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	show := printer(opts.IO.Out, opts.Globals.Format)
	err = host.New(d.API()).Events(ctx, api.EventOptions{Types: opts.Types, AllProjects: opts.AllProjects}, show)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // interrupted: the way a monitor ends
	}
	return err
}

// printer returns the function that prints one event in format.
func printer(w io.Writer, format string) func(api.Event) error {
	switch format {
	case cmdutil.FormatJSON:
		enc := json.NewEncoder(w) // one object per line
		return func(ev api.Event) error { return enc.Encode(ev) }
	case cmdutil.FormatYAML:
		return func(ev api.Event) error {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
			return cmdutil.WriteYAML(w, ev)
		}
	}
	return func(ev api.Event) error {
		_, err := fmt.Fprintln(w, line(ev))
		return err
	}
}

// timeLayout is RFC 3339 with milliseconds, in the local time zone.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// line is an event as the table format prints it: its time, its type and
// a summary, on one line.
func line(ev api.Event) string {
	summary := summarize(ev)
	if ev.Project != "" && ev.Project != "default" {
		summary = "[" + ev.Project + "] " + summary
	}
	return fmt.Sprintf("%s  %-9s  %s", ev.Timestamp.Local().Format(timeLayout), ev.Type, oneLine(summary))
}

// summarize says what an event is about in a few words: a lifecycle
// event's action and source, a log message's level, text and context, an
// operation's description, status and instances, or else the metadata as
// JSON.
func summarize(ev api.Event) string {
	m := ev.Metadata
	switch ev.Type {
	case api.EventTypeLifecycle:
		action, source := host.LifecycleAction(ev)
		if action != "" {
			return strings.TrimSpace(action + " " + source)
		}
	case api.EventTypeLogging:
		if msg := str(m, "message"); msg != "" {
			s := str(m, "level") + ": " + msg
			if ctx, ok := m["context"].(map[string]any); ok {
				s += " " + pairs(ctx)
			}
			return strings.TrimSpace(s)
		}
	case api.EventTypeOperation:
		if desc := str(m, "description"); desc != "" {
			s := desc + ": " + str(m, "status")
			if res, ok := m["resources"].(map[string]any); ok {
				if insts, ok := res["instances"].([]any); ok {
					for _, i := range insts {
						if v, ok := i.(string); ok {
							s += " " + v
						}
					}
				}
			}
			if e := str(m, "err"); e != "" {
				s += " (" + e + ")"
			}
			return s
		}
	}
	buf, _ := json.Marshal(m)
	return string(buf)
}

// str returns m[key] when it is a string.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// pairs formats a log message's context as key=value, sorted by key.
func pairs(ctx map[string]any) string {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := fmt.Sprint(ctx[k])
		if v == "" || strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// oneLine keeps a summary on its line: daemon messages may hold newlines.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
