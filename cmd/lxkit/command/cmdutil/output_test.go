package cmdutil

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

func TestWriteYAML(t *testing.T) {
	v := struct {
		Name    string            `json:"name"`
		Config  map[string]string `json:"config"`
		Devices map[string]string `json:"devices"`
		List    []string          `json:"profiles"`
		Count   int               `json:"count"`
	}{
		Name:    "web",
		Config:  map[string]string{"b.key": "true", "a.key": "0", "c.key": "plain"},
		Devices: map[string]string{},
		List:    []string{"default"},
		Count:   3,
	}
	var buf bytes.Buffer
	if err := WriteYAML(&buf, v); err != nil {
		t.Fatal(err)
	}
	// JSON names and order; strings that would read as other types quoted;
	// empty maps as {}.
	want := `name: web
config:
  a.key: "0"
  b.key: "true"
  c.key: plain
devices: {}
profiles:
  - default
count: 3
`
	if buf.String() != want {
		t.Errorf("WriteYAML:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestPrint(t *testing.T) {
	v := map[string]string{"status": "running"}
	for format, want := range map[string]string{
		FormatJSON:  "{\n  \"status\": \"running\"\n}\n",
		FormatYAML:  "status: running\n",
		FormatTable: "running\n",
	} {
		ios, _, out, _ := iostreams.Test()
		err := Print(ios, format, v, func(w io.Writer) error {
			_, err := w.Write([]byte("running\n"))
			return err
		})
		if err != nil || out.String() != want {
			t.Errorf("Print(%s) = %q, %v; want %q", format, out.String(), err, want)
		}
	}
	if err := ValidateFormat("xml"); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "table, compact, csv, json or yaml") {
		t.Errorf("ValidateFormat(xml) = %v; want a usage error", err)
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	p := StartProgress(ios, &Globals{}, "Pushing", true)
	p.Add(10)
	p.Stop()
	if errOut.Len() != 0 {
		t.Errorf("progress printed %q with stderr not a terminal", errOut.String())
	}

	ios.SetStderrTTY(true)
	p = StartProgress(ios, &Globals{Quiet: true}, "Pushing", true)
	p.Stop()
	if errOut.Len() != 0 {
		t.Errorf("progress printed %q with --quiet", errOut.String())
	}

	p = StartProgress(ios, &Globals{}, "Pushing", true)
	p.SetTotal(2048)
	p.Add(1024)
	p.Stop()
	p.Stop()
	// How many frames were drawn depends on the scheduler: at least the
	// first, and the line is cleared at the end.
	if s := errOut.String(); !strings.HasPrefix(s, "\r\x1b[K| Pushing  ") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("progress output %q: want a line, cleared at the end", s)
	}
	// What a frame shows.
	errOut.Reset()
	p.render(1)
	if s := errOut.String(); s != "\r\x1b[K/ Pushing  1.0 KiB / 2.0 KiB  0s" {
		t.Errorf("frame = %q", s)
	}
}

// TestTableFormats: a table prints aligned for table and compact, and as
// CSV without its header line for csv (as lxc does), quoting cells that
// need it; rows with no header keep their first line.
func TestTableFormats(t *testing.T) {
	rows := [][2]string{{"web", "Running"}, {"db, main", `say "hi"`}}
	for _, tc := range []struct {
		format string
		header bool
		want   string
	}{
		{FormatTable, true, "NAME       STATUS\nweb        Running\ndb, main   say \"hi\"\n"},
		{FormatCompact, true, "NAME       STATUS\nweb        Running\ndb, main   say \"hi\"\n"},
		{FormatCSV, true, "web,Running\n\"db, main\",\"say \"\"hi\"\"\"\n"},
		{FormatCSV, false, "NAME,STATUS\nweb,Running\n\"db, main\",\"say \"\"hi\"\"\"\n"},
	} {
		ios, _, out, _ := iostreams.Test()
		err := Print(ios, tc.format, rows, func(w io.Writer) error {
			tw := NewTable(w)
			if !tc.header {
				tw = NewRows(w)
			}
			io.WriteString(tw, "NAME\tSTATUS\n")
			for _, r := range rows {
				io.WriteString(tw, r[0]+"\t"+r[1]+"\n")
			}
			return tw.Flush()
		})
		if err != nil || out.String() != tc.want {
			t.Errorf("%s (header %v): %q, %v; want %q", tc.format, tc.header, out.String(), err, tc.want)
		}
	}
}
