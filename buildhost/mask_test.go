package buildhost

import (
	"bytes"
	"strings"
	"testing"
)

// maskInPieces writes text to a masker in pieces of the given sizes
// (cycled), then flushes.
func maskInPieces(t testing.TB, secrets []string, text string, sizes []int) string {
	var out bytes.Buffer
	m := newMasker(&out, secrets)
	for i := 0; len(text) > 0; i++ {
		n := min(len(text), max(1, sizes[i%len(sizes)]))
		if _, err := m.Write([]byte(text[:n])); err != nil {
			t.Fatal(err)
		}
		text = text[n:]
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestMask(t *testing.T) {
	secrets := []string{"hunter22", "hunter22-long", "-----BEGIN KEY-----\nAAAAsecretline\n-----END KEY-----", "abc"}
	for _, c := range []struct{ in, want string }{
		{"nothing here\n", "nothing here\n"},
		{"password=hunter22\n", "password=***\n"},
		{"hunter22hunter22", "******"},
		{"hunter22-long and hunter22-lon", "*** and ***-lon"},
		{"hunter2 hunter", "hunter2 hunter"},    // prefixes stay, at the end too
		{"line AAAAsecretline\n", "line ***\n"}, // one line of a multi-line secret
		{"abc is too short to mask", "abc is too short to mask"},
		{"-----BEGIN KEY-----\nAAAAsecretline\n-----END KEY-----\n", "***\n"},
	} {
		for _, sizes := range [][]int{{1 << 20}, {1}, {2}, {3, 5}, {7, 1, 4}} {
			if got := maskInPieces(t, secrets, c.in, sizes); got != c.want {
				t.Errorf("%q in pieces %v = %q; want %q", c.in, sizes, got, c.want)
			}
		}
	}
	// No secrets: written through as is.
	if got := maskInPieces(t, nil, "hunter22", []int{3}); got != "hunter22" {
		t.Errorf("no secrets: %q", got)
	}
}

// FuzzMask: however the output is cut into writes, what comes out is what
// one write gives, and no secret is in it.
func FuzzMask(f *testing.F) {
	f.Add("the key is s3cr3t-value, not s3cr3t-val", "s3cr3t-value", "s3cr3t", uint8(3))
	f.Add("aaaaaaaaab", "aaab", "aaaab", uint8(1))
	f.Fuzz(func(t *testing.T, text, s1, s2 string, cut uint8) {
		secrets := []string{s1, s2}
		whole := maskInPieces(t, secrets, text, []int{len(text) + 1})
		if got := maskInPieces(t, secrets, text, []int{int(cut%9) + 1, 1}); got != whole {
			t.Fatalf("in pieces %q; in one write %q", got, whole)
		}
		m := newMasker(nil, secrets)
		for _, s := range m.secrets {
			// A secret may be made anew by a mask next to text; only
			// secrets without '*' can be checked.
			if !bytes.ContainsRune(s, '*') && strings.Contains(whole, string(s)) {
				t.Fatalf("secret %q in %q (from %q)", s, whole, text)
			}
		}
	})
}
