package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"go.yaml.in/yaml/v3"
)

// Formats are the values of --format.
var Formats = []string{FormatTable, FormatJSON, FormatYAML}

// ValidateFormat checks a --format value.
func ValidateFormat(f string) error {
	if slices.Contains(Formats, f) {
		return nil
	}
	return FlagErrorf("--format %q: use table, json or yaml", f)
}

// Print writes v to ios.Out in format: JSON (indented), YAML (with the
// JSON field names), or, for the table format, whatever table writes.
func Print(ios *iostreams.IOStreams, format string, v any, table func(w io.Writer) error) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		return WriteYAML(ios.Out, v)
	}
	return table(ios.Out)
}

// WriteYAML writes v as YAML. v goes through encoding/json first, so the
// keys and their order are those of the JSON output.
func WriteYAML(w io.Writer, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(buf, &doc); err != nil {
		return fmt.Errorf("converting to YAML: %w", err)
	}
	plain(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(out.Bytes())
	return err
}

// plain drops the JSON styles (quoted strings, {} and [] flows) that a
// node parsed from JSON carries, so that it prints as block YAML. The
// encoder still quotes strings that would otherwise read as another type.
func plain(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle // {} and [] read better than nothing
		}
	}
	for _, c := range n.Content {
		plain(c)
	}
}

// NewTable returns a tab-aligned writer for table output; flush it.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
}

// Success prints an informational line for people at a terminal: only
// when stderr is a terminal and --quiet is not set, and never on stdout.
func Success(ios *iostreams.IOStreams, g *Globals, format string, args ...any) {
	if ios.IsStderrTTY() && !g.Quiet {
		fmt.Fprintf(ios.ErrOut, format+"\n", args...)
	}
}

// FormatTime prints a time for the tables, in local time; the zero time
// is "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
