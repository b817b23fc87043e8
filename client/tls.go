package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
)

// TLSOptions says how an HTTPS client proves who it is and checks the
// daemon. The zero value presents no certificate and verifies the daemon
// against the system's certificate authorities.
type TLSOptions struct {
	// ClientCert is presented to the daemon. Without one the client is
	// untrusted, which is enough to ask for trust (RequestTrust).
	ClientCert *tls.Certificate
	// ServerCert pins the daemon's certificate: only this exact one is
	// accepted, as `lxc remote add` does. Nil verifies against the system's
	// authorities and the host name.
	ServerCert *x509.Certificate
	// Insecure accepts any server certificate. Never the default.
	Insecure bool
	// Handshake, when set, is called after each TLS handshake, e.g. to
	// count full and resumed handshakes.
	Handshake func(tls.ConnectionState)
	// Sessions keeps TLS sessions to resume; nil is an in-memory cache of
	// the client's own. SessionFile keeps them across processes.
	Sessions tls.ClientSessionCache
}

// config builds the tls.Config for a daemon at host (host:port).
func (o TLSOptions) config(host string) (*tls.Config, error) {
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: name,
		// Resumed sessions make each exec websocket's handshake cheap.
		// A resumed one is checked against the pin as well (VerifyConnection
		// sees the certificate the session was made with).
		ClientSessionCache: o.Sessions,
	}
	if tc.ClientSessionCache == nil {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(32)
	}
	if o.ClientCert != nil {
		tc.Certificates = []tls.Certificate{*o.ClientCert}
	}
	var pin func(tls.ConnectionState) error
	switch {
	case o.Insecure:
		tc.InsecureSkipVerify = true
	case o.ServerCert != nil:
		// The pin replaces chain and name checks: a self-signed daemon
		// certificate has no chain, and it is accepted only if identical.
		tc.InsecureSkipVerify = true
		pin = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			if got := cs.PeerCertificates[0]; !bytes.Equal(got.Raw, o.ServerCert.Raw) {
				return &certificateMismatch{want: Fingerprint(o.ServerCert), got: Fingerprint(got)}
			}
			return nil
		}
	}
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if pin != nil {
			if err := pin(cs); err != nil {
				return err
			}
		}
		if o.Handshake != nil {
			o.Handshake(cs)
		}
		return nil
	}
	return tc, nil
}

func (o TLSOptions) clientFingerprint() string {
	if o.ClientCert == nil || len(o.ClientCert.Certificate) == 0 {
		return ""
	}
	return certs.FingerprintDER(o.ClientCert.Certificate[0])
}

// Fingerprint is the SHA-256 of a certificate's DER, in lowercase hex: the
// form `lxc config trust list` and `lxc remote add` show.
func Fingerprint(cert *x509.Certificate) string { return certs.Fingerprint(cert) }

// certificateMismatch is a server whose certificate is not the pinned one.
type certificateMismatch struct{ want, got string }

func (e *certificateMismatch) Error() string {
	return "server certificate changed: pinned " + e.want + ", presented " + e.got
}

// certificateError classifies a failed verification of the server's
// certificate, or returns nil when err is not one.
func certificateError(addr string, err error) error {
	var mismatch *certificateMismatch
	if errors.As(err, &mismatch) {
		return errdefs.Wrap(errdefs.ErrCertificate, nil,
			"%s: the server's certificate is not the one pinned for it (pinned %s, presented %s): refusing to connect. "+
				"If the server's certificate was replaced on purpose, remove the remote and add it again", addr, mismatch.want, mismatch.got)
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		fp := ""
		if len(verr.UnverifiedCertificates) > 0 {
			fp = " (fingerprint " + Fingerprint(verr.UnverifiedCertificates[0]) + ")"
		}
		return errdefs.Wrap(errdefs.ErrCertificate, nil,
			"%s: the server's certificate%s is not signed by an authority this machine trusts (%v): "+
				"add the host as a remote to check and pin its certificate (lxkit remote add), or pass --insecure", addr, fp, verr.Err)
	}
	return nil
}

// ServerCertificate connects to an HTTPS daemon without verifying it and
// returns the certificate it presents, for the user to check its
// fingerprint before pinning it. verified reports whether the system's
// authorities vouch for it (with the intermediates the server sent) for
// addr's host name, in which case it needs no pin.
func ServerCertificate(ctx context.Context, addr string) (cert *x509.Certificate, verified bool, err error) {
	ep, err := ParseAddr(addr)
	if err != nil {
		return nil, false, err
	}
	if ep.Host == "" {
		return nil, false, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: not an HTTPS address", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", ep.Host)
	if err != nil {
		return nil, false, connectError(ep.String(), 10*time.Second, err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return nil, false, fmt.Errorf("%s: the server presented no certificate", ep)
	}
	host, _, _ := net.SplitHostPort(ep.Host)
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	_, verr := chain[0].Verify(x509.VerifyOptions{DNSName: host, Intermediates: intermediates})
	return chain[0], verr == nil, nil
}
