package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/errdefs"
)

// EditorCommand is the editor the user asked for, as lxc picks it: the
// words of $VISUAL, else of $EDITOR, else vi.
func EditorCommand() []string {
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if words := strings.Fields(os.Getenv(v)); len(words) > 0 {
			return words
		}
	}
	return []string{"vi"}
}

// RunEditor opens file in the user's editor (EditorCommand) on ios's
// streams and waits for it to end. The editor is not stopped when ctx
// ends: an interrupt reaches it from the terminal, and it decides (vi
// keeps running). An editor that exits with a non-zero status is an
// error.
func RunEditor(_ context.Context, ios *iostreams.IOStreams, file string) error {
	words := EditorCommand()
	cmd := exec.Command(words[0], append(words[1:], file)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ios.In, ios.Out, ios.ErrOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "editor %q: not found; set VISUAL or EDITOR", words[0])
	case errors.As(err, &exit):
		return fmt.Errorf("editor %s: %w", strings.Join(words, " "), err)
	case err != nil:
		return fmt.Errorf("running editor %s: %w", strings.Join(words, " "), err)
	}
	return nil
}
