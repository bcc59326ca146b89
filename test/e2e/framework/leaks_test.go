package framework

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The leak check finds a password, a key in base64 and one line of a PEM
// key, ignores certificates, and lets a Secret printed on request through.
func TestFindLeaks(t *testing.T) {
	pemLine := "MHcCAQEEIBmJ2pCq0o1WJmYzVm9Kx6v3ZbL4aSb0bq0PqMjn5h3hoAoGCCqGSM49"
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hippo-postgres-secret"}, Data: map[string][]byte{
		"password": []byte("s3cr3t-password-value"),
		"db.key":   []byte("-----BEGIN EC PRIVATE KEY-----\n" + pemLine + "\n-----END EC PRIVATE KEY-----\n"),
		"db.crt":   []byte("-----BEGIN CERTIFICATE-----\nMIIBpublicpublicpublicpublicpublicpublicpublic\n-----END CERTIFICATE-----\n"),
		"username": []byte("postgres"),
	}}
	secrets := sensitiveValues(s)
	cases := []struct {
		name, text string
		leak       bool
	}{
		{"password in an error", "error: password s3cr3t-password-value rejected", true},
		{"base64 of the password", "password: " + base64.StdEncoding.EncodeToString([]byte("s3cr3t-password-value")), true},
		{"a line of the key", "log: " + pemLine, true},
		{"the certificate", "MIIBpublicpublicpublicpublicpublicpublicpublic", false},
		{"the user name", "user postgres", false},
		{"nothing", "cluster hippo created", false},
	}
	for _, c := range cases {
		got := FindLeaks(secrets, map[string]string{c.name: c.text})
		if (len(got) > 0) != c.leak {
			t.Errorf("%s: leaks %v, want a leak: %v", c.name, got, c.leak)
		}
		for _, l := range got {
			if l.In != c.name || l.Secret == "" {
				t.Errorf("%s: leak %+v does not say where", c.name, l)
			}
		}
	}
	printed := "kind: ConfigMap\nmetadata:\n  name: x\n---\nkind: Secret\ndata:\n  password: s3cr3t-password-value\n---\nkind: Service\n"
	if got := FindLeaks(secrets, map[string]string{"yaml": withoutSecretObjects(printed)}); len(got) != 0 {
		t.Errorf("a Secret printed on request counted as a leak: %v", got)
	}
	if got := FindLeaks(secrets, map[string]string{"yaml": withoutSecretObjects("kind: ConfigMap\ndata:\n  x: s3cr3t-password-value\n")}); len(got) != 1 {
		t.Errorf("a password in a ConfigMap was not found: %v", got)
	}
}
