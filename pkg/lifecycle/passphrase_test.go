package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

const testPass = "generated-passphrase-0123456789abcdef"

// encryptedCluster is a fake factory with cluster hippo rendered with
// storage types and, when own is set, the user's passphrase Secret.
func encryptedCluster(t *testing.T, types []cluster.StorageType, own string, extra ...*corev1.Secret) *kubefake.Factory {
	t.Helper()
	f := newClusterFactory()
	spec := cluster.Spec{Name: "hippo", Namespace: "default", StorageType: types, Cipher: "aes-256-cbc", CipherSecret: own}
	if spec.HasS3Repo() {
		spec.S3 = &cluster.S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CredentialsSecret: "s3-keys"}
	}
	m := fakecluster.Material()
	m.CipherPass = testPass
	pki, err := cluster.NewPKI("hippo", "default", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.PKI = pki
	fakecluster.AddRendered(t, f.Clientset, spec, m)
	for _, s := range extra {
		if err := f.Clientset.Tracker().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func passSecret(ns, name, pass string, labels map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Data: map[string][]byte{cluster.KeyCipherPass: []byte(pass)}}
}

func TestPassphraseAtRisk(t *testing.T) {
	s3, local, both := []cluster.StorageType{"s3"}, []cluster.StorageType{"local"}, []cluster.StorageType{"local", "s3"}
	for _, tc := range []struct {
		name        string
		f           *kubefake.Factory
		keepBackups bool
		want        bool
	}{
		{"s3, generated, no copy", encryptedCluster(t, s3, ""), false, true},
		{"local,s3, generated, no copy", encryptedCluster(t, both, ""), false, true},
		{"s3, generated, --keep-backups keeps the Secret", encryptedCluster(t, s3, ""), true, false},
		{"local only: the backups go too", encryptedCluster(t, local, ""), false, false},
		{"s3, a copy in another namespace", encryptedCluster(t, s3, "", passSecret("vault", "hippo-key", testPass, nil)), false, false},
		{"s3, another passphrase is no copy", encryptedCluster(t, s3, "", passSecret("default", "other", testPass+"x", nil)), false, true},
		{"s3, a Secret of kubectl-pgo is no copy", encryptedCluster(t, s3, "",
			passSecret("default", "dr-backrest-repo-config", testPass, cluster.Labels("dr", cluster.ComponentRepo))), false, true},
		{"s3, own Secret", encryptedCluster(t, s3, "mine", passSecret("default", "mine", testPass, nil)), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			risk, err := PassphraseAtRisk(context.Background(), clients(tc.f), "default", "hippo", tc.keepBackups)
			if err != nil {
				t.Fatal(err)
			}
			if (risk != nil) != tc.want {
				t.Fatalf("PassphraseAtRisk() = %+v, want a risk: %v", risk, tc.want)
			}
			if risk == nil {
				return
			}
			msg := risk.Refusal().Error()
			for _, want := range []string{"refusing to delete cluster \"hippo\"", "bucket pg-backups", "Secret default/hippo-backrest-repo-config (key cipher-pass)",
				cluster.SaveCipherPassCommand("hippo", "default"), "--keep-backups", "--discard-passphrase --yes", "Nothing was deleted"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, testPass) {
				t.Errorf("the refusal holds the passphrase:\n%s", msg)
			}
		})
	}
}

// Settings that cannot be read: the repository Secret alone tells.
func TestPassphraseAtRiskUnreadableSettings(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	c := clients(f)
	if risk, err := PassphraseAtRisk(context.Background(), c, "default", "hippo", false); err != nil || risk != nil {
		t.Fatalf("without a passphrase: PassphraseAtRisk() = %v, %v; want nil, nil", risk, err)
	}
	secrets := f.Clientset.CoreV1().Secrets("default")
	s, err := secrets.Get(context.Background(), "hippo-backrest-repo-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{cluster.KeyCipherPass: []byte(testPass)}
	if _, err := secrets.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if risk, err := PassphraseAtRisk(context.Background(), c, "default", "hippo", false); err != nil || risk == nil {
		t.Fatalf("with a passphrase: PassphraseAtRisk() = %v, %v; want a risk", risk, err)
	}
	if risk, err := PassphraseAtRisk(context.Background(), c, "default", "hippo", true); err != nil || risk != nil {
		t.Fatalf("with --keep-backups: PassphraseAtRisk() = %v, %v; want nil, nil", risk, err)
	}
}

func TestCheckCipherSecret(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default", Cipher: "aes-256-cbc", CipherSecret: "mine"}
	for _, tc := range []struct {
		name    string
		secret  *corev1.Secret
		wantErr string
	}{
		{"good", passSecret("default", "mine", testPass, nil), ""},
		{"missing", nil, `Secret default/mine does not exist: create it with the passphrase under the key cipher-pass`},
		{"no key", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "mine"}}, "has no cipher-pass"},
		{"short", passSecret("default", "mine", "short", nil), "has 5 characters"},
		{"kubectl-pgo's", passSecret("default", "mine", testPass, cluster.Labels("other", cluster.ComponentRepo)), `goes with the cluster "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory()
			if tc.secret != nil {
				if err := f.Clientset.Tracker().Add(tc.secret); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckCipherSecret(context.Background(), clients(f), spec)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--pgbackrest-repo-cipher-secret")):
				t.Fatalf("CheckCipherSecret() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// An existing encrypted cluster whose repository Secret lost its generated passphrase gets no
// new one: it is taken back from the saved copy, or refused.
func TestReadMaterialKeepsThePassphrase(t *testing.T) {
	f := encryptedCluster(t, []cluster.StorageType{"s3"}, "")
	ctx := context.Background()
	secrets := f.Clientset.CoreV1().Secrets("default")
	s, err := secrets.Get(ctx, "hippo-backrest-repo-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(s.Data, cluster.KeyCipherPass)
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec, _, err := readSettings(ctx, clients(f), "default", "hippo")
	if err != nil {
		t.Fatal(err)
	}
	// A new cluster of these settings gets a new passphrase.
	if m, err := readMaterial(ctx, clients(f), spec, false, false, time.Now()); err != nil || m.CipherPass == "" || m.CipherPass == testPass {
		t.Fatalf("a new cluster: a new passphrase = %v (%v)", m.CipherPass != "" && m.CipherPass != testPass, err)
	}
	for _, required := range []bool{false, true} { // create, update
		_, err := readMaterial(ctx, clients(f), spec, required, true, time.Now())
		if err == nil || !strings.Contains(err.Error(), "its passphrase is gone from Secret default/hippo-backrest-repo-config") ||
			!strings.Contains(err.Error(), "Secret default/hippo-cipher-pass") {
			t.Errorf("required=%v: readMaterial() = %v, want a refusal naming the copy to make", required, err)
		}
	}
	if err := f.Clientset.Tracker().Add(passSecret("default", "hippo-cipher-pass", testPass, nil)); err != nil {
		t.Fatal(err)
	}
	if m, err := readMaterial(ctx, clients(f), spec, false, true, time.Now()); err != nil || m.CipherPass != testPass {
		t.Errorf("with the copy: passphrase taken back = %v (%v), want the copy's", m.CipherPass == testPass, err)
	}
}
