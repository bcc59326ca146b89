package cluster

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MinCAValidity is how long a CA of the user's PKI must still be valid
// when kubectl pgo rotate certs --new-ca --ca-cert takes it: doctor warns
// this long before a certificate expires, and the certificates it signs
// expire with it.
const MinCAValidity = 30 * 24 * time.Hour

// MinRSABits is the smallest RSA key a CA of the user's PKI may have.
const MinRSABits = 2048

// OwnCA is a CA of the user's PKI, checked by CheckOwnCA, in the form
// the repository Secret holds it.
type OwnCA struct {
	// Cert is the CA that signs the cluster's certificates.
	Cert *x509.Certificate
	// CertPEM is the CA, then its issuers up to the root: what ca.crt
	// holds, since OpenSSL verifies a certificate up to a self-signed root.
	CertPEM []byte
	// KeyPEM is the CA's key in PKCS#8 PEM.
	KeyPEM []byte
}

// OwnCAFile is a PEM file given for a CA: what to call it in an error
// (the flag and the file name), and its content.
type OwnCAFile struct {
	Name string
	Data []byte
}

// CheckOwnCA checks a CA of the user's PKI for cluster in namespace at
// now, before anything changes, and says what is wrong and what to give
// instead. The certificate file holds the CA first, then (optionally) its
// issuers in order up to a self-signed root: each one a valid CA that
// signed the one before; anything else is refused. The key file holds the
// CA's unencrypted key (PKCS#8, PKCS#1 or SEC1): ECDSA P-256, P-384 or
// P-521, RSA of MinRSABits or more, or Ed25519. Every certificate must be
// valid at now and for MinCAValidity after it, and the CA must be able to
// sign certificates for server and client authentication: a trial pair of
// the cluster's certificates is signed and verified.
func CheckOwnCA(certFile, keyFile OwnCAFile, cluster, namespace string, now time.Time) (*OwnCA, error) {
	certs, err := readOwnCACerts(certFile)
	if err != nil {
		return nil, err
	}
	for i, c := range certs {
		what := "the CA " + describeCert(c)
		if i > 0 {
			what = fmt.Sprintf("certificate %d of %s (%s)", i+1, certFile.Name, describeCert(c))
		}
		if err := checkIssuingCA(what, c, now); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile.Name, err)
		}
		if i > 0 {
			if err := certs[i-1].CheckSignatureFrom(c); err != nil {
				return nil, fmt.Errorf("%s: %s did not sign certificate %d (%s): give the CA first, then each issuer after the certificate it signed, up to the root", certFile.Name, what, i, describeCert(certs[i-1]))
			}
		}
	}
	root := certs[len(certs)-1]
	if !bytes.Equal(root.RawIssuer, root.RawSubject) || root.CheckSignatureFrom(root) != nil {
		return nil, fmt.Errorf("%s ends with %s, issued by %q, which is not in the file: append the issuers of the CA up to the self-signed root (PostgreSQL, libpq and pgBackRest verify up to a root)", certFile.Name, describeCert(root), root.Issuer.String())
	}
	key, err := readOwnCAKey(keyFile)
	if err != nil {
		return nil, err
	}
	ca := certs[0]
	if !sameKey(ca, key) {
		return nil, fmt.Errorf("the key in %s does not match the certificate in %s (%s): give the key of that CA, or the certificate of that key first", keyFile.Name, certFile.Name, describeCert(ca))
	}
	var pemCerts []byte
	for _, c := range certs {
		pemCerts = append(pemCerts, pemCert(c.Raw)...)
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return nil, err
	}
	own := &OwnCA{Cert: ca, CertPEM: pemCerts, KeyPEM: keyPEM}
	trial := PKI{CACert: own.CertPEM, CAKey: own.KeyPEM}
	if err := trial.ReissueLeaves(cluster, namespace, now); err != nil {
		return nil, fmt.Errorf("the CA of %s cannot sign the cluster's certificates: %w", certFile.Name, err)
	}
	if err := trial.Verify(cluster, namespace, now); err != nil {
		return nil, fmt.Errorf("the certificates the CA of %s signs would not be valid (a name constraint or key usage of the CA or of an issuer?): %w", certFile.Name, err)
	}
	return own, nil
}

// readOwnCACerts reads the certificates of a --ca-cert file, refusing
// anything but certificates.
func readOwnCACerts(f OwnCAFile) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := f.Data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a PEM %q: give only the CA certificate there (and its issuers after it), and its key in the key file", f.Name, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of %s cannot be read: %w", len(certs)+1, f.Name, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate: give the CA certificate in PEM (-----BEGIN CERTIFICATE-----; from DER: openssl x509 -inform der -in FILE -out FILE.pem)", f.Name)
	}
	return certs, nil
}

// readOwnCAKey reads the one private key of a --ca-key file and checks its
// type and size.
func readOwnCAKey(f OwnCAFile) (crypto.Signer, error) {
	blocks := 0
	for rest := f.Data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "EC PARAMETERS" {
			blocks++
		}
	}
	if blocks > 1 {
		return nil, fmt.Errorf("%s holds %d PEM blocks: give the CA's private key alone", f.Name, blocks)
	}
	key, err := parseSigningKey("CA", f.Data)
	if err != nil {
		msg := strings.Replace(err.Error(), "the CA key", f.Name, 1)
		switch {
		case strings.HasSuffix(msg, "is encrypted"):
			msg += ": decrypt it into a file only you can read (openssl pkey -in " + f.Name + " -out PLAIN.key), give that, and delete it after"
		case strings.Contains(msg, "missing or not PEM"):
			msg = f.Name + " holds no PEM private key: give the CA's key in PEM (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)"
		}
		return nil, fmt.Errorf("%s", msg)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("%s is an RSA key of %d bits: give a CA with a key of %d bits or more", f.Name, bits, MinRSABits)
		}
	case *ecdsa.PrivateKey:
		if !slices.Contains([]elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()}, k.Curve) {
			return nil, fmt.Errorf("%s is an ECDSA key on curve %s: give a CA with a key on P-256 or P-384 (or P-521)", f.Name, k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("%s is a %T key: give a CA with an ECDSA, RSA or Ed25519 key", f.Name, key)
	}
	return key, nil
}

// checkIssuingCA checks that c is a CA that may sign the cluster's
// certificates, and is valid at now and for MinCAValidity after.
func checkIssuingCA(what string, c *x509.Certificate, now time.Time) error {
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		return fmt.Errorf("%s is not a CA (its basic constraints do not say CA:TRUE): give the certificate of a CA, not a server's or a client's", what)
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("%s may not sign certificates (its key usage lacks keyCertSign): give a CA whose key usage has it", what)
	case len(c.ExtKeyUsage) > 0 && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) &&
		(!slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)):
		return fmt.Errorf("%s limits its extended key usage without both serverAuth and clientAuth, which the cluster's certificates need: give a CA without that limit, or with both", what)
	case now.Before(c.NotBefore):
		return fmt.Errorf("%s is not valid yet: it is valid from %s (check the clocks, or give a CA valid now)", what, c.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(c.NotAfter):
		return fmt.Errorf("%s expired on %s: give a CA that is valid", what, c.NotAfter.UTC().Format(time.RFC3339))
	case c.NotAfter.Sub(now) < MinCAValidity:
		return fmt.Errorf("%s expires on %s, in less than %d days: the certificates it signs would expire with it; give a CA valid for %d days or more", what,
			c.NotAfter.UTC().Format(time.RFC3339), int(MinCAValidity.Hours()/24), int(MinCAValidity.Hours()/24))
	}
	return nil
}

// describeCert names a certificate by its subject and serial, as the
// steps of a rotation do.
func describeCert(c *x509.Certificate) string {
	return fmt.Sprintf("%q, serial %X", c.Subject.String(), c.SerialNumber)
}

// Describe names the CA by its subject and serial.
func (o *OwnCA) Describe() string { return describeCert(o.Cert) }

// JoinCAs is the PEM certificates of a, then those of b that a does not
// hold: the ca.crt that trusts both during a switch to a new CA (a CA of
// the same root as the old one adds its issuers once).
func JoinCAs(a, b []byte) []byte {
	out := append(bytes.TrimSpace(bytes.Clone(a)), '\n')
	have, _ := parseCerts("CA", a)
	next, err := parseCerts("CA", b)
	if err != nil {
		return append(out, b...)
	}
	for _, c := range next {
		if !slices.ContainsFunc(have, func(h *x509.Certificate) bool { return h.Equal(c) }) {
			out = append(out, pemCert(c.Raw)...)
		}
	}
	return out
}
