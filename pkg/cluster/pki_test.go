package cluster

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newTestPKI(t *testing.T, cluster, namespace string) PKI {
	t.Helper()
	p, err := NewPKI(cluster, namespace, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPKI(t *testing.T) {
	p := newTestPKI(t, "hippo", "pgo")
	if err := p.Verify("hippo", "pgo", now); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	// Still valid in 9 years, not in 11.
	if err := p.Verify("hippo", "pgo", now.Add(9*365*24*time.Hour)); err != nil {
		t.Errorf("Verify() in 9 years = %v", err)
	}
	if err := p.Verify("hippo", "pgo", now.Add(11*365*24*time.Hour)); err == nil {
		t.Error("Verify() in 11 years = nil, want expired")
	}

	db := parseTestCert(t, p.DBCert)
	if db.Subject.CommonName != "hippo-db" {
		t.Errorf("db CN = %q", db.Subject.CommonName)
	}
	for _, name := range []string{"hippo", "hippo.pgo", "hippo.pgo.svc", "hippo.pgo.svc.cluster.local",
		"hippo-0.hippo", "hippo-0.hippo.pgo.svc.cluster.local", "hippo-replicas", "hippo-replicas.pgo.svc", "hippo-r5-0.pgo.svc"} {
		if err := db.VerifyHostname(name); err != nil {
			t.Errorf("db certificate: %v", err)
		}
	}
	repoCert := parseTestCert(t, p.RepoCert)
	if repoCert.Subject.CommonName != "hippo-repo" {
		t.Errorf("repo CN = %q", repoCert.Subject.CommonName)
	}
	for _, name := range []string{"hippo-backrest-shared-repo", "hippo-backrest-shared-repo.pgo",
		"hippo-backrest-shared-repo.pgo.svc", "hippo-backrest-shared-repo.pgo.svc.cluster.local"} {
		if err := repoCert.VerifyHostname(name); err != nil {
			t.Errorf("repo certificate: %v", err)
		}
	}
	if err := repoCert.VerifyHostname("hippo"); err == nil {
		t.Error("the repo certificate is valid for the database's name")
	}
	ca := parseTestCert(t, p.CACert)
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: IsCA %v MaxPathLen %d", ca.IsCA, ca.MaxPathLen)
	}
	// The pairs load as TLS key pairs, as OpenSSL in pgBackRest will.
	for _, pair := range [][2][]byte{{p.CACert, p.CAKey}, {p.DBCert, p.DBKey}, {p.RepoCert, p.RepoKey}} {
		if _, err := tls.X509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("X509KeyPair: %v", err)
		}
	}
}

func TestNewPKIIsRandom(t *testing.T) {
	a, b := newTestPKI(t, "hippo", "pgo"), newTestPKI(t, "hippo", "pgo")
	if string(a.CAKey) == string(b.CAKey) || string(a.DBCert) == string(b.DBCert) {
		t.Error("two PKIs share a key or certificate")
	}
}

func TestVerifyRefuses(t *testing.T) {
	good := newTestPKI(t, "hippo", "pgo")
	other := newTestPKI(t, "hippo", "pgo")
	for _, tc := range []struct {
		name               string
		pki                PKI
		cluster, namespace string
		want               string
	}{
		{"another cluster", good, "zebra", "pgo", "is for \"hippo-db\", not \"zebra-db\""},
		{"another namespace", good, "hippo", "other", "hippo.other"},
		{"another CA", PKI{CACert: other.CACert, CAKey: other.CAKey, DBCert: good.DBCert, DBKey: good.DBKey,
			RepoCert: good.RepoCert, RepoKey: good.RepoKey}, "hippo", "pgo", "unknown authority"},
		{"swapped key", PKI{CACert: good.CACert, CAKey: good.CAKey, DBCert: good.DBCert, DBKey: good.RepoKey,
			RepoCert: good.RepoCert, RepoKey: good.RepoKey}, "hippo", "pgo", "the database key does not match its certificate"},
		{"CA key of another CA", PKI{CACert: good.CACert, CAKey: other.CAKey, DBCert: good.DBCert, DBKey: good.DBKey,
			RepoCert: good.RepoCert, RepoKey: good.RepoKey}, "hippo", "pgo", "the CA key does not match"},
		{"garbage", PKI{CACert: []byte("not pem")}, "hippo", "pgo", "the CA certificate is missing or not PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.pki.Verify(tc.cluster, tc.namespace, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNewPassword(t *testing.T) {
	a, err := NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPassword()
	if len(a) < 24 || a == b {
		t.Errorf("passwords %q and %q", a, b)
	}
	if strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("password %q is not URL-safe", a)
	}
}

// secretsOf returns the two Secrets Render makes, as the create command
// would read them back from the API server.
func secretsOf(t *testing.T, spec Spec, m Material) (repoConfig, postgres *corev1.Secret) {
	t.Helper()
	spec.Default()
	objects, err := Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	_, secrets, _, _ := typed(t, objects)
	return secrets[RepoConfigSecretName(spec.Name)], secrets[PostgresSecretName(spec.Name)]
}

func TestLoadOrGenerateMaterial(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()

	first, err := LoadOrGenerateMaterial(spec, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.PKI.Verify("hippo", "pgo", now); err != nil {
		t.Fatal(err)
	}
	repoSecret, pgSecret := secretsOf(t, spec, first)

	// A re-run reuses both Secrets, so it renders the same objects.
	again, err := LoadOrGenerateMaterial(spec, repoSecret, pgSecret, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if string(again.PKI.DBCert) != string(first.PKI.DBCert) || again.Password != first.Password {
		t.Error("the stored material was not reused")
	}
	objectsFirst, _ := Render(spec, first)
	objectsAgain, _ := Render(spec, again)
	if string(toYAML(t, objectsFirst)) != string(toYAML(t, objectsAgain)) {
		t.Error("a re-run renders different objects")
	}

	// Only the password Secret is gone: keep the certificates, make a password.
	partial, err := LoadOrGenerateMaterial(spec, repoSecret, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(partial.PKI.CACert) != string(first.PKI.CACert) || partial.Password == "" || partial.Password == first.Password {
		t.Error("with only the repository Secret, want its PKI and a new password")
	}

	// A Secret of another cluster (or a damaged one) is refused, with what to do.
	otherRepo, _ := secretsOf(t, Spec{Name: "zebra", Namespace: "pgo"}, Material{PKI: newTestPKI(t, "zebra", "pgo"), Password: "x"})
	otherRepo.Name = RepoConfigSecretName("hippo")
	if _, err := LoadOrGenerateMaterial(spec, otherRepo, pgSecret, now); err == nil ||
		!strings.Contains(err.Error(), "secret pgo/hippo-backrest-repo-config cannot be reused") ||
		!strings.Contains(err.Error(), "delete it to have new certificates generated") {
		t.Errorf("foreign Secret: err = %v", err)
	}
	broken := repoSecret.DeepCopy()
	delete(broken.Data, KeyDBKey)
	if _, err := LoadOrGenerateMaterial(spec, broken, pgSecret, now); err == nil || !strings.Contains(err.Error(), "db.key") {
		t.Errorf("Secret without db.key: err = %v", err)
	}
	noPassword := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hippo-postgres-secret", Namespace: "pgo"}}
	if _, err := LoadOrGenerateMaterial(spec, repoSecret, noPassword, now); err == nil || !strings.Contains(err.Error(), "has no password") {
		t.Errorf("Secret without password: err = %v", err)
	}
}

func parseTestCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKIExpiries(t *testing.T) {
	p := newTestPKI(t, "hippo", "demo")
	got, err := p.Expiries()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Expiries() = %+v, want 3", got)
	}
	for _, e := range got {
		if !e.NotAfter.Equal(now.Add(CertValidity)) {
			t.Errorf("%s expires %s, want %s", e.What, e.NotAfter, now.Add(CertValidity))
		}
	}

	// A broken certificate is named.
	p.RepoCert = []byte("not PEM")
	if _, err := p.Expiries(); err == nil || !strings.Contains(err.Error(), "repository certificate") {
		t.Errorf("Expiries() with a broken repository certificate: err = %v", err)
	}
}

// A database certificate made before the instances' Services existed (it
// names only the primary's Service and first pod) is signed anew by the
// same CA when the material is loaded; the CA and the repository's pair
// stay, so the repository host keeps trusting the database side.
func TestLoadOrGenerateMaterialReissuesOldDatabaseCertificate(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()
	m, err := LoadOrGenerateMaterial(spec, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := parseCert("CA", m.PKI.CACert)
	block, _ := pem.Decode(m.PKI.CAKey)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := leaves("hippo", "pgo")
	old := leaf{db.what, db.cn, db.dnsNames[:8]} // the Service's and hippo-0.hippo's names only
	if m.PKI.DBCert, m.PKI.DBKey, err = newLeaf(old, ca, caKey.(*ecdsa.PrivateKey), now); err != nil {
		t.Fatal(err)
	}
	if err := m.PKI.Verify("hippo", "pgo", now); !errors.As(err, new(x509.HostnameError)) {
		t.Fatalf("the old certificate verifies for the replicas' Services: %v", err)
	}
	repoSecret, pgSecret := secretsOf(t, spec, m)
	again, err := LoadOrGenerateMaterial(spec, repoSecret, pgSecret, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.PKI.Verify("hippo", "pgo", now); err != nil {
		t.Error(err)
	}
	if string(again.PKI.CACert) != string(m.PKI.CACert) || string(again.PKI.RepoCert) != string(m.PKI.RepoCert) || string(again.PKI.DBCert) == string(m.PKI.DBCert) {
		t.Error("want the same CA and repository certificate, and a new database certificate")
	}
}

// A database certificate made before it was PostgreSQL's server
// certificate lacks the replicas' Service, which applications connect to
// with sslmode=verify-full: it is signed anew too.
func TestLoadOrGenerateMaterialReissuesForTheReplicasService(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()
	m, err := LoadOrGenerateMaterial(spec, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := parseCert("CA", m.PKI.CACert)
	block, _ := pem.Decode(m.PKI.CAKey)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := leaves("hippo", "pgo")
	var names []string
	for _, n := range db.dnsNames {
		if !strings.HasPrefix(n, "hippo-replicas") {
			names = append(names, n)
		}
	}
	if len(names) != len(db.dnsNames)-4 {
		t.Fatalf("the database certificate names %v", db.dnsNames)
	}
	if m.PKI.DBCert, m.PKI.DBKey, err = newLeaf(leaf{db.what, db.cn, names}, ca, caKey.(*ecdsa.PrivateKey), now); err != nil {
		t.Fatal(err)
	}
	repoSecret, pgSecret := secretsOf(t, spec, m)
	again, err := LoadOrGenerateMaterial(spec, repoSecret, pgSecret, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := parseTestCert(t, again.PKI.DBCert).VerifyHostname("hippo-replicas.pgo.svc"); err != nil {
		t.Error(err)
	}
	if string(again.PKI.CACert) != string(m.PKI.CACert) {
		t.Error("want the same CA")
	}
}

func TestCheckCACert(t *testing.T) {
	p := newTestPKI(t, "hippo", "pgo")
	if err := CheckCACert("ca.crt", p.CACert); err != nil {
		t.Errorf("the CA: %v", err)
	}
	if err := CheckCACert("ca.crt", append(append([]byte{}, p.DBCert...), p.CACert...)); err != nil {
		t.Errorf("a bundle with the CA: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "ca.crt is empty"},
		{"text", []byte("not a certificate"), "is not PEM certificates"},
		{"a key", p.CAKey, `holds a PEM "PRIVATE KEY"`},
		{"a server certificate", p.DBCert, "holds no CA certificate"},
	} {
		if err := CheckCACert("ca.crt", tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
