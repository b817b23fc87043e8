package lxccmd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestReadyFilter: the marker is taken off the start of each stream
// however the writes split it, a stream that starts otherwise passes
// whole, and the go-ahead line comes only once both streams showed it.
func TestReadyFilter(t *testing.T) {
	const m = "lxkit-ready-0123\n"
	for _, tc := range []struct {
		name           string
		stdout, stderr []string
		wantOut        string
		wantErr        string
		ready          bool
	}{
		{"one write each", []string{m + "hello\n"}, []string{m + "oops\n"}, "hello\n", "oops\n", true},
		{"split marker", []string{"lxkit-", "ready-01", "23\n", "he", "llo"}, []string{m[:1], m[1:]}, "hello", "", true},
		{"lxc's own error", nil, []string{"Error: Instance not found\n"}, "", "Error: Instance not found\n", false},
		{"cut inside the marker", []string{"lxkit-re"}, []string{m}, "lxkit-re", "", false},
		{"marker-like output", []string{m + m}, []string{m + "lxkit-ready-0123"}, m, "lxkit-ready-0123", true},
		{"lxc's error after the marker", []string{m}, []string{m + "Error: websocket: close 1006\n"}, "", "Error: websocket: close 1006\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newReadyGate(strings.TrimSuffix(m, "\n"), strings.NewReader("input"))
			var out, errs bytes.Buffer
			fo, fe := g.filter(&out), g.filter(&errs)
			for _, w := range []struct {
				f      *readyFilter
				chunks []string
			}{{fo, tc.stdout}, {fe, tc.stderr}} {
				for _, c := range w.chunks {
					if n, err := w.f.Write([]byte(c)); n != len(c) || err != nil {
						t.Fatalf("Write(%q) = %d, %v", c, n, err)
					}
				}
			}
			select {
			case <-g.seen:
				if !tc.ready {
					t.Error("go-ahead given without both markers")
				}
			default:
				if tc.ready {
					t.Error("no go-ahead after both markers")
				}
			}
			if err := errors.Join(fo.flush(), fe.flush()); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.wantOut || errs.String() != tc.wantErr {
				t.Errorf("got %q, %q; want %q, %q", out.String(), errs.String(), tc.wantOut, tc.wantErr)
			}
			if tc.ready {
				in, err := io.ReadAll(g)
				if err != nil || string(in) != "\ninput" {
					t.Errorf("input %q, %v; want the go-ahead line and the command's input", in, err)
				}
			}
		})
	}
}

// TestReadyGateEnds: a gate whose markers never come gives no input and
// ends when the exec is over.
func TestReadyGateEnds(t *testing.T) {
	g := newReadyGate("m;", strings.NewReader("input"))
	got := make(chan error, 1)
	go func() {
		_, err := g.Read(make([]byte, 8))
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Read returned %v before the markers", err)
	case <-time.After(50 * time.Millisecond):
	}
	g.close()
	if err := <-got; err != io.EOF {
		t.Errorf("Read after close: %v; want io.EOF", err)
	}
}

// TestHoldingFilter: on lxc's standard error, a stream that does not
// start with the marker (lxc's own words: the command never began) is
// held until the exec is over, then flushed or discarded; one that does
// passes as it comes and says the command began.
func TestHoldingFilter(t *testing.T) {
	const m = "lxkit-ready-0123\n"
	g := newReadyGate(strings.TrimSuffix(m, "\n"), nil)
	var errs bytes.Buffer
	f := g.holdingFilter(&errs)
	f.Write([]byte("Error: Inst"))
	f.Write([]byte("ance not found\n"))
	if errs.Len() != 0 || f.began() {
		t.Fatalf("lxc's error passed at once (%q) or began %v", errs.String(), f.began())
	}
	if !f.discard() || errs.Len() != 0 {
		t.Errorf("discard: %q left", errs.String())
	}
	f = g.holdingFilter(&errs)
	f.Write([]byte("Error: something else\n"))
	if err := f.flush(); err != nil || errs.String() != "Error: something else\n" {
		t.Errorf("flush: %q, %v", errs.String(), err)
	}
	errs.Reset()
	f = g.holdingFilter(&errs)
	f.Write([]byte(m + "warn\n"))
	if errs.String() != "warn\n" || !f.began() || f.discard() {
		t.Errorf("after the marker: %q, began %v", errs.String(), f.began())
	}
	errs.Reset()
	f = g.holdingFilter(&errs)
	big := strings.Repeat("x", maxHeld+1)
	f.Write([]byte(big))
	if errs.Len() != len(big) {
		t.Errorf("more than maxHeld: %d bytes passed, want all %d", errs.Len(), len(big))
	}
}
