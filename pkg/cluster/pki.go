package cluster

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CertValidity is how long the CA and the certificates are valid. They are
// only used between the cluster's own pods, and nothing renews them yet, so
// they last long: 10 years. kubectl pgo rotate certs signs new leaves from
// the same CA.
const CertValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore, so a node whose clock is a little behind
// the client's still accepts a fresh certificate.
const clockSkew = time.Hour

// PKI is a cluster's CA and the two key pairs it signs, PEM encoded. The
// database side's pgBackRest server presents DB and the repository host's
// presents Repo; each also uses its pair as a client certificate when it
// dials the other side.
type PKI struct {
	CACert, CAKey     []byte
	DBCert, DBKey     []byte
	RepoCert, RepoKey []byte
}

// leaf describes one of the two certificates.
type leaf struct {
	what     string
	cn       string
	dnsNames []string
}

// leaves are the two certificates. The database's, which is also
// PostgreSQL's server certificate, is good for the primary's Service, the
// first pod under it, the replicas' Service, and the Service of every
// instance there may be (InstancePodName of 0 to MaxReplicas), so that
// adding a replica or failing over needs no new certificate.
func leaves(cluster, namespace string) (db, repoHost leaf) {
	pod := PodName(cluster) + "." + ServiceName(cluster)
	names := append(serviceDNSNames(ServiceName(cluster), namespace), serviceDNSNames(pod, namespace)...)
	names = append(names, serviceDNSNames(ReplicasServiceName(cluster), namespace)...)
	for i := 0; i <= MaxReplicas; i++ {
		names = append(names, serviceDNSNames(InstancePodName(InstanceName(cluster, i)), namespace)...)
	}
	db = leaf{"database", databaseCN(cluster), names}
	repoHost = leaf{"repository", repoCN(cluster), serviceDNSNames(RepoHostName(cluster), namespace)}
	return db, repoHost
}

// ReissueDatabase signs a new database certificate and key with the CA of
// p, for the names leaves gives now: a cluster made before a name was
// added (the instances' Services) keeps its CA, so the repository host
// keeps trusting the database side.
func (p *PKI) ReissueDatabase(cluster, namespace string, now time.Time) error {
	ca, caKey, err := p.signer()
	if err != nil {
		return err
	}
	db, _ := leaves(cluster, namespace)
	p.DBCert, p.DBKey, err = newLeaf(db, ca, caKey, now)
	return err
}

// ReissueLeaves signs new database and repository certificates, with new
// keys, from the CA of p (kubectl pgo rotate certs): every peer verifies
// the other side against that CA alone, so an old and a new certificate
// are trusted alike while the pods switch.
func (p *PKI) ReissueLeaves(cluster, namespace string, now time.Time) error {
	ca, caKey, err := p.signer()
	if err != nil {
		return err
	}
	db, repoHost := leaves(cluster, namespace)
	if p.DBCert, p.DBKey, err = newLeaf(db, ca, caKey, now); err != nil {
		return err
	}
	p.RepoCert, p.RepoKey, err = newLeaf(repoHost, ca, caKey, now)
	return err
}

// signer is the CA certificate of p that its CA key signs with, and the
// key. CACert may hold more than one CA (both the old and the new one
// while kubectl pgo rotate certs --new-ca switches, and the issuers of a
// CA given with --ca-cert): the signer is the one whose public key is
// CAKey's. The key is ECDSA for a CA kubectl-pgo made, and may be RSA or
// Ed25519 too for one of the user's PKI.
func (p *PKI) signer() (*x509.Certificate, crypto.Signer, error) {
	cas, err := parseCerts("CA", p.CACert)
	if err != nil {
		return nil, nil, err
	}
	caKey, err := parseSigningKey("CA", p.CAKey)
	if err != nil {
		return nil, nil, err
	}
	for _, ca := range cas {
		if sameKey(ca, caKey) {
			return ca, caKey, nil
		}
	}
	return nil, nil, errors.New("the CA key does not match the CA certificate")
}

// OtherCAs counts the CAs of ca.crt that are not on the signer's chain
// (signerChain): more than none is a switch to a new CA that did not
// finish.
func (p PKI) OtherCAs() (int, error) {
	cas, err := parseCerts("CA", p.CACert)
	if err != nil {
		return 0, err
	}
	chain, err := p.signerChain()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cas {
		if !slices.ContainsFunc(chain, func(s *x509.Certificate) bool { return bytes.Equal(s.Raw, c.Raw) }) {
			n++
		}
	}
	return n, nil
}

// signerChain is the signer, then its issuer among the CAs of ca.crt,
// and that one's, up to a root or a CA whose issuer is not there. The
// issuers of a CA of the user's PKI stay in ca.crt, since OpenSSL (in
// PostgreSQL, libpq and pgBackRest) verifies up to a self-signed root.
func (p PKI) signerChain() ([]*x509.Certificate, error) {
	cas, err := parseCerts("CA", p.CACert)
	if err != nil {
		return nil, err
	}
	ca, _, err := p.signer()
	if err != nil {
		return nil, err
	}
	chain := []*x509.Certificate{ca}
	for {
		last := chain[len(chain)-1]
		i := slices.IndexFunc(cas, func(c *x509.Certificate) bool {
			return !slices.ContainsFunc(chain, func(s *x509.Certificate) bool { return bytes.Equal(s.Raw, c.Raw) }) &&
				last.CheckSignatureFrom(c) == nil
		})
		if i < 0 {
			return chain, nil
		}
		chain = append(chain, cas[i])
	}
}

// parseCerts reads every PEM certificate of data, at least one.
func parseCerts(what string, data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		block, r := pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the %s certificate cannot be read: %w", what, err)
		}
		out = append(out, c)
		rest = bytes.TrimSpace(r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the %s certificate is missing or not PEM", what)
	}
	return out, nil
}

// NewCA generates a new CA for the cluster, PEM encoded: what NewPKI
// starts with, and kubectl pgo rotate certs --new-ca's.
func NewCA(cluster string, now time.Time) (certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: caCN(cluster), Organization: []string{"kubectl-pgo"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CertValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create the CA: %w", err)
	}
	keyPEM, err = pemKey(caKey)
	return pemCert(caDER), keyPEM, err
}

// SameCertificate tells whether two PEM texts hold the same first
// certificate, whatever their white space: what a pod mounts or a server
// presents against what a Secret holds.
func SameCertificate(a, b []byte) bool {
	ca, errA := parseCert("first", a)
	cb, errB := parseCert("second", b)
	return errA == nil && errB == nil && bytes.Equal(ca.Raw, cb.Raw)
}

// CertificateSerial is the serial number of a PEM certificate in hex, as
// openssl prints it, or "" when it cannot be read.
func CertificateSerial(data []byte) string {
	c, err := parseCert("", data)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%X", c.SerialNumber)
}

// serviceDNSNames are the names a Service (or a pod under one) is reached
// by from inside the cluster.
func serviceDNSNames(name, namespace string) []string {
	return []string{
		name,
		name + "." + namespace,
		name + "." + namespace + ".svc",
		name + "." + namespace + ".svc.cluster.local",
	}
}

// NewPKI generates a new CA, and the database and repository certificates
// for the cluster. Both certificates are good for server and client
// authentication.
func NewPKI(cluster, namespace string, now time.Time) (PKI, error) {
	var p PKI
	var err error
	if p.CACert, p.CAKey, err = NewCA(cluster, now); err != nil {
		return PKI{}, err
	}
	if err := p.ReissueLeaves(cluster, namespace, now); err != nil {
		return PKI{}, err
	}
	return p, nil
}

// newLeaf signs a certificate for l with a new ECDSA P-256 key, whatever
// the CA's key. It does not outlive its CA: NotAfter is the CA's when that
// comes before CertValidity from now (a CA of the user's PKI).
func newLeaf(l leaf, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: l.cn, Organization: []string{"kubectl-pgo"}},
		DNSNames:     l.dnsNames,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     leafNotAfter(ca, now),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create the %s certificate: %w", l.what, err)
	}
	keyPEM, err = pemKey(key)
	return pemCert(der), keyPEM, err
}

// leafNotAfter is when a leaf signed by ca at now expires: CertValidity
// later, or when ca does if sooner.
func leafNotAfter(ca *x509.Certificate, now time.Time) time.Time {
	if end := now.Add(CertValidity); end.Before(ca.NotAfter) {
		return end
	}
	return ca.NotAfter
}

// serialNumber is a random 128-bit serial, as RFC 5280 recommends.
func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1)) // never zero
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// pemKey is key in PKCS#8 PEM, the form the Secret holds.
func pemKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Verify checks that the PKI is whole and fits the cluster: each
// certificate is signed by the CA, valid at now for server and client
// authentication and for the names the other side dials, and matches its
// key. It is what makes reusing a stored PKI safe.
func (p PKI) Verify(cluster, namespace string, now time.Time) error {
	cas, err := parseCerts("CA", p.CACert)
	if err != nil {
		return err
	}
	if len(cas) == 1 {
		if err := checkKey("CA", cas[0], p.CAKey); err != nil {
			return err
		}
	} else if _, _, err := p.signer(); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
	}
	db, repoHost := leaves(cluster, namespace)
	for _, c := range []struct {
		leaf
		cert, key []byte
	}{{db, p.DBCert, p.DBKey}, {repoHost, p.RepoCert, p.RepoKey}} {
		cert, err := parseCert(c.what, c.cert)
		if err != nil {
			return err
		}
		if cert.Subject.CommonName != c.cn {
			return fmt.Errorf("the %s certificate is for %q, not %q", c.what, cert.Subject.CommonName, c.cn)
		}
		for _, name := range c.dnsNames {
			if _, err := cert.Verify(x509.VerifyOptions{
				DNSName:     name,
				Roots:       roots,
				CurrentTime: now,
				KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			}); err != nil {
				return fmt.Errorf("the %s certificate is not valid: %w", c.what, err)
			}
		}
		if err := checkKey(c.what, cert, c.key); err != nil {
			return err
		}
	}
	return nil
}

func parseCert(what string, data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the %s certificate is missing or not PEM", what)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the %s certificate cannot be read: %w", what, err)
	}
	return cert, nil
}

// checkKey checks that the PEM key is the private key of the certificate.
func checkKey(what string, cert *x509.Certificate, keyPEM []byte) error {
	key, err := parseSigningKey(what, keyPEM)
	if err != nil {
		return err
	}
	if !sameKey(cert, key) {
		return fmt.Errorf("the %s key does not match its certificate", what)
	}
	return nil
}

// sameKey tells whether key is the private key of cert's public key.
func sameKey(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// parseSigningKey reads the first PEM private key of keyPEM: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY",
// after the "EC PARAMETERS" openssl ecparam writes first).
func parseSigningKey(what string, keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("the %s key is missing or not PEM", what)
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("the %s key is encrypted", what)
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("the %s key is a PEM %q, not a private key", what, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("the %s key cannot be read: %w", what, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("the %s key is not a signing key", what)
		}
		return signer, nil
	}
}

// CertExpiry is when one certificate of a PKI stops being valid.
type CertExpiry struct {
	What     string    `json:"what"` // CA, database or repository
	NotAfter time.Time `json:"notAfter"`
}

// Expiries returns the end of validity of the CA and of the two
// certificates, soonest first, so that a check can warn before the TLS
// between the pods breaks.
func (p PKI) Expiries() ([]CertExpiry, error) {
	var out []CertExpiry
	if chain, err := p.signerChain(); err == nil {
		out = append(out, CertExpiry{What: "CA", NotAfter: chain[0].NotAfter.UTC()})
		for _, issuer := range chain[1:] {
			out = append(out, CertExpiry{What: "CA's issuer " + strconv.Quote(issuer.Subject.CommonName), NotAfter: issuer.NotAfter.UTC()})
		}
	} else if _, err := parseCert("CA", p.CACert); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		what string
		data []byte
	}{{"CA", p.CACert}, {"database", p.DBCert}, {"repository", p.RepoCert}} {
		if c.what == "CA" && len(out) > 0 {
			continue
		}
		cert, err := parseCert(c.what, c.data)
		if err != nil {
			return nil, err
		}
		out = append(out, CertExpiry{What: c.what, NotAfter: cert.NotAfter.UTC()})
	}
	slices.SortStableFunc(out, func(a, b CertExpiry) int { return a.NotAfter.Compare(b.NotAfter) })
	return out, nil
}

// CheckCACert checks a CA given from outside (a standby's source CA, which
// its streaming verifies the source's server certificate against): PEM
// certificates only, at least one of them a CA's. what names it in the
// error.
func CheckCACert(what string, data []byte) error {
	rest := bytes.TrimSpace(data)
	if len(rest) == 0 {
		return fmt.Errorf("%s is empty", what)
	}
	cas := 0
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return fmt.Errorf("%s is not PEM certificates", what)
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("%s holds a PEM %q, not only certificates", what, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s cannot be read: %w", what, err)
		}
		if cert.BasicConstraintsValid && cert.IsCA {
			cas++
		}
		rest = bytes.TrimSpace(rest)
	}
	if cas == 0 {
		return fmt.Errorf("%s holds no CA certificate (a server's or a client's certificate is not a CA)", what)
	}
	return nil
}
