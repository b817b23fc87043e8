package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"sync"
)

// LoadKeyPairLazily is LoadKeyPair for a connection that may never use the
// key: the files are read and checked (permissions, password) and the
// certificate parsed now, but the key is parsed, and checked against the
// certificate, only when a handshake first signs with it. A resumed TLS
// 1.3 session asks for no client certificate, and parsing a P-384 key
// costs a short command about 2.5 ms of CPU. A key that does not parse or
// match fails that handshake with LoadKeyPair's error.
func LoadKeyPairLazily(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, keyPEM, err := readPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	wrap := func(err error) error { return fmt.Errorf("certificate %s and key %s: %w", certPath, keyPath, err) }
	var pair tls.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			pair.Certificate = append(pair.Certificate, block.Bytes)
		}
	}
	if len(pair.Certificate) == 0 {
		return tls.Certificate{}, wrap(fmt.Errorf("tls: failed to find any PEM data in certificate input"))
	}
	if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		return tls.Certificate{}, wrap(err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil {
		return tls.Certificate{}, wrap(fmt.Errorf("tls: failed to find any PEM data in key input"))
	}
	pair.PrivateKey = &lazyKey{public: pair.Leaf.PublicKey, load: sync.OnceValues(func() (crypto.Signer, error) {
		full, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, wrap(err)
		}
		signer, ok := full.PrivateKey.(crypto.Signer)
		if !ok {
			return nil, wrap(fmt.Errorf("the key cannot sign"))
		}
		return signer, nil
	})}
	return pair, nil
}

// lazyKey is a private key parsed on its first use.
type lazyKey struct {
	public crypto.PublicKey
	load   func() (crypto.Signer, error)
}

func (k *lazyKey) Public() crypto.PublicKey { return k.public }

func (k *lazyKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s, err := k.load()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, digest, opts)
}
