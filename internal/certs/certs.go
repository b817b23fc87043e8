// Package certs makes, reads and finds the certificates an HTTPS client of
// LXD or Incus uses: its own client certificate and key (generated here or
// the ones lxc or incus already have) and the daemons' certificates that
// remotes pin.
//
// Key material never appears in an error: errors name files, never their
// content.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs/atomicfile"
	"github.com/lxkit/lxkit/internal/smallfile"
)

// Validity is how long a generated client certificate is valid.
const Validity = 10 * 365 * 24 * time.Hour

// GenerateOptions tunes Generate. The zero value makes a certificate named
// after the user and host and refuses to replace existing files.
type GenerateOptions struct {
	// CommonName is the certificate's subject CN; "" means USER@HOSTNAME,
	// which is how the daemons' trust lists show lxc's and incus's own.
	CommonName string
	// Overwrite replaces an existing certificate and key. Without it,
	// Generate fails with errdefs.ErrConflict if either file exists.
	Overwrite bool
}

// Generate makes a self-signed client certificate (ECDSA P-384, valid for
// ten years, for TLS client authentication) and writes it to certPath (PEM,
// mode 0644) and its key to keyPath (PEM, PKCS #8, mode 0600 from the
// moment the file exists). Missing directories are created with mode 0700.
// Each file is written atomically. It returns the certificate's
// fingerprint (see Fingerprint).
func Generate(certPath, keyPath string, opts GenerateOptions) (fingerprint string, err error) {
	if !opts.Overwrite {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Lstat(p); err == nil {
				return "", existsError(p)
			}
		}
	}
	for _, p := range []string{certPath, keyPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return "", err
		}
	}
	certPEM, keyPEM, cert, err := newClientCertificate(opts.CommonName)
	if err != nil {
		return "", err
	}
	write := atomicfile.Write
	if !opts.Overwrite {
		write = atomicfile.Create
	}
	if err := write(keyPath, keyPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", existsError(keyPath)
		}
		return "", fmt.Errorf("writing key file %s: %w", keyPath, pathless(err))
	}
	if err := write(certPath, certPEM, 0o644); err != nil {
		if !opts.Overwrite {
			os.Remove(keyPath) // ours: Create made it a moment ago
		}
		if errors.Is(err, fs.ErrExist) {
			return "", existsError(certPath)
		}
		return "", fmt.Errorf("writing certificate %s: %w", certPath, pathless(err))
	}
	return Fingerprint(cert), nil
}

func existsError(path string) error {
	return errdefs.Wrap(errdefs.ErrConflict, nil, "%s already exists: not replacing it", path)
}

// pathless drops the path from an *fs.PathError, which names a temporary
// file the caller never heard of.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func newClientCertificate(cn string) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, nil, err
	}
	if cn == "" {
		cn = defaultCommonName()
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"lxkit"}},
		// A few minutes back, for a daemon whose clock runs behind.
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, cert, nil
}

// defaultCommonName is USER@HOSTNAME, with "lxkit" for whichever part is
// unknown.
func defaultCommonName() string {
	name := "lxkit"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		name = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lxkit"
	}
	return name + "@" + host
}

// Fingerprint is the SHA-256 of the certificate's DER in lowercase hex, the
// form `lxc config trust list` and `lxc remote add` show (their short form is
// its first 12 characters).
func Fingerprint(cert *x509.Certificate) string { return FingerprintDER(cert.Raw) }

// FingerprintDER is Fingerprint of a certificate's DER bytes.
func FingerprintDER(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParsePEM returns the first certificate in PEM data; other blocks (a key,
// further certificates of a chain) are skipped.
func ParsePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// ReadCertificate reads the first certificate of the PEM file at path.
func ReadCertificate(path string) (*x509.Certificate, error) {
	data, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	cert, err := ParsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

// WriteCertificate writes cert to path as PEM, mode 0644, atomically,
// replacing any file there. The directory is created with mode 0700 if
// missing.
func WriteCertificate(path string, cert *x509.Certificate) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("writing certificate %s: %w", path, pathless(err))
	}
	return nil
}

// ErrKeyPermissions is the class of the error LoadKeyPair returns for a key
// file that others than its owner may read or write.
var ErrKeyPermissions = errors.New("key file permissions too open")

type keyModeError struct {
	path string
	mode fs.FileMode
}

func (e *keyModeError) Error() string {
	return fmt.Sprintf("key file %s has permissions %04o: too open, run chmod 600 %s", e.path, e.mode.Perm(), e.path)
}

func (e *keyModeError) Is(target error) bool {
	return target == ErrKeyPermissions || target == errdefs.ErrForbidden
}

// maxKeyFile bounds what LoadKeyPair reads: a PEM key is a few kilobytes.
const maxKeyFile = 1 << 20

// LoadKeyPair reads a client certificate and its key, as PEM files. It
// refuses a key file whose mode lets its group or others in (any bit of
// 0o077) with an error matching ErrKeyPermissions (and
// errdefs.ErrForbidden), as ssh does, and a password-protected key. The
// permission check and the read use the same open file.
func LoadKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, keyPEM, err := readPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	// tls.X509KeyPair's errors describe the problem, never the key.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s and key %s: %w", certPath, keyPath, err)
	}
	return pair, nil
}

// readPair reads a certificate file and its key file (readPEM, readKey).
func readPair(certPath, keyPath string) (certPEM, keyPEM []byte, err error) {
	if keyPEM, err = readKey(keyPath); err != nil {
		return nil, nil, err
	}
	if certPEM, err = readPEM(certPath); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// readPEM reads a certificate file: a regular file of at most maxKeyFile
// bytes (not a FIFO, whose read would wait, nor /dev/zero).
func readPEM(path string) ([]byte, error) {
	data, err := smallfile.Read(path, maxKeyFile)
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return data, err
}

func readKey(path string) ([]byte, error) {
	data, err := smallfile.ReadChecked(path, maxKeyFile, func(fi fs.FileInfo) error {
		if fi.Mode().Perm()&0o077 != 0 {
			return &keyModeError{path: path, mode: fi.Mode()}
		}
		return nil
	})
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		return nil, fmt.Errorf("key file %s: %w (not a PEM key)", path, err)
	}
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("key file %s is protected by a password, which lxkit does not support", path)
		}
	}
	return data, nil
}
