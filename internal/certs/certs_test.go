//go:build unix

package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
)

// generate makes a certificate and key in a fresh directory.
func generate(t *testing.T) (certPath, keyPath, fp string) {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	fp, err := Generate(certPath, keyPath, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, fp
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestGenerate(t *testing.T) {
	// A umask that would strip the certificate's read bits: the modes must
	// be exactly 0644 and 0600 anyway.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "new", "lxkit")
	certPath, keyPath := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	fp, err := Generate(certPath, keyPath, GenerateOptions{CommonName: "tester@box"})
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("key mode %04o, want 0600", m)
	}
	if m := mode(t, certPath); m != 0o644 {
		t.Errorf("certificate mode %04o, want 0644", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory mode %04o, want 0700", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2 (no temporary file left)", len(entries))
	}

	cert, err := ReadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		t.Errorf("public key %T, want ECDSA P-384", cert.PublicKey)
	}
	if cert.Subject.CommonName != "tester@box" {
		t.Errorf("CN %q", cert.Subject.CommonName)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usage %v, want client auth only", cert.ExtKeyUsage)
	}
	if cert.IsCA {
		t.Error("a client certificate must not be a CA")
	}
	if life := time.Until(cert.NotAfter); life < Validity-time.Hour || life > Validity+time.Hour {
		t.Errorf("valid for another %v, want about %v", life, Validity)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v is not a large random number", cert.SerialNumber)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	pair, err := LoadKeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pair.Certificate[0], cert.Raw) {
		t.Error("the loaded pair holds another certificate")
	}

	// The fingerprint, computed independently from the file's DER.
	data, _ := os.ReadFile(certPath)
	block, _ := pem.Decode(data)
	sum := sha256.Sum256(block.Bytes)
	if want := fmt.Sprintf("%x", sum); fp != want || Fingerprint(cert) != want {
		t.Errorf("fingerprint %s / %s, want %s", fp, Fingerprint(cert), want)
	}
	// The form openssl prints is the same bytes, upper case with colons.
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in", certPath).Output()
		if err != nil {
			t.Fatal(err)
		}
		_, hexpairs, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		if got := strings.ToLower(strings.ReplaceAll(hexpairs, ":", "")); got != fp {
			t.Errorf("openssl says %s, Generate said %s", got, fp)
		}
	}
}

func TestGenerateDefaultNameAndSerials(t *testing.T) {
	c1, _, _ := generate(t)
	c2, _, _ := generate(t)
	a, err := ReadCertificate(c1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadCertificate(c2)
	if err != nil {
		t.Fatal(err)
	}
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
	if !strings.Contains(a.Subject.CommonName, "@") {
		t.Errorf("default CN %q, want USER@HOST", a.Subject.CommonName)
	}
}

func TestGenerateRefusesToOverwrite(t *testing.T) {
	certPath, keyPath, fp := generate(t)
	oldKey, _ := os.ReadFile(keyPath)
	oldCert, _ := os.ReadFile(certPath)

	for _, tc := range []struct {
		name   string
		remove string // a file removed first: the other one still blocks
	}{
		{"both exist", ""},
		{"only the key exists", certPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.remove != "" {
				os.Remove(tc.remove)
				defer os.WriteFile(tc.remove, oldCert, 0o644)
			}
			_, err := Generate(certPath, keyPath, GenerateOptions{})
			if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("err = %v, want a conflict", err)
			}
			if key, _ := os.ReadFile(keyPath); !bytes.Equal(key, oldKey) {
				t.Error("the key was changed")
			}
		})
	}

	fp2, err := Generate(certPath, keyPath, GenerateOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if fp2 == fp {
		t.Error("Overwrite kept the old certificate")
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("replaced key mode %04o", m)
	}
	if _, err := LoadKeyPair(certPath, keyPath); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyPairPermissions(t *testing.T) {
	certPath, keyPath, _ := generate(t)
	keyPEM, _ := os.ReadFile(keyPath)
	for _, perm := range []os.FileMode{0o600, 0o400, 0o640, 0o644, 0o604, 0o660, 0o700, 0o610, 0o601, 0o666} {
		t.Run(fmt.Sprintf("%04o", perm), func(t *testing.T) {
			if err := os.Chmod(keyPath, perm); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeyPair(certPath, keyPath)
			if perm&0o077 == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrKeyPermissions) || !errors.Is(err, errdefs.ErrForbidden) {
				t.Fatalf("err = %v, want ErrKeyPermissions", err)
			}
			want := fmt.Sprintf("key file %s has permissions %04o: too open, run chmod 600 %s", keyPath, perm, keyPath)
			if err.Error() != want {
				t.Errorf("err = %q\nwant  %q", err, want)
			}
			assertNoKeyMaterial(t, err, keyPEM)
		})
	}
}

// assertNoKeyMaterial fails if err's text holds any line of the key's PEM.
func assertNoKeyMaterial(t *testing.T, err error, keyPEM []byte) {
	t.Helper()
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
			t.Fatalf("error shows key material: %v", err)
		}
	}
}

func TestLoadKeyPairErrors(t *testing.T) {
	certPath, keyPath, _ := generate(t)
	otherCert, otherKey, _ := generate(t)
	keyPEM, _ := os.ReadFile(keyPath)
	dir := t.TempDir()
	write := func(name, content string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	encrypted := write("enc.key", "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n", 0o600)
	garbage := write("garbage.key", "not a key at all", 0o600)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"mismatched pair", otherCert, keyPath, "private key does not match public key"},
		{"missing key", certPath, filepath.Join(dir, "none.key"), "no such file"},
		{"missing certificate", filepath.Join(dir, "none.crt"), keyPath, "no such file"},
		{"encrypted key", certPath, encrypted, "protected by a password"},
		{"not PEM", certPath, garbage, "garbage.key"},
		{"key is a directory", certPath, dir, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadKeyPair(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q in it", err, tc.want)
			}
			assertNoKeyMaterial(t, err, keyPEM)
			// The lazy loader says the same, when it loads or else at
			// the first signature.
			if err = signLazily(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("lazily: err = %v, want %q in it", err, tc.want)
			}
			assertNoKeyMaterial(t, err, keyPEM)
		})
	}
	if _, err := LoadKeyPair(otherCert, otherKey); err != nil {
		t.Fatal(err)
	}
	if err := signLazily(otherCert, otherKey); err != nil {
		t.Fatal(err)
	}
}

// signLazily loads a pair with LoadKeyPairLazily and signs with it, as a
// TLS handshake would; the signature must verify with the certificate.
func signLazily(certPath, keyPath string) error {
	pair, err := LoadKeyPairLazily(certPath, keyPath)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte("handshake"))
	sig, err := pair.PrivateKey.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pair.Leaf.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		return errors.New("the lazy key's signature does not verify")
	}
	return nil
}

func TestParsePEM(t *testing.T) {
	certPath, keyPath, fp := generate(t)
	certPEM, _ := os.ReadFile(certPath)
	keyPEM, _ := os.ReadFile(keyPath)

	// A key block before the certificate is skipped.
	cert, err := ParsePEM(append(append([]byte{}, keyPEM...), certPEM...))
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(cert) != fp {
		t.Error("wrong certificate")
	}
	for _, data := range [][]byte{nil, []byte("hello"), keyPEM} {
		if _, err := ParsePEM(data); err == nil {
			t.Errorf("ParsePEM(%.20q) succeeded", data)
		}
	}
	if _, err := ReadCertificate(keyPath); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Errorf("err = %v, want the path in it", err)
	}
}

func TestWriteCertificate(t *testing.T) {
	certPath, _, fp := generate(t)
	cert, err := ReadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "servercerts", "web.crt")
	for range 2 { // creates, then replaces
		if err := WriteCertificate(p, cert); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadCertificate(p)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(got) != fp {
		t.Error("wrong certificate written")
	}
	if m := mode(t, p); m != 0o644 {
		t.Errorf("mode %04o", m)
	}
	if m := mode(t, filepath.Dir(p)); m != 0o700 {
		t.Errorf("directory mode %04o", m)
	}
}
