package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const (
	testServiceKey = `{"type":"service_account","client_email":"pg@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.example/token"}`
	testCA         = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\n-----END CERTIFICATE-----\n"
)

func secretOfKeys(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// The GCS and Azure Secrets are checked before anything is applied, each
// problem named with its flag and what to do, never with the key's value.
func TestCheckObjectStoreSecrets(t *testing.T) {
	gcs := func(keyType string) func(*cluster.Spec, *Given) {
		return func(s *cluster.Spec, g *Given) {
			s.StorageType = []cluster.StorageType{cluster.StorageLocal, cluster.StorageGCS}
			s.GCS = &cluster.GCSSpec{Bucket: "backups", KeyType: keyType, CredentialsSecret: "gcs", CASecret: "gcs-ca", VerifyTLS: true}
			g.StorageType, g.GCS = true, true
		}
	}
	azure := func(keyType string) func(*cluster.Spec, *Given) {
		return func(s *cluster.Spec, g *Given) {
			s.StorageType = []cluster.StorageType{cluster.StorageAzure}
			s.Azure = &cluster.AzureSpec{Account: "acct", Container: "backups", KeyType: keyType, CredentialsSecret: "az", VerifyTLS: true}
			g.StorageType, g.Azure = true, true
		}
	}
	ca := secretOfKeys("gcs-ca", map[string]string{"ca.crt": testCA})
	for _, tc := range []struct {
		name    string
		set     func(*cluster.Spec, *Given)
		secrets []runtime.Object
		want    string // empty: accepted
	}{
		{"service key", gcs(repo.GCSKeyService), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-key.json": testServiceKey})}, ""},
		{"no Secret", gcs(repo.GCSKeyService), []runtime.Object{ca},
			"--pgbackrest-gcs-key-secret: Secret default/gcs does not exist: create it with the key gcs-key.json"},
		{"Secret without the key", gcs(repo.GCSKeyService), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"key.json": testServiceKey})},
			"--pgbackrest-gcs-key-secret: Secret default/gcs has no key gcs-key.json (it has key.json)"},
		{"key not JSON", gcs(repo.GCSKeyService), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-key.json": "private_key: secretvalue"})},
			"the key gcs-key.json of Secret default/gcs is not JSON (invalid at byte 1)"},
		{"key JSON of another kind", gcs(repo.GCSKeyService), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-key.json": `{"type":"authorized_user","client_secret":"secretvalue"}`})},
			"is JSON but not a service-account key: it has no client_email, private_key, token_uri"},
		{"JSON array", gcs(repo.GCSKeyService), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-key.json": `["secretvalue"]`})},
			"is not JSON (not an object)"},
		{"CA not PEM", gcs(repo.GCSKeyService), []runtime.Object{secretOfKeys("gcs-ca", map[string]string{"ca.crt": "secretvalue"}), secretOfKeys("gcs", map[string]string{"gcs-key.json": testServiceKey})},
			"--pgbackrest-gcs-ca-secret: the key ca.crt of Secret default/gcs-ca holds no PEM certificate"},
		{"token", gcs(repo.GCSKeyToken), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-token": "ya29.secretvalue"})}, ""},
		{"token with a newline", gcs(repo.GCSKeyToken), []runtime.Object{ca, secretOfKeys("gcs", map[string]string{"gcs-token": "ya29.secretvalue\n"})},
			"the key gcs-token of Secret default/gcs contains white space or a newline"},
		{"shared key", azure(repo.AzureKeyShared), []runtime.Object{secretOfKeys("az", map[string]string{"azure-key": "c2VjcmV0dmFsdWU="})}, ""},
		{"shared key not base64", azure(repo.AzureKeyShared), []runtime.Object{secretOfKeys("az", map[string]string{"azure-key": "secretvalue!"})},
			"--pgbackrest-azure-key-secret: the key azure-key of Secret default/az is not base64"},
		{"sas", azure(repo.AzureKeySAS), []runtime.Object{secretOfKeys("az", map[string]string{"azure-key": "sv=2019-02-02&ss=b&sig=secretvalue"})}, ""},
		{"no Azure Secret", azure(repo.AzureKeySAS), nil, "--pgbackrest-azure-key-secret: Secret default/az does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := createdFactory(tc.secrets...)
			o := newCreate(t, tc.set)
			err := CheckObjectStoreSecrets(context.Background(), clients(f), o.Spec)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckObjectStoreSecrets: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretvalue") {
				t.Errorf("the error quotes the Secret's value: %v", err)
			}
			// Create refuses before its first write.
			if _, _, err := runCreate(f, o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create: error = %v, want %q", err, tc.want)
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("writes: %v", w)
			}
		})
	}
}

// What pgBackRest says when GCS or Azure refuses it for good ends
// create's --wait with what to check.
func TestObjectStoreRefused(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageLocal, cluster.StorageGCS, cluster.StorageAzure},
		GCS:   &cluster.GCSSpec{Bucket: "backups", CredentialsSecret: "gcs", CASecret: "gcs-ca"},
		Azure: &cluster.AzureSpec{Account: "acct", Container: "c-1", CredentialsSecret: "az"}}
	spec.Default()
	err := ObjectStoreRefused(spec, "[039]: HTTP request failed with 403 (Server failed to authenticate the request)\n*** Request Headers ***")
	var stop *apply.StopError
	if !errors.As(err, &stop) {
		t.Fatalf("error = %v, want a StopError", err)
	}
	for _, want := range []string{"the object store refused the key (403)", "GCS bucket backups, Azure container c-1 of account acct", "the Secrets gcs, gcs-ca, az of namespace pgo",
		"kubectl pgo delete cluster hippo -n pgo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Request Headers") {
		t.Errorf("the error has more than pgBackRest's first line: %v", err)
	}
	if err := ObjectStoreRefused(spec, "[055]: unable to load info file"); err != nil {
		t.Errorf("a stanza not created yet: %v", err)
	}
}
