package client_test

import (
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
)

func TestTokenMember(t *testing.T) {
	tok := func(addrs ...string) string {
		return client.EncodeTrustToken(api.TrustToken{ClientName: "c", Fingerprint: "ab", Secret: "s", Addresses: addrs})
	}
	for _, tc := range []struct {
		token, addr, want string
	}{
		{tok("10.0.0.1:8443"), "https://10.0.0.2:8443", "https://10.0.0.1:8443"}, // another member
		{tok("10.0.0.1:8443"), "https://10.0.0.1:8443", ""},                      // the one that made it
		{tok("10.0.0.1:8443"), "https://10.0.0.1", ""},                           // the default port
		{tok("10.0.0.1:8443", "[fd00::1]:8443"), "https://[fd00::1]:8443", ""},   // any of its addresses
		{tok("10.0.0.1:9443"), "https://10.0.0.1:8443", "https://10.0.0.1:9443"}, // another port
		{tok(), "https://10.0.0.2:8443", ""},                                     // no address to go to
		{"not a token", "https://10.0.0.2:8443", ""},
		{tok("10.0.0.1:8443"), "/var/lib/lxd/unix.socket", ""},
	} {
		if got := client.TokenMember(tc.token, tc.addr); got != tc.want {
			t.Errorf("TokenMember(token of %s, %s) = %q, want %q", tc.token[:8], tc.addr, got, tc.want)
		}
	}
}
