package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/testpki"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestRotateOwnCA is issue 24's CA of the user's own PKI: on a cluster with a local repository,
// a table and a full backup, CA files that cannot serve are refused with nothing changed; then
// an RSA intermediate CA, signed by a root made here, given with --ca-cert (the intermediate,
// then the root) and --ca-key (PKCS#1) takes the three steps of --new-ca. Afterwards
// PostgreSQL presents a certificate that chains to the given CA, the CA ConfigMap and the
// Secret hold it with its root, doctor finds the pods serving it, a backup and a pg_dump Job
// (verify-full) work; and a PITR to a point after the switch returns exactly the table's state
// there, a restore to the end the latest state.
func TestRotateOwnCA(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c, start := &restoreCluster{env: env, ns: ns, name: "ownca"}, time.Now()
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	t.Logf("create cluster (local repository) took %s", time.Since(start).Round(time.Second))
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
	start = time.Now()
	c.backup(t)
	t.Logf("full backup took %s", time.Since(start).Round(time.Second))

	// The CA of "the user's PKI": a root, and an intermediate it signed, with RSA keys.
	now := time.Now()
	root, ca, chain := testpki.Intermediate(t, testpki.RSA2048, now, 2*365*24*time.Hour)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	chainFile, keyFile := file("chain.pem", chain), file("ca.key", ca.KeyPEM(t, testpki.PKCS1))

	// Refused before any request, nothing changed.
	leafTemplate := testpki.CATemplate("db.example.com", now, 365*24*time.Hour)
	leafTemplate.IsCA, leafTemplate.KeyUsage = false, x509.KeyUsageDigitalSignature
	server := testpki.Issue(t, ca, testpki.NewKey(t, testpki.P256), leafTemplate)
	expired := testpki.Issue(t, nil, testpki.NewKey(t, testpki.P256), testpki.CATemplate("expired", now.Add(-60*24*time.Hour), 30*24*time.Hour))
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})
	uid, rc := podNamed(t, env, ns, c.name+"-0").UID, secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	for _, bad := range []struct {
		name       string
		cert, key  string
		want       string
		withoutNew bool
	}{
		{"a server certificate", file("server.pem", server.CertPEM()), file("server.key", server.KeyPEM(t, testpki.PKCS8)), "is not a CA (its basic constraints do not say CA:TRUE)", false},
		{"an expired CA", file("expired.pem", expired.CertPEM()), file("expired.key", expired.KeyPEM(t, testpki.SEC1)), "expired on", false},
		{"the intermediate without its root", file("ca.pem", ca.CertPEM()), keyFile, "append the issuers of the CA up to the self-signed root", false},
		{"the root's key", chainFile, file("root.key", root.KeyPEM(t, testpki.PKCS8)), "does not match the certificate in --ca-cert file " + chainFile, false},
		{"an encrypted key", chainFile, file("encrypted.key", encrypted), "is encrypted: decrypt it", false},
		{"not PEM", file("ca.der", ca.Cert.Raw), keyFile, "holds no PEM certificate", false},
		{"without --new-ca", chainFile, keyFile, "--ca-cert and --ca-key go with --new-ca", true},
	} {
		args := []string{"rotate", "certs", c.name, "-n", ns, "--ca-cert=" + bad.cert, "--ca-key=" + bad.key, "--yes"}
		if !bad.withoutNew {
			args = append(args, "--new-ca")
		}
		res := env.PGO(t, args...)
		if res.ExitCode != 1 || !strings.Contains(res.Stderr, bad.want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", bad.name, res.ExitCode, bad.want, res)
		}
	}
	if podNamed(t, env, ns, c.name+"-0").UID != uid || !mapsEqual(rc, secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))) {
		t.Fatalf("a refusal changed the database pod or the repository Secret")
	}

	// The dry run names the given CA; then the switch.
	res := env.PGO(t, "rotate", "certs", c.name, "-n", ns, "--new-ca", "--ca-cert="+chainFile, "--ca-key="+keyFile, "--dry-run=client")
	if want := "the given CA \"" + ca.Cert.Subject.String() + "\", serial " + strings.ToUpper(ca.Cert.SerialNumber.Text(16)) + " with its root"; res.ExitCode != 0 || !strings.Contains(res.Stdout, want) {
		t.Errorf("dry run: exit %d, want the steps with %q:\n%s", res.ExitCode, want, res)
	}
	start = time.Now()
	res = env.PGO(t, "rotate", "certs", c.name, "-n", ns, "--new-ca", "--ca-cert="+chainFile, "--ca-key="+keyFile, "--new-ca-grace=5s", "--yes", "--timeout=6m")
	if res.ExitCode != 0 {
		t.Fatalf("rotate certs --new-ca --ca-cert:\n%s", res)
	}
	t.Logf("rotate certs --new-ca --ca-cert (RSA intermediate) took %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	if podNamed(t, env, ns, c.name+"-0").UID != uid {
		t.Errorf("the switch restarted the database pod")
	}

	// The Secret and the ConfigMap hold the given CA and its root, and the CA's key.
	ctx := context.Background()
	after := secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	if string(after[cluster.KeyCACert]) != string(chain) {
		t.Errorf("the Secret's ca.crt is not the given CA and its root:\n%s", after[cluster.KeyCACert])
	}
	if pki, err := cluster.PKIFromSecret(&corev1.Secret{Data: after}); err != nil {
		t.Error(err)
	} else if err := pki.Verify(c.name, ns, time.Now()); err != nil {
		t.Errorf("the Secret's certificates do not verify: %v", err)
	}
	if cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.CAConfigMapName(c.name), metav1.GetOptions{}); err != nil || cm.Data[cluster.KeyCACert] != string(chain) {
		t.Errorf("ConfigMap %s does not hold the given CA and its root (%v)", cluster.CAConfigMapName(c.name), err)
	}

	// PostgreSQL presents a certificate signed by the given CA, which chains to the root, for
	// the Service's name, and expires no later than the CA.
	exec := func(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
		return kube.ExecCapture(ctx, env.Config, env.Client, ns, pod, container, command)
	}
	served, err := inspect.ServedCertificate(ctx, exec, ns, c.name+"-0")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(served))
	if block == nil {
		t.Fatalf("PostgreSQL presents no certificate: %q", served)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	intermediates.AddCert(ca.Cert)
	host := c.name + "." + ns + ".svc"
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the certificate PostgreSQL presents does not chain to the given CA: %v", err)
	}
	if err := leaf.CheckSignatureFrom(ca.Cert); err != nil || leaf.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("PostgreSQL's certificate: signed by the given CA: %v; expires %s, the CA %s", err, leaf.NotAfter, ca.Cert.NotAfter)
	}
	t.Logf("PostgreSQL presents serial %X, issued by %q, until %s", leaf.SerialNumber, leaf.Issuer.String(), leaf.NotAfter.Format(time.RFC3339))
	// OpenSSL in the pod verifies it with the mounted ca.crt, as libpq and pgBackRest do.
	out, err := c.execIn(c.name+"-0", "database", "bash", "-c",
		"openssl s_client -starttls postgres -connect "+host+":5432 -CAfile /etc/pgbackrest/tls/ca.crt -verify_return_error -verify_hostname "+host+" </dev/null 2>&1")
	if err != nil || !strings.Contains(out, "Verify return code: 0 (ok)") {
		t.Errorf("openssl s_client with the mounted ca.crt: %v\n%s", err, out)
	}

	r, dres := doctorReport(t, env, ns, c.name)
	for _, check := range []string{"certificates", "loaded secrets"} {
		if tc := doctorStatus(t, r, check); tc.Status != "ok" {
			t.Errorf("doctor's %s after the switch: %+v\n%s", check, tc, dres)
		}
	}

	// A backup (the repository host dials the database's pgBackRest server) and a pg_dump Job
	// (libpq, verify-full against the ConfigMap) with the new certificates.
	start = time.Now()
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=incr", "--wait"); res.ExitCode != 0 {
		t.Fatalf("a backup after the switch:\n%s", res)
	}
	t.Logf("incremental backup after the switch took %s", time.Since(start).Round(time.Second))
	start = time.Now()
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait"); res.ExitCode != 0 {
		t.Fatalf("a pg_dump Job (verify-full) after the switch:\n%s", res)
	}
	t.Logf("pg_dump Job (verify-full) took %s", time.Since(start).Round(time.Second))

	// Data: a point after the switch, more rows, a PITR to the point, then a restore to the end.
	target, sum := c.targetBetweenSum(t, "INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(2001, 3000) g",
		"INSERT INTO chain SELECT g, 'after the target' FROM generate_series(3001, 4000) g", chainChecksumSQL)
	t.Logf("target %s: count|md5 %s; at the end %s", target, sum, c.one(t, chainChecksumSQL))
	restored := func(what, want string, args ...string) {
		t.Helper()
		start := time.Now()
		c.restore(t, args...)
		if got := c.one(t, chainChecksumSQL); got != want {
			t.Fatalf("after the %s the table is %s, want %s", what, got, want)
		}
		t.Logf("%s: count|md5 %s, as recorded (%s)", what, want, time.Since(start).Round(time.Second))
	}
	restored("PITR to "+target, sum, "--pitr-target="+target)
	c.sql(t, "INSERT INTO chain SELECT g, 'after the PITR' FROM generate_series(5001, 5500) g")
	c.switchAndArchive(t)
	restored("restore to the end", c.one(t, chainChecksumSQL))
}
