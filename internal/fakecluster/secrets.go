package fakecluster

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

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

// LoadedAnswer is what the pods of a cluster whose Secrets are among
// objects print when doctor or rotate reads what they have loaded: the
// mounted certificates (cat), the certificates the servers present
// (openssl s_client: the database's, or the repository host's by the
// client certificate it is read with) and the digests of the password
// files (sha256sum), all as the Secrets hold them; ok is false for any
// other command.
func LoadedAnswer(command []string, objects ...runtime.Object) (stdout string, ok bool) {
	var pg, rc *corev1.Secret
	for _, o := range objects {
		if s, isSecret := o.(*corev1.Secret); isSecret {
			switch {
			case strings.HasSuffix(s.Name, "-postgres-secret"):
				pg = s
			case strings.HasSuffix(s.Name, "-backrest-repo-config"):
				rc = s
			}
		}
	}
	data := func(s *corev1.Secret, key string) []byte {
		if s == nil {
			return nil
		}
		return s.Data[key]
	}
	line := strings.Join(command, " ")
	switch {
	case command[0] == "cat" || strings.Contains(line, "openssl s_client"):
		if strings.Contains(line, cluster.KeyRepoCert) {
			return string(data(rc, cluster.KeyRepoCert)), true
		}
		return string(data(rc, cluster.KeyDBCert)), true
	case command[0] == "sha256sum":
		key := cluster.KeyPassword
		if strings.HasSuffix(command[1], cluster.KeyReplicationPassword) {
			key = cluster.KeyReplicationPassword
		}
		sum := sha256.Sum256(data(pg, key))
		return hex.EncodeToString(sum[:]) + "  " + command[1] + "\n", true
	}
	return "", false
}
