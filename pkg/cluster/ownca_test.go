package cluster

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/internal/testpki"
)

func caFiles(cert, key []byte) (OwnCAFile, OwnCAFile) {
	return OwnCAFile{Name: "ca.pem", Data: cert}, OwnCAFile{Name: "ca-key.pem", Data: key}
}

// Every CA that cannot serve is refused, saying what is wrong and what to
// give instead.
func TestCheckOwnCARefuses(t *testing.T) {
	year := 365 * 24 * time.Hour
	root, ca, chain := testpki.Intermediate(t, testpki.P256, now, year)
	self := testpki.Issue(t, nil, testpki.NewKey(t, testpki.P256), testpki.CATemplate("self", now, year))
	withTemplate := func(change func(*x509.Certificate)) *testpki.Cert {
		tmpl := testpki.CATemplate("odd", now, year)
		change(tmpl)
		return testpki.Issue(t, nil, testpki.NewKey(t, testpki.P256), tmpl)
	}
	server := withTemplate(func(c *x509.Certificate) { c.IsCA, c.KeyUsage = false, x509.KeyUsageDigitalSignature })
	noCertSign := withTemplate(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature })
	serverOnly := withTemplate(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	expired := withTemplate(func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-2*year), now.Add(-time.Hour) })
	notYet := withTemplate(func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) })
	soon := withTemplate(func(c *x509.Certificate) { c.NotAfter = now.Add(29 * 24 * time.Hour) })
	constrained := withTemplate(func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example.com"} })
	small := testpki.Issue(t, nil, testpki.NewKey(t, testpki.RSA1024), testpki.CATemplate("small", now, year))
	p224 := testpki.Issue(t, nil, testpki.NewKey(t, testpki.P224), testpki.CATemplate("p224", now, year))
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1}})
	for _, tc := range []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"empty certificate file", nil, self.KeyPEM(t, testpki.PKCS8), "ca.pem holds no PEM certificate: give the CA certificate in PEM"},
		{"DER certificate", self.Cert.Raw, self.KeyPEM(t, testpki.PKCS8), "ca.pem holds no PEM certificate"},
		{"key in the certificate file", append(self.CertPEM(), self.KeyPEM(t, testpki.PKCS8)...), self.KeyPEM(t, testpki.PKCS8), `ca.pem holds a PEM "PRIVATE KEY": give only the CA certificate there`},
		{"bad certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), self.KeyPEM(t, testpki.PKCS8), "certificate 1 of ca.pem cannot be read"},
		{"not a CA", server.CertPEM(), server.KeyPEM(t, testpki.PKCS8), "is not a CA (its basic constraints do not say CA:TRUE): give the certificate of a CA"},
		{"no certSign", noCertSign.CertPEM(), noCertSign.KeyPEM(t, testpki.PKCS8), "may not sign certificates (its key usage lacks keyCertSign)"},
		{"server auth only", serverOnly.CertPEM(), serverOnly.KeyPEM(t, testpki.PKCS8), "without both serverAuth and clientAuth"},
		{"expired", expired.CertPEM(), expired.KeyPEM(t, testpki.PKCS8), "expired on " + now.Add(-time.Hour).Format(time.RFC3339) + ": give a CA that is valid"},
		{"not yet valid", notYet.CertPEM(), notYet.KeyPEM(t, testpki.PKCS8), "is not valid yet: it is valid from"},
		{"expires within 30 days", soon.CertPEM(), soon.KeyPEM(t, testpki.PKCS8), "in less than 30 days: the certificates it signs would expire with it; give a CA valid for 30 days or more"},
		{"wrong key", self.CertPEM(), ca.KeyPEM(t, testpki.PKCS8), "the key in ca-key.pem does not match the certificate in ca.pem"},
		{"intermediate without its root", ca.CertPEM(), ca.KeyPEM(t, testpki.PKCS8), `which is not in the file: append the issuers of the CA up to the self-signed root`},
		{"chain out of order", append(root.CertPEM(), ca.CertPEM()...), root.KeyPEM(t, testpki.PKCS8), "did not sign certificate 1"},
		{"chain with a stranger", append(ca.CertPEM(), self.CertPEM()...), ca.KeyPEM(t, testpki.PKCS8), "did not sign certificate 1"},
		{"empty key file", chain, nil, "ca-key.pem holds no PEM private key"},
		{"a certificate as key", chain, ca.CertPEM(), `ca-key.pem is a PEM "CERTIFICATE", not a private key`},
		{"encrypted key", chain, encrypted, "ca-key.pem is encrypted: decrypt it"},
		{"legacy encrypted key", chain, legacyEncrypted, "ca-key.pem is encrypted"},
		{"two keys", chain, append(ca.KeyPEM(t, testpki.PKCS8), self.KeyPEM(t, testpki.PKCS8)...), "ca-key.pem holds 2 PEM blocks"},
		{"small RSA key", small.CertPEM(), small.KeyPEM(t, testpki.PKCS1), "ca-key.pem is an RSA key of 1024 bits: give a CA with a key of 2048 bits or more"},
		{"P-224", p224.CertPEM(), p224.KeyPEM(t, testpki.SEC1), "an ECDSA key on curve P-224"},
		{"name constraints", constrained.CertPEM(), constrained.KeyPEM(t, testpki.PKCS8), "the certificates the CA of ca.pem signs would not be valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := caFiles(tc.cert, tc.key)
			got, err := CheckOwnCA(cert, key, "hippo", "pgo", now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckOwnCA() = %v, %v; want an error with %q", got, err, tc.want)
			}
		})
	}
}

// A CA of each supported key type and form signs the cluster's
// certificates (ECDSA P-256 keys whatever the CA's), which verify against
// it and do not outlive it.
func TestCheckOwnCASigns(t *testing.T) {
	year := 365 * 24 * time.Hour
	for _, tc := range []struct {
		kind, format string
		intermediate bool
	}{
		{testpki.RSA2048, testpki.PKCS1, true},
		{testpki.RSA2048, testpki.PKCS8, false},
		{testpki.P384, testpki.SEC1, true},
		{testpki.P256, testpki.PKCS8, false},
		{testpki.Ed25519, testpki.PKCS8, true},
	} {
		t.Run(tc.kind+"/"+tc.format, func(t *testing.T) {
			ca := testpki.Issue(t, nil, testpki.NewKey(t, tc.kind), testpki.CATemplate("own", now, year))
			certPEM, want := ca.CertPEM(), 1
			var root *testpki.Cert
			if tc.intermediate {
				root, ca, certPEM = testpki.Intermediate(t, tc.kind, now, year)
				want = 2
			}
			keyPEM := ca.KeyPEM(t, tc.format)
			if tc.kind == testpki.P384 {
				// openssl ecparam -genkey writes the curve's parameters first.
				keyPEM = append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 43, 129, 4, 0, 34}}), keyPEM...)
			}
			cert, key := caFiles(certPEM, keyPEM)
			own, err := CheckOwnCA(cert, key, "hippo", "pgo", now)
			if err != nil {
				t.Fatal(err)
			}
			if !own.Cert.Equal(ca.Cert) || !strings.Contains(own.Describe(), ca.Cert.Subject.CommonName) {
				t.Errorf("CA %s", own.Describe())
			}
			if cas, err := parseCerts("CA", own.CertPEM); err != nil || len(cas) != want {
				t.Errorf("ca.crt holds %d certificates (%v), want %d", len(cas), err, want)
			}
			if block, _ := pem.Decode(own.KeyPEM); block == nil || block.Type != "PRIVATE KEY" {
				t.Errorf("the key is not kept in PKCS#8: %q", own.KeyPEM)
			}
			p := PKI{CACert: own.CertPEM, CAKey: own.KeyPEM}
			if err := p.ReissueLeaves("hippo", "pgo", now); err != nil {
				t.Fatal(err)
			}
			if err := p.Verify("hippo", "pgo", now); err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			anchor := ca.Cert
			if root != nil {
				anchor = root.Cert
			}
			roots.AddCert(anchor)
			inter := x509.NewCertPool()
			inter.AddCert(ca.Cert)
			for _, leafPEM := range [][]byte{p.DBCert, p.RepoCert} {
				leaf := parseTestCert(t, leafPEM)
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Errorf("%s does not chain to the root: %v", leaf.Subject.CommonName, err)
				}
				if err := leaf.CheckSignatureFrom(ca.Cert); err != nil {
					t.Errorf("%s is not signed by the CA: %v", leaf.Subject.CommonName, err)
				}
				if leaf.PublicKeyAlgorithm != x509.ECDSA {
					t.Errorf("%s has a %s key, want ECDSA", leaf.Subject.CommonName, leaf.PublicKeyAlgorithm)
				}
				if !leaf.NotAfter.Equal(ca.Cert.NotAfter) {
					t.Errorf("%s expires on %s, want the CA's %s", leaf.Subject.CommonName, leaf.NotAfter, ca.Cert.NotAfter)
				}
			}
			exp, err := p.Expiries()
			if err != nil || exp[0].NotAfter.After(ca.Cert.NotAfter) {
				t.Errorf("Expiries() = %v, %v", exp, err)
			}
			if n, err := p.OtherCAs(); err != nil || n != 0 {
				t.Errorf("OtherCAs() = %d, %v: the CA's issuers are not other CAs", n, err)
			}
		})
	}
}

// The leaves of the cluster's own CA keep their 10 years; a CA's issuer in
// ca.crt is no other CA, and a CA beside is one.
func TestLeavesAndOtherCAs(t *testing.T) {
	p := newTestPKI(t, "hippo", "pgo")
	if db := parseTestCert(t, p.DBCert); !db.NotAfter.Equal(now.Add(CertValidity)) {
		t.Errorf("database certificate until %s", db.NotAfter)
	}
	_, ca, chain := testpki.Intermediate(t, testpki.P256, now, 365*24*time.Hour)
	both := PKI{CACert: append(append([]byte{}, p.CACert...), chain...), CAKey: ca.KeyPEM(t, testpki.PKCS8)}
	if n, err := both.OtherCAs(); err != nil || n != 1 {
		t.Errorf("OtherCAs() = %d, %v; want the old CA", n, err)
	}
	both.CAKey = p.CAKey
	if n, err := both.OtherCAs(); err != nil || n != 2 {
		t.Errorf("OtherCAs() = %d, %v; want the intermediate and its root", n, err)
	}
	exp, err := (&PKI{CACert: chain, CAKey: ca.KeyPEM(t, testpki.PKCS8), DBCert: p.DBCert, RepoCert: p.RepoCert}).Expiries()
	if err != nil || len(exp) != 4 || exp[0].What != "CA" || exp[1].What != `CA's issuer "Example Root CA"` {
		t.Errorf("Expiries() = %+v, %v", exp, err)
	}
}
