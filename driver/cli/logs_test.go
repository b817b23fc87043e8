package cli

import "testing"

// What lxc 5.0.2 and incus 6.0.4 printed.
func TestAfterLogHeader(t *testing.T) {
	for _, c := range []struct {
		out, want string
		ok        bool
	}{
		{"Name: c\nStatus: STOPPED\nCreated: 2026/12/07 05:48 UTC\n\nLog:\n\n\n", "", true},
		{"Name: c\nStatus: RUNNING\n\nLog:\n\nlxc c 2026 WARN one\nlxc c 2026 WARN two\n\n", "lxc c 2026 WARN one\nlxc c 2026 WARN two\n", true},
		// The log's own "Log:" lines stay in it.
		{"Name: c\n\nLog:\n\nfirst\n\nLog:\n\nsecond\n\n", "first\n\nLog:\n\nsecond\n", true},
		{"Name: c\nStatus: RUNNING\n", "", false},
	} {
		got, ok := afterLogHeader([]byte(c.out))
		if string(got) != c.want || ok != c.ok {
			t.Errorf("afterLogHeader(%q) = %q, %v; want %q, %v", c.out, got, ok, c.want, c.ok)
		}
	}
}

// What lxc 5.0.2 and incus 6.0.4 printed.
func TestConsoleText(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{"\nConsole log:\n\nhello-console4\r\n\n", "hello-console4\r\n"}, // lxc
		{"hello-console4\r\n\n", "hello-console4\r\n"},                   // incus
		{"\n", ""}, // incus, empty
		{"\nConsole log:\n\n\n", ""},
	} {
		if got := consoleText([]byte(c.out)); string(got) != c.want {
			t.Errorf("consoleText(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}
