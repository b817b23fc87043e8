package unixmode

import (
	"io/fs"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, v := range []uint32{0, 0o644, 0o755, 0o4755, 0o2750, 0o1777, 0o7777} {
		if got := To(From(v)); got != v {
			t.Errorf("%o -> %o", v, got)
		}
	}
	if From(0o4755) != fs.ModeSetuid|0o755 {
		t.Errorf("setuid bit not mapped")
	}
}
