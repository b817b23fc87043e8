package cmdutil

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"go.yaml.in/yaml/v3"
)

// Formats are the values of --format. lxkit's tables have no borders,
// as lxc's compact ones: compact is another name for table.
var Formats = []string{FormatTable, FormatCompact, FormatCSV, FormatJSON, FormatYAML}

// ValidateFormat checks a --format value.
func ValidateFormat(f string) error {
	if slices.Contains(Formats, f) {
		return nil
	}
	return FlagErrorf("--format %q: use table, compact, csv, json or yaml", f)
}

// Print writes v to ios.Out in format: JSON (indented), YAML (with the
// JSON field names), or, for the table formats, whatever table writes;
// the tables it makes with NewTable come out as CSV for csv.
func Print(ios *iostreams.IOStreams, format string, v any, table func(w io.Writer) error) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		return WriteYAML(ios.Out, v)
	}
	return table(formatted{Writer: ios.Out, format: format})
}

// formatted is the writer Print hands a table function: it tells
// NewTable the format asked for.
type formatted struct {
	io.Writer
	format string
}

// A Table is written as lines of tab-separated cells, and printed on
// Flush: aligned (table, compact), or as CSV (csv) without its header
// line, as lxc prints CSV.
type Table struct {
	out    io.Writer
	csv    bool
	header bool
	buf    bytes.Buffer
}

// NewTable returns a table whose first line is its header; flush it.
func NewTable(w io.Writer) *Table {
	t := &Table{out: w, header: true}
	if f, ok := w.(formatted); ok {
		t.out, t.csv = f.Writer, f.format == FormatCSV
	}
	return t
}

// NewRows returns a table with no header line (key and value rows).
func NewRows(w io.Writer) *Table {
	t := NewTable(w)
	t.header = false
	return t
}

// Write adds text to the table.
func (t *Table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush prints the table written so far.
func (t *Table) Flush() error {
	defer t.buf.Reset()
	if t.buf.Len() == 0 {
		return nil
	}
	if !t.csv {
		tw := tabwriter.NewWriter(t.out, 0, 0, 3, ' ', 0)
		if _, err := tw.Write(t.buf.Bytes()); err != nil {
			return err
		}
		return tw.Flush()
	}
	lines := strings.Split(strings.TrimSuffix(t.buf.String(), "\n"), "\n")
	if t.header {
		lines = lines[1:]
	}
	cw := csv.NewWriter(t.out)
	for _, l := range lines {
		cells := strings.Split(l, "\t")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
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

// Success prints an informational line for people at a terminal: only
// when stderr is a terminal and --quiet is not set, and never on stdout.
func Success(ios *iostreams.IOStreams, g *Globals, format string, args ...any) {
	if ios.IsStderrTTY() && !g.Quiet {
		fmt.Fprintf(ios.ErrOut, format+"\n", args...)
	}
}

// Info prints a line that says what lxkit chose for the user (which
// remote an image came from): on stderr, unless --quiet.
func Info(ios *iostreams.IOStreams, g *Globals, format string, args ...any) {
	if !g.Quiet {
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
