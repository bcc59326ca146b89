package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/internal/testpki"
)

// writeFile writes data into a new file of dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --ca-cert and --ca-key are read and checked before any request: each
// bad file or combination is refused, saying what to give instead.
func TestRotateOwnCARefused(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	_, ca, chain := testpki.Intermediate(t, testpki.P256, now, 365*24*time.Hour)
	leafTmpl := testpki.CATemplate("hippo.example.com", now, 365*24*time.Hour)
	leafTmpl.IsCA = false
	server := testpki.Issue(t, nil, testpki.NewKey(t, testpki.P256), leafTmpl)
	expired := testpki.Issue(t, nil, testpki.NewKey(t, testpki.P256), testpki.CATemplate("old", now.Add(-48*time.Hour), 24*time.Hour))
	other := testpki.NewKey(t, testpki.P256)
	good := writeFile(t, dir, "chain.pem", chain)
	goodKey := writeFile(t, dir, "ca.key", ca.KeyPEM(t, testpki.SEC1))
	otherKey := writeFile(t, dir, "other.key", (&testpki.Cert{Key: other}).KeyPEM(t, testpki.PKCS8))
	serverCert := writeFile(t, dir, "server.pem", server.CertPEM())
	serverKey := writeFile(t, dir, "server.key", server.KeyPEM(t, testpki.PKCS8))
	expiredCert := writeFile(t, dir, "expired.pem", expired.CertPEM())
	expiredKey := writeFile(t, dir, "expired.key", expired.KeyPEM(t, testpki.PKCS8))
	text := writeFile(t, dir, "notes.txt", []byte("not a certificate\n"))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--new-ca", "--ca-cert=" + good}, "--ca-cert and --ca-key go together"},
		{"key without cert", []string{"--new-ca", "--ca-key=" + goodKey}, "--ca-cert and --ca-key go together"},
		{"without --new-ca", []string{"--ca-cert=" + good, "--ca-key=" + goodKey}, "--ca-cert and --ca-key go with --new-ca"},
		{"unreadable", []string{"--new-ca", "--ca-cert=" + missing, "--ca-key=" + goodKey}, "cannot read --ca-cert file: open " + missing},
		{"not PEM", []string{"--new-ca", "--ca-cert=" + text, "--ca-key=" + goodKey}, "--ca-cert file " + text + " holds no PEM certificate"},
		{"key not PEM", []string{"--new-ca", "--ca-cert=" + good, "--ca-key=" + text}, "--ca-key file " + text + " holds no PEM private key"},
		{"not a CA", []string{"--new-ca", "--ca-cert=" + serverCert, "--ca-key=" + serverKey}, "is not a CA (its basic constraints do not say CA:TRUE)"},
		{"expired", []string{"--new-ca", "--ca-cert=" + expiredCert, "--ca-key=" + expiredKey}, "expired on"},
		{"key of another", []string{"--new-ca", "--ca-cert=" + good, "--ca-key=" + otherKey}, "the key in --ca-key file " + otherKey + " does not match the certificate in --ca-cert file " + good},
		{"without its root", []string{"--new-ca", "--ca-cert=" + writeFile(t, dir, "ca.pem", ca.CertPEM()), "--ca-key=" + goodKey}, "append the issuers of the CA up to the self-signed root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory()
			_, _, err := executeRotate(t, f, append([]string{"certs", "hippo"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "See 'rotate certs --help' for usage.") {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			assertNoRequests(t, f)
		})
	}
}

// --dry-run=client with a CA of one's own names it by subject and serial
// in the steps, and changes nothing.
func TestRotateOwnCADryRun(t *testing.T) {
	fx := rotateFixture(t)
	dir := t.TempDir()
	_, ca, chain := testpki.Intermediate(t, testpki.RSA2048, time.Now(), 365*24*time.Hour)
	out, _, err := executeRotate(t, fx.Factory, "certs", "hippo", "--new-ca", "--dry-run=client",
		"--ca-cert="+writeFile(t, dir, "chain.pem", chain), "--ca-key="+writeFile(t, dir, "ca.key", ca.KeyPEM(t, testpki.PKCS1)))
	if err != nil {
		t.Fatal(err)
	}
	want := `the given CA "CN=Example Databases CA,O=Example PKI", serial ` + strings.ToUpper(ca.Cert.SerialNumber.Text(16)) + " with its root"
	if !strings.Contains(out, "(dry run): nothing is changed") || !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	for _, m := range fx.Mutations() {
		if m != "create namespaces" {
			t.Errorf("change: %s", m)
		}
	}
}
