package client

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseAddr: any --host text gives an endpoint or an error, never a
// panic, and an error never repeats a password given in the URL.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"", "unix://", "unix:///x", "/var/lib/lxd/unix.socket", "https://h", "https://h:1/",
		"h:8443", "https://u:hunter2@h", "ssh://u:hunter2@h", "https://[::1]:8443", "https://%zz", "a b", "https://h/p?q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := ParseAddr(s)
		if err != nil {
			if u, perr := url.Parse(s); perr == nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(err.Error(), pw) && !strings.Contains(strings.Replace(s, pw, "", 1), pw) {
					t.Fatalf("error repeats the password: %v", err)
				}
			}
			return
		}
		if (ep.Socket == "") == (ep.Host == "") {
			t.Fatalf("%q: endpoint %+v must be a socket or a host", s, ep)
		}
	})
}
