package client

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/certs"
)

// Certificates lists the certificates the daemon trusts.
func (c *Client) Certificates(ctx context.Context) ([]api.Certificate, error) {
	var certs []api.Certificate
	_, err := c.Query(ctx, http.MethodGet, "/1.0/certificates?recursion=1", nil, &certs)
	return certs, err
}

// TrustCertificate makes the daemon trust a client certificate, over a
// connection it already trusts (e.g. the unix socket). A certificate it
// already trusts is not an error.
func (c *Client) TrustCertificate(ctx context.Context, name string, cert *x509.Certificate) error {
	body := api.CertificatesPost{Name: name, Type: "client",
		Certificate: base64.StdEncoding.EncodeToString(cert.Raw)}
	_, err := c.Do(ctx, http.MethodPost, "/1.0/certificates", body, "")
	if errors.Is(err, errdefs.ErrConflict) {
		return nil
	}
	return err
}

// RemoveCertificate stops trusting a certificate, by fingerprint or a
// unique prefix of one. A certificate that is not trusted is not an error.
func (c *Client) RemoveCertificate(ctx context.Context, fingerprint string) error {
	fp := strings.ToLower(fingerprint)
	if len(fp) < 64 {
		certs, err := c.Certificates(ctx)
		if err != nil {
			return err
		}
		var match []string
		for _, ct := range certs {
			if strings.HasPrefix(ct.Fingerprint, fp) {
				match = append(match, ct.Fingerprint)
			}
		}
		switch len(match) {
		case 0:
			return nil
		case 1:
			fp = match[0]
		default:
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "fingerprint prefix %q matches %d certificates: give more of it", fingerprint, len(match))
		}
	}
	_, err := c.Query(ctx, http.MethodDelete, "/1.0/certificates/"+PathEscape(fp), nil, nil)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// CreateTrustToken asks the daemon for a one-time token with which a
// client named name can become trusted. The daemon must listen on the
// network (see EnableHTTPSListener): the token carries its addresses.
func (c *Client) CreateTrustToken(ctx context.Context, name string) (string, error) {
	op, err := c.Start(ctx, http.MethodPost, "/1.0/certificates", api.CertificatesPost{Name: name, Type: "client", Token: true}, "")
	if err != nil {
		return "", err
	}
	if op == nil {
		return "", errors.New("the daemon answered a token request without an operation")
	}
	tok := api.TrustToken{ClientName: name}
	tok.Secret, _ = op.Metadata["secret"].(string)
	tok.Fingerprint, _ = op.Metadata["fingerprint"].(string)
	if addrs, ok := op.Metadata["addresses"].([]any); ok {
		for _, a := range addrs {
			if s, ok := a.(string); ok {
				tok.Addresses = append(tok.Addresses, s)
			}
		}
	}
	if exp, ok := op.Metadata["expiresAt"].(string); ok {
		tok.ExpiresAt, _ = time.Parse(time.RFC3339Nano, exp)
	}
	if tok.Secret == "" || tok.Fingerprint == "" {
		return "", errors.New("the daemon's token operation carries no secret or fingerprint")
	}
	return EncodeTrustToken(tok), nil
}

// EncodeTrustToken encodes a token as the daemons' own clients print it.
func EncodeTrustToken(tok api.TrustToken) string {
	buf, _ := json.Marshal(tok)
	return base64.StdEncoding.EncodeToString(buf)
}

// ParseTrustToken decodes a trust token. Its contents are not secret but
// for Secret; errors never quote the token.
func ParseTrustToken(token string) (api.TrustToken, error) {
	var tok api.TrustToken
	buf, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err == nil {
		err = json.Unmarshal(buf, &tok)
	}
	if err != nil || tok.Secret == "" || tok.Fingerprint == "" {
		return api.TrustToken{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "not a trust token (expected the base64 text printed by `lxc config trust add` or `lxkit trust token`)")
	}
	return tok, nil
}

// TokenMember returns where to redeem a trust token for the daemon
// reached at addr: the first of the token's own addresses (the member
// that made it) when addr is none of them, else "". LXD 5.0.2 takes a
// token only at the member that made it (hostapi.TokenElsewhere), and
// trust, once given, holds on every member of the cluster.
func TokenMember(token, addr string) string {
	tok, err := ParseTrustToken(token)
	if err != nil || len(tok.Addresses) == 0 {
		return ""
	}
	at, err := ParseAddr(addr)
	if err != nil || at.Host == "" { // a socket needs no token
		return ""
	}
	for _, a := range tok.Addresses {
		if ep, err := ParseAddr("https://" + a); err == nil && ep.Host == at.Host {
			return ""
		}
	}
	ep, err := ParseAddr("https://" + tok.Addresses[0])
	if err != nil {
		return ""
	}
	return ep.String()
}

// TrustRequest asks a daemon to trust the client's own certificate, the
// one its TLS connection presents. Give either Token or Password.
type TrustRequest struct {
	Name     string // how the daemon will list the certificate
	Token    string // a trust token (LXD 5.x and Incus)
	Password string // LXD's core.trust_password
}

// RequestTrust asks the daemon to trust this client, over HTTPS with a
// client certificate. A client already trusted has nothing to do. A
// refused token or password is an error matching errdefs.ErrForbidden
// that never contains the secret. A token is redeemed at the cluster
// member that made it when c reaches another (TokenMember), unless that
// member takes no connection within a few seconds.
func (c *Client) RequestTrust(ctx context.Context, r TrustRequest) error {
	if c.Trusted() {
		return nil
	}
	if c.tls.ClientCert == nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: a client certificate is needed to become trusted", c.addr)
	}
	if at := TokenMember(r.Token, c.addr); r.Token != "" && at != "" {
		if done, err := c.trustAt(ctx, at, r); done {
			return err
		}
	}
	body := api.CertificatesPost{Name: r.Name, Type: "client"}
	what := "trust password"
	switch {
	case r.Token != "" && r.Password != "":
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "give a trust token or a password, not both")
	case r.Token != "":
		// LXD 5.0 reads a token from the password field; Incus (and later
		// LXD) from trust_token. Each ignores the field it does not know.
		body.Password, body.TrustToken, what = r.Token, r.Token, "trust token"
	case r.Password != "":
		body.Password = r.Password
	default:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "give a trust token or a password")
	}
	_, err := c.send(ctx, http.MethodPost, "/1.0/certificates", body, "")
	// The daemons answer a wrong secret with 403, which send reports as
	// ErrUntrusted for an untrusted client.
	if errors.Is(err, errdefs.ErrUntrusted) || errors.Is(err, errdefs.ErrForbidden) {
		return errdefs.Wrap(errdefs.ErrForbidden, nil, "%s refused the %s (wrong, used or expired)", c.addr, what)
	}
	if r.Token != "" && hostapi.TokenElsewhere.In(err) {
		return errdefs.Wrap(errdefs.ErrForbidden, err, "%s took the trust token for another cluster member's and spent it: LXD 5.0.2 takes a token only at the member that made it (the token's addresses); ask for a new one", c.addr)
	}
	if err != nil {
		return err
	}
	if err := c.refresh(ctx); err != nil {
		return err
	}
	if !c.Trusted() {
		return errdefs.Wrap(errdefs.ErrForbidden, nil, "%s accepted the %s but still does not trust this client", c.addr, what)
	}
	return nil
}

// trustAt redeems r's token at the cluster member at, which made it, and
// reads c's daemon, another member of the same cluster, again; done is
// false when that member took no connection, and c's daemon should be
// asked instead. The member's certificate is checked as c's is: members
// share the cluster's.
func (c *Client) trustAt(ctx context.Context, at string, r TrustRequest) (done bool, err error) {
	dial, cancel := context.WithTimeout(ctx, 3*time.Second)
	m, err := New(dial, at, WithTLS(c.tls))
	cancel()
	if errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	defer m.Close()
	if err := m.RequestTrust(ctx, r); err != nil { // at is the token's: no detour again
		return true, err
	}
	if err := c.refresh(ctx); err != nil {
		return true, err
	}
	if !c.Trusted() {
		return true, errdefs.Wrap(errdefs.ErrForbidden, nil, "%s (the member that made the token) trusts this client, but %s does not yet", at, c.addr)
	}
	return true, nil
}

// EnableHTTPSListener makes the daemon listen for the API on address
// (host:port, e.g. "127.0.0.1:8443" or ":8443"), as core.https_address.
// Asking for the address it already listens on does nothing.
func (c *Client) EnableHTTPSListener(ctx context.Context, address string) error {
	var srv api.Server
	etag, err := c.Query(ctx, http.MethodGet, "/1.0", nil, &srv)
	if err != nil {
		return err
	}
	if cur, _ := srv.Config["core.https_address"].(string); cur == address {
		return nil
	}
	body := map[string]any{"config": map[string]any{"core.https_address": address}}
	if _, err := c.Do(ctx, http.MethodPatch, "/1.0", body, etag); err != nil {
		return fmt.Errorf("listening on %s: %w", address, err)
	}
	return c.refresh(ctx)
}

// ServerCert returns the daemon's certificate from GET /1.0, as
// a trusted client sees it.
func (c *Client) ServerCert() (*x509.Certificate, error) {
	cert, err := certs.ParsePEM([]byte(c.Server().Environment.Certificate))
	if err != nil {
		return nil, fmt.Errorf("the daemon's certificate (GET /1.0): %w", err)
	}
	return cert, nil
}
