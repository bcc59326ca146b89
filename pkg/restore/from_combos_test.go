package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The values of the secrets in the combination tests: none may appear in
// a pod's spec, only in the Secrets.
const (
	comboFlagKey, comboFlagSecret = "old key", "old secret"
	comboUserKey, comboUserSecret = "user key", "user secret"
	comboNewKey, comboNewSecret   = "new key", "new secret"
	comboPass                     = "old pass"
)

// comboSource is a source cluster of the combination tests.
type comboSource struct {
	storage []cluster.StorageType
	// keysInSecret: the S3 keys are in the user's Secret s3-keys, not
	// given as flags (then in old's repository Secret).
	keysInSecret bool
	cipher       string
	// gcsKeyType is that of a GCS repository: service or token.
	gcsKeyType string
}

func (s comboSource) String() string {
	keys := "keys as flags"
	if s.keysInSecret {
		keys = "keys in a Secret"
	}
	cipher := "no cipher"
	if s.cipher != "" {
		cipher = s.cipher
	}
	if s.gcsKeyType != "" {
		keys += ", GCS " + s.gcsKeyType
	}
	return fmt.Sprintf("%s, %s, %s", storageTypeString(s.storage), keys, cipher)
}

// spec is old's Spec.
func (s comboSource) spec() cluster.Spec {
	spec := cluster.Spec{Name: "old", Namespace: "pgo", StorageType: s.storage, Cipher: s.cipher}
	if slices.Contains(s.storage, cluster.StorageS3) {
		spec.S3 = &cluster.S3Spec{Bucket: "backups", Endpoint: "s3.pgo.svc:9000", VerifyTLS: true, CASecret: "s3-ca"}
		if s.keysInSecret {
			spec.S3.CredentialsSecret = "s3-keys"
		}
	}
	if slices.Contains(s.storage, cluster.StorageGCS) {
		spec.GCS = gcsSpec("old", s.gcsKeyType).GCS
	}
	if slices.Contains(s.storage, cluster.StorageAzure) {
		spec.Azure = azureSpec("old").Azure
	}
	spec = fakecluster.Defaulted(spec)
	return spec
}

// add adds old's objects, and a ready repository host pod, to the fixture.
func (s comboSource) add(t *testing.T, fx *fakecluster.Cluster) {
	t.Helper()
	m := cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("old db.crt"), DBKey: []byte("old db.key"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p", CipherPass: comboPass}
	if !s.keysInSecret {
		m.S3Key, m.S3KeySecret = comboFlagKey, comboFlagSecret
	}
	fakecluster.AddRendered(t, fx.Factory.Clientset, s.spec(), m)
	_ = fx.Factory.Clientset.Tracker().Add(fakecluster.RunningPod("pgo", "old-backrest-shared-repo-abc", fakecluster.PodLabels("old", cluster.ComponentRepo), "pgbackrest"))
}

// comboSources are every storage type × where the keys come from ×
// cipher; where the keys come from only matters with S3.
func comboSources() []comboSource {
	var out []comboSource
	for _, storage := range [][]cluster.StorageType{{cluster.StorageLocal}, {cluster.StorageS3}, {cluster.StorageLocal, cluster.StorageS3},
		{cluster.StorageGCS}, {cluster.StorageAzure}, {cluster.StorageLocal, cluster.StorageGCS, cluster.StorageAzure},
		{cluster.StorageLocal, cluster.StorageS3, cluster.StorageGCS, cluster.StorageAzure}} {
		for _, keysInSecret := range []bool{false, true} {
			if keysInSecret && !slices.Contains(storage, cluster.StorageS3) {
				continue
			}
			gcsKeyTypes := []string{""}
			if slices.Contains(storage, cluster.StorageGCS) {
				gcsKeyTypes = []string{repo.GCSKeyService, repo.GCSKeyToken}
			}
			for _, gcsKeyType := range gcsKeyTypes {
				for _, cipher := range []string{"", cipherAES} {
					out = append(out, comboSource{storage: storage, keysInSecret: keysInSecret, cipher: cipher, gcsKeyType: gcsKeyType})
				}
			}
		}
	}
	return out
}

// Source states of the combination tests.
const (
	comboRunning = "running"
	comboKept    = "deleted with --keep-backups"
	comboGone    = "gone for good"
)

// Every storage type of the source × where its S3 keys come from ×
// cipher, with the source running, deleted with --keep-backups, or gone
// for good (read from the new cluster's bucket), and for local,s3 with
// --repo=2: the restore Job, and the reader pod when there is one, carry
// every setting pgBackRest needs for each repository in the source's
// pgbackrest.conf (keys, passphrase, CA), each from the temporary Secret,
// which holds the right values, and never a value in plain text.
func TestFromCombinations(t *testing.T) {
	type combo struct {
		source  comboSource
		state   string
		restore string // --restore-opts
		newSpec cluster.Spec
		newKeys cluster.Material
	}
	var combos []combo
	for _, src := range comboSources() {
		for _, state := range []string{comboRunning, comboKept} {
			combos = append(combos, combo{source: src, state: state, newSpec: cluster.Spec{Name: "new", Namespace: "pgo"}})
			if len(src.storage) >= 2 {
				combos = append(combos, combo{source: src, state: state, restore: "--repo=2", newSpec: cluster.Spec{Name: "new", Namespace: "pgo"}})
			}
		}
	}
	// Gone for good: read in the new cluster's bucket with its keys.
	newFlags, newSecret := s3Spec("new"), s3Spec("new")
	newSecret.S3.CredentialsSecret = "s3-keys"
	combos = append(combos,
		combo{state: comboGone, newSpec: newFlags, newKeys: cluster.Material{S3Key: comboNewKey, S3KeySecret: comboNewSecret}},
		combo{state: comboGone, newSpec: newSecret},
		combo{state: comboGone, newSpec: gcsSpec("new", repo.GCSKeyService)},
		combo{state: comboGone, newSpec: gcsSpec("new", repo.GCSKeyToken)},
		combo{state: comboGone, newSpec: azureSpec("new")})

	for _, tc := range combos {
		name := tc.state + ", new " + storageTypeString(tc.newSpec.StorageType)
		if tc.newSpec.GCS != nil {
			name += " " + tc.newSpec.GCS.KeyType
		}
		if tc.state != comboGone {
			name = tc.source.String() + ", " + tc.state
		}
		if tc.restore != "" {
			name += ", " + tc.restore
		}
		t.Run(name, func(t *testing.T) {
			fx, r := s3FromFixture(t)
			fx.Factory.Clientset.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "pgo", "s3-keys")
			_ = fx.Factory.Clientset.Tracker().Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-keys", Namespace: "pgo"},
				Data: map[string][]byte{cluster.KeyS3Key: []byte(comboUserKey), cluster.KeyS3KeySecret: []byte(comboUserSecret)}})
			c := fx.Factory.Clientset
			if tc.state != comboGone {
				tc.source.add(t, fx)
			}
			if tc.state == comboKept {
				fx.Factory.ServerSideApply()
				if err := c.Tracker().Delete(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "pgo", "old-backrest-shared-repo"); err != nil && len(tc.source.storage) != 1 {
					t.Fatal(err)
				}
			}
			if strings.Contains(tc.restore, "--repo=2") {
				fx.Info = strings.NewReplacer(`"repo-key":1`, `"repo-key":2`, `"key":1`, `"key":2`).Replace(fakecluster.InfoOneFull)
			}
			r.RestoreOpts = tc.restore
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			var secret *corev1.Secret
			var reader *corev1.Pod
			c.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
				secret = action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
				return false, nil, nil
			})
			c.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
				reader = action.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
				return false, nil, nil
			})
			ctx := context.Background()
			tc.newSpec = fakecluster.Defaulted(tc.newSpec)
			if err := r.prepare(ctx, fx, false, tc.newSpec, tc.newKeys); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			objects, err := cluster.Render(tc.newSpec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
				RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p", S3Key: tc.newKeys.S3Key, S3KeySecret: tc.newKeys.S3KeySecret})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.AdjustObjects(objects); err != nil {
				t.Fatalf("AdjustObjects: %v", err)
			}
			sts := &appsv1.StatefulSet{}
			for _, obj := range objects {
				if obj.GetKind() == "StatefulSet" {
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, sts); err != nil {
						t.Fatal(err)
					}
				}
			}
			_ = c.Tracker().Add(sts)
			if err := r.Restore(ctx); err != nil {
				t.Fatalf("Restore: %v", err)
			}

			repos := r.sourceSpec.Repositories()
			if tc.state == comboGone && !slices.Equal(r.sourceSpec.StorageType, tc.newSpec.StorageType) {
				t.Fatalf("a gone source is read from the new cluster's object store %v, not %v", tc.newSpec.StorageType, r.sourceSpec.StorageType)
			}
			if secret == nil {
				t.Fatal("no temporary Secret was created")
			}
			conf := string(secret.Data[jobs.SourceKeyConfig])
			for _, rp := range repos {
				if want := rp.Option("type") + "=" + string(rp.Type); !strings.Contains(conf, want) {
					t.Errorf("the source's pgbackrest.conf lacks %q:\n%s", want, conf)
				}
			}
			job, err := c.BatchV1().Jobs("pgo").Get(ctx, "new-restore", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pods := map[string]corev1.PodSpec{"the restore Job": job.Spec.Template.Spec}
			readsObjectStoreOnly := !slices.Contains(tc.source.storage, cluster.StorageLocal) || tc.state == comboGone || tc.restore != ""
			if readsObjectStoreOnly != (reader != nil) {
				t.Errorf("reader pod created: %v, want %v", reader != nil, readsObjectStoreOnly)
			}
			if reader != nil {
				pods["the reader pod"] = reader.Spec
			}
			wantKey, wantSecret := comboFlagKey, comboFlagSecret
			switch {
			case tc.state == comboGone && tc.newKeys.S3Key != "":
				wantKey, wantSecret = comboNewKey, comboNewSecret
			case tc.state == comboGone || tc.source.keysInSecret:
				wantKey, wantSecret = comboUserKey, comboUserSecret
			}
			for what, pod := range pods {
				container := pod.Containers[0].Name
				if err := jobs.CheckRepositoryAccess(pod, container, repos); err != nil {
					t.Errorf("%s: %v", what, err)
				}
				for _, e := range pod.Containers[0].Env {
					if !strings.HasPrefix(e.Name, "PGBACKREST_") {
						continue
					}
					if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "new-restore-source" {
						t.Errorf("%s: %s is not from the temporary Secret: %+v", what, e.Name, e)
						continue
					}
					got := string(secret.Data[e.ValueFrom.SecretKeyRef.Key])
					want := map[bool]string{true: wantKey, false: wantSecret}[strings.HasSuffix(e.Name, "_S3_KEY")]
					switch {
					case strings.HasSuffix(e.Name, "_CIPHER_PASS"):
						want = comboPass
					case strings.HasSuffix(e.Name, "_GCS_KEY"):
						want = comboGCSToken
					case strings.HasSuffix(e.Name, "_AZURE_KEY"):
						want = comboAzureKey
					}
					if got != want {
						t.Errorf("%s: %s is %q in the temporary Secret, want %q", what, e.Name, got, want)
					}
				}
				for _, rp := range repos {
					if g := rp.GCS; g != nil && g.KeyType == repo.GCSKeyService && string(secret.Data[jobs.SourceKeyGCSKeyFile]) != comboGCSKey {
						t.Errorf("the temporary Secret's %s is %q, want the user's service key", jobs.SourceKeyGCSKeyFile, secret.Data[jobs.SourceKeyGCSKeyFile])
					}
				}
				text := fmt.Sprintf("%+v", pod)
				for _, v := range []string{comboFlagKey, comboFlagSecret, comboUserKey, comboUserSecret, comboNewKey, comboNewSecret, comboPass, "the GCS private key", comboGCSToken, comboAzureKey} {
					if strings.Contains(text, v) {
						t.Errorf("%s holds the secret %q in plain text", what, v)
					}
				}
			}
			if cmd := job.Spec.Template.Spec.Containers[0].Command; tc.restore != "" && !slices.Contains(cmd, tc.restore) {
				t.Errorf("the Job's pgbackrest restore lacks %s: %v", tc.restore, cmd[len(cmd)-6:])
			}
			if _, err := c.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the temporary Secret is left")
			}
		})
	}
}

// What reads the source's repositories is read before anything is
// created: a missing Secret or key refuses the restore, and nothing
// changes.
func TestFromCombinationsRefuse(t *testing.T) {
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	dropKey := func(name, key string) func(t *testing.T, fx *fakecluster.Cluster) {
		return func(t *testing.T, fx *fakecluster.Cluster) {
			s, err := fx.Factory.Clientset.CoreV1().Secrets("pgo").Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			delete(s.Data, key)
			_ = fx.Factory.Clientset.Tracker().Update(secrets, s, "pgo")
		}
	}
	localS3 := []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3}
	tests := []struct {
		name   string
		source comboSource
		break_ func(t *testing.T, fx *fakecluster.Cluster)
		want   []string
	}{
		{name: "local,s3: the credentials Secret is gone", source: comboSource{storage: localS3, keysInSecret: true},
			break_: func(t *testing.T, fx *fakecluster.Cluster) {
				_ = fx.Factory.Clientset.Tracker().Delete(secrets, "pgo", "s3-keys")
			},
			want: []string{`the S3 keys of cluster "old" are gone`, "pgo/s3-keys"}},
		{name: "local,s3: the S3 CA Secret is gone", source: comboSource{storage: localS3, keysInSecret: true},
			break_: func(t *testing.T, fx *fakecluster.Cluster) {
				_ = fx.Factory.Clientset.Tracker().Delete(secrets, "pgo", "s3-ca")
			},
			want: []string{`the CA of the S3 endpoint of cluster "old"`, "pgo/s3-ca does not exist"}},
		{name: "local, encrypted: the passphrase is gone", source: comboSource{storage: []cluster.StorageType{cluster.StorageLocal}, cipher: cipherAES},
			break_: dropKey("old-backrest-repo-config", cluster.KeyCipherPass),
			want:   []string{`the repository of cluster "old" is encrypted`, "has no cipher-pass"}},
		{name: "local,s3, keys as flags: a key is gone", source: comboSource{storage: localS3},
			break_: dropKey("old-backrest-repo-config", cluster.KeyS3KeySecret),
			want:   []string{`the S3 keys of cluster "old" are gone`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := s3FromFixture(t)
			tc.source.add(t, fx)
			tc.break_(t, fx)
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			fx.Factory.Clientset.ClearActions()
			spec := cluster.Spec{Name: "new", Namespace: "pgo"}
			spec = fakecluster.Defaulted(spec)
			err := r.prepare(context.Background(), fx, false, spec, cluster.Material{})
			for _, w := range append(tc.want, "nothing was created") {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want %q", err, w)
				}
			}
			if m := fx.Mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
		})
	}
}

// storageTypeString joins storage types as the flag takes them.
func storageTypeString(types []cluster.StorageType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}
