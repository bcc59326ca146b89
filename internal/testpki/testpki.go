// Package testpki makes the certificates of a user's own PKI for the
// tests of kubectl pgo rotate certs --new-ca --ca-cert: roots and
// intermediate CAs with RSA, ECDSA or Ed25519 keys, and their keys in the
// PEM forms a PKI hands out. Unit tests and the end-to-end tests import
// it; nothing else does.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Key kinds of NewKey.
const (
	RSA1024 = "rsa1024"
	RSA2048 = "rsa2048"
	P224    = "p224"
	P256    = "p256"
	P384    = "p384"
	Ed25519 = "ed25519"
)

// NewKey generates a key of kind.
func NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case RSA1024:
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case P224:
		key, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testpki: unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Cert is a certificate and its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CATemplate is a CA named cn, valid from an hour before now for
// validity.
func CATemplate(cn string, now time.Time, validity time.Duration) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Example PKI"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// Issue signs template for key with parent, or self-signed when parent is
// nil; a template without a serial gets a random one.
func Issue(t testing.TB, parent *Cert, key crypto.Signer, template *x509.Certificate) *Cert {
	t.Helper()
	if template.SerialNumber == nil {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
		if err != nil {
			t.Fatal(err)
		}
		template.SerialNumber = n.Add(n, big.NewInt(1))
	}
	issuer, signer := template, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key}
}

// CertPEM is the certificate in PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// Key formats of KeyPEM.
const (
	PKCS8 = "pkcs8"
	PKCS1 = "pkcs1" // RSA only
	SEC1  = "sec1"  // ECDSA only
)

// KeyPEM is the key in format.
func (c *Cert) KeyPEM(t testing.TB, format string) []byte {
	t.Helper()
	var block *pem.Block
	var err error
	switch format {
	case PKCS8:
		var der []byte
		der, err = x509.MarshalPKCS8PrivateKey(c.Key)
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case PKCS1:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(c.Key.(*rsa.PrivateKey))}
	case SEC1:
		var der []byte
		der, err = x509.MarshalECPrivateKey(c.Key.(*ecdsa.PrivateKey))
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		t.Fatalf("testpki: unknown key format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// Intermediate is a root CA and an intermediate CA it signed, both of
// kind's keys and valid from an hour before now for validity: the usual
// CA of a user's PKI. ChainPEM is the intermediate then the root.
func Intermediate(t testing.TB, kind string, now time.Time, validity time.Duration) (root, ca *Cert, chainPEM []byte) {
	t.Helper()
	root = Issue(t, nil, NewKey(t, kind), CATemplate("Example Root CA", now, validity+24*time.Hour))
	ca = Issue(t, root, NewKey(t, kind), CATemplate("Example Databases CA", now, validity))
	return root, ca, append(ca.CertPEM(), root.CertPEM()...)
}
