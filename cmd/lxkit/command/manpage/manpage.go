// Package manpage writes a man page (section 1, roff with the man macros)
// for each command of a cobra command tree: lxkit(1), lxkit-start(1),
// lxkit-profile-show(1).
package manpage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// WriteAll writes a page for root and for every command under it that is
// not hidden into dir, dated date, and returns the files written.
func WriteAll(root *cobra.Command, dir string, date time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c.Hidden || c.Name() == "help" {
			return nil
		}
		file := filepath.Join(dir, PageName(c)+".1")
		out, err := os.Create(file)
		if err != nil {
			return err
		}
		err = Write(out, c, date)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		files = append(files, file)
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return files, walk(root)
}

// PageName is a command's page: its path joined by dashes.
func PageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-")
}

// Write writes c's page to w.
func Write(w io.Writer, c *cobra.Command, date time.Time) error {
	root := c.Root().Name()
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 1 %s %s %s\n", quote(strings.ToUpper(PageName(c))), quote(date.Format("2006-01-02")),
		quote(root), quote(root+" manual"))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", text(PageName(c)), text(c.Short))
	b.WriteString(".SH SYNOPSIS\n.nf\n")
	b.WriteString(text(c.UseLine()) + "\n.fi\n")
	if long := c.Long; long != "" || c.Short != "" {
		if long == "" {
			long = c.Short
		}
		b.WriteString(".SH DESCRIPTION\n")
		b.WriteString(paragraphs(long))
	}
	if subs := visible(c.Commands()); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range subs {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR(1)\n%s\n", text(PageName(s)), text(s.Short))
		}
	}
	writeFlags(&b, "OPTIONS", c.NonInheritedFlags())
	writeFlags(&b, "GLOBAL OPTIONS", c.InheritedFlags())
	if c.Example != "" {
		b.WriteString(".SH EXAMPLES\n.nf\n")
		b.WriteString(text(strings.Trim(c.Example, "\n")) + "\n.fi\n")
	}
	var see []string
	if c.HasParent() {
		see = append(see, fmt.Sprintf("\\fB%s\\fR(1)", text(PageName(c.Parent()))))
	}
	if len(see) > 0 {
		b.WriteString(".SH SEE ALSO\n" + strings.Join(see, ", ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFlags lists flags under a heading, if there are any to show.
func writeFlags(b *strings.Builder, heading string, flags *pflag.FlagSet) {
	var items []string
	flags.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden || fl.Name == "help" {
			return
		}
		name, usage := pflag.UnquoteUsage(fl)
		head := "\\fB\\-\\-" + text(fl.Name) + "\\fR"
		if fl.Shorthand != "" {
			head = "\\fB\\-" + text(fl.Shorthand) + "\\fR, " + head
		}
		if name != "" && fl.Value.Type() != "bool" {
			head += " \\fI" + text(name) + "\\fR"
		}
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "[]" && fl.DefValue != "0s" && !strings.Contains(usage, "(default") {
			usage += " (default " + fl.DefValue + ")"
		}
		items = append(items, ".TP\n"+head+"\n"+text(usage)+"\n")
	})
	if len(items) > 0 {
		b.WriteString(".SH " + heading + "\n" + strings.Join(items, ""))
	}
}

// visible are the commands a reader of the page can run.
func visible(cmds []*cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range cmds {
		if !c.Hidden && c.Name() != "help" && c.IsAvailableCommand() {
			out = append(out, c)
		}
	}
	return out
}

// paragraphs turns a help text's blank-line separated paragraphs into
// .PP paragraphs; lines that start with spaces (examples, lists) keep
// their layout.
func paragraphs(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(strings.Trim(s, "\n"), "\n\n") {
		b.WriteString(".PP\n")
		if strings.HasPrefix(p, " ") || strings.Contains(p, "\n ") {
			b.WriteString(".nf\n" + text(p) + "\n.fi\n")
			continue
		}
		b.WriteString(text(p) + "\n")
	}
	return b.String()
}

// text escapes s for roff: backslashes, dashes (so that they stay
// hyphen-minus, as a reader types them), and a line starting with a
// control character (. or ').
func text(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// quote makes s one argument of a roff request.
func quote(s string) string {
	return `"` + strings.ReplaceAll(text(s), `"`, `\(dq`) + `"`
}
