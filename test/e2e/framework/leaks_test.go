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

// The keys of object stores are secret values: a GCS token, an Azure key, and a service-account
// key JSON whole, its private key field alone, or one line of that key.
func TestFindLeaksObjectStoreKeys(t *testing.T) {
	pemLine := "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
	keyJSON := `{"type":"service_account","client_email":"kpgo@example.iam.gserviceaccount.com",` +
		`"private_key":"-----BEGIN PRIVATE KEY-----\n` + pemLine + `\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.example/token"}`
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"}, Data: map[string][]byte{
		"gcs-key.json": []byte(keyJSON),
		"gcs-token":    []byte("ya29.a0-test-token-value"),
		"azure-key":    []byte("bXktYXp1cmUtc2hhcmVkLWtleQ=="),
		"ca.crt":       []byte("-----BEGIN CERTIFICATE-----\nMIIBpublicpublicpublicpublicpublicpublicpublic\n-----END CERTIFICATE-----\n"),
	}}
	secrets := sensitiveValues(s)
	for name, text := range map[string]string{
		"the key JSON":         "key: " + keyJSON,
		"its private key line": "pgbackrest: unable to read PEM " + pemLine,
		"the token":            "Authorization: Bearer ya29.a0-test-token-value",
		"the Azure key":        "PGBACKREST_REPO1_AZURE_KEY=bXktYXp1cmUtc2hhcmVkLWtleQ==",
	} {
		if got := FindLeaks(secrets, map[string]string{name: text}); len(got) == 0 {
			t.Errorf("%s: no leak found in %q", name, text)
		}
	}
	for name, text := range map[string]string{
		"the client e-mail": "client kpgo@example.iam.gserviceaccount.com",
		"the token URI":     "token_uri https://oauth2.example/token",
		"the CA":            "MIIBpublicpublicpublicpublicpublicpublicpublic",
	} {
		if got := FindLeaks(secrets, map[string]string{name: text}); len(got) != 0 {
			t.Errorf("%s: counted as a leak: %v", name, got)
		}
	}
}
