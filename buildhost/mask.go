package buildhost

import (
	"bytes"
	"io"
	"slices"
	"strings"
)

// Mask is what a secret's value becomes in a job's log.
const Mask = "***"

// masker writes what it is given with every secret value replaced by Mask.
// A write that ends with the start of a secret keeps that end back until
// the next write (or Flush) tells whether the secret follows, so a value
// split across writes is masked too.
type masker struct {
	w       io.Writer
	secrets [][]byte // longest first: a longer value wins over its prefix
	pending []byte
}

// newMasker masks the values, and each line of a multi-line value (a key
// file printed one line at a time), in what goes to w. Values shorter
// than four bytes are not masked: they would hide every such word.
func newMasker(w io.Writer, values []string) *masker {
	m := &masker{w: w}
	add := func(s string) {
		if len(s) >= 4 && !slices.ContainsFunc(m.secrets, func(b []byte) bool { return string(b) == s }) {
			m.secrets = append(m.secrets, []byte(s))
		}
	}
	for _, v := range values {
		add(v)
		for _, line := range strings.Split(v, "\n") {
			add(strings.TrimSuffix(line, "\r"))
		}
	}
	slices.SortFunc(m.secrets, func(a, b []byte) int { return len(b) - len(a) })
	return m
}

func (m *masker) Write(p []byte) (int, error) {
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	m.pending = append(m.pending, p...)
	out, rest := m.mask(m.pending, false)
	m.pending = append(m.pending[:0], rest...)
	if len(out) > 0 {
		if _, err := m.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what was kept back: the output it could have started a
// secret with has ended.
func (m *masker) Flush() error {
	if len(m.pending) == 0 {
		return nil
	}
	out, _ := m.mask(m.pending, true)
	m.pending = m.pending[:0]
	_, err := m.w.Write(out)
	return err
}

// mask returns b with the secrets replaced, and (unless final) the end of
// b that may be the start of a secret, to be looked at again with more.
func (m *masker) mask(b []byte, final bool) (out, rest []byte) {
	start := 0 // b[start:i] is plain output not yet copied
	for i := 0; i < len(b); {
		matched, partial := 0, false
		for _, s := range m.secrets {
			if matched == 0 && bytes.HasPrefix(b[i:], s) {
				matched = len(s)
			}
			if !final && len(b)-i < len(s) && bytes.HasPrefix(s, b[i:]) {
				partial = true
			}
		}
		switch {
		case partial:
			// A longer secret may follow: masking a shorter one now
			// would show the rest of it.
			return append(out, b[start:i]...), b[i:]
		case matched > 0:
			out = append(out, b[start:i]...)
			out = append(out, Mask...)
			i += matched
			start = i
		default:
			i++
		}
	}
	return append(out, b[start:]...), nil
}
