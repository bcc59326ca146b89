package fakecluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Secrets are the two Secrets of cluster name in ns: the superuser's
// (postgres, password "secret") and the repository's certificates, issued
// at issued.
func Secrets(t testing.TB, name, ns string, issued time.Time) (postgres, repoConfig *corev1.Secret) {
	t.Helper()
	pki, err := cluster.NewPKI(name, ns, issued)
	if err != nil {
		t.Fatal(err)
	}
	postgres = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: cluster.PostgresSecretName(name), Namespace: ns},
		Data: map[string][]byte{cluster.KeyUsername: []byte("postgres"), cluster.KeyPassword: []byte("secret")}}
	repoConfig = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: cluster.RepoConfigSecretName(name), Namespace: ns},
		Data: map[string][]byte{
			cluster.KeyCACert: pki.CACert, cluster.KeyCAKey: pki.CAKey,
			cluster.KeyDBCert: pki.DBCert, cluster.KeyDBKey: pki.DBKey,
			cluster.KeyRepoCert: pki.RepoCert, cluster.KeyRepoKey: pki.RepoKey,
		}}
	return postgres, repoConfig
}
