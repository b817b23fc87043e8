// Package shquote quotes arguments for POSIX shells (sh, dash, bash,
// busybox ash). Every argument that crosses a shell, including nested
// `sh -c` hops, must be quoted by Quote or Join.
//
// Shells pass arbitrary bytes through, so invalid UTF-8 is fine here; it is
// the LXD/Incus exec API, which takes argv as JSON strings, that cannot carry
// it. Use CheckJSON before sending argv over that hop.
package shquote

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrNUL reports a NUL byte, which no shell argument (or argv entry) can carry.
var ErrNUL = errors.New("shquote: string contains a NUL byte")

// ErrInvalidUTF8 reports a string that a JSON argv cannot carry.
var ErrInvalidUTF8 = errors.New("shquote: string is not valid UTF-8")

// Quote returns s quoted for a POSIX shell so that the shell reads it back
// as exactly s, as one word. Strings made only of [A-Za-z0-9_@%+=:,./-] are
// returned as is; anything else is single-quoted, each embedded quote
// written as:
//
//	'\''
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", ErrNUL
	}
	if s != "" && isSafe(s) {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// Join quotes each argument and joins them with spaces: the shell command
// line that runs argv exactly. The command word is also quoted when the
// shell would otherwise read it as an assignment (a=b) or a reserved word.
func Join(argv []string) (string, error) {
	words := make([]string, len(argv))
	for i, a := range argv {
		q, err := Quote(a)
		if err != nil {
			return "", fmt.Errorf("shquote: argument %d: %w", i, err)
		}
		if i == 0 && q == a && (strings.Contains(a, "=") || reserved[a]) {
			q = "'" + a + "'"
		}
		words[i] = q
	}
	return strings.Join(words, " "), nil
}

// CheckJSON reports the first argument that a JSON argv (the LXD/Incus exec
// API) cannot carry: one with a NUL byte or invalid UTF-8.
func CheckJSON(argv []string) error {
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("shquote: argument %d: %w", i, ErrNUL)
		}
		if !utf8.ValidString(a) {
			return fmt.Errorf("shquote: argument %d %q: %w", i, a, ErrInvalidUTF8)
		}
	}
	return nil
}

// CheckCommand is CheckJSON for a command and its environment, which
// cross the exec API together.
func CheckCommand(argv []string, env map[string]string) error {
	if err := CheckJSON(argv); err != nil {
		return err
	}
	for k, v := range env {
		if err := CheckJSON([]string{k, v}); err != nil {
			return fmt.Errorf("shquote: environment variable %q: %w", k, errors.Unwrap(err))
		}
	}
	return nil
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_@%+=:,./-", c) >= 0) {
			return false
		}
	}
	return true
}

// reserved holds the shell reserved words (POSIX and bash) made only of
// safe characters; unquoted in command position they change the syntax.
var reserved = map[string]bool{
	"case": true, "do": true, "done": true, "elif": true, "else": true,
	"esac": true, "fi": true, "for": true, "if": true, "in": true,
	"then": true, "until": true, "while": true,
	"function": true, "select": true, "time": true, "coproc": true,
}
