package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

func TestRestoreFromValidate(t *testing.T) {
	tests := []struct {
		name string
		r    RestoreFromOptions
		want string // "" for no error
	}{
		{name: "off", r: RestoreFromOptions{}},
		{name: "latest", r: RestoreFromOptions{Source: "old"}},
		{name: "point in time, other namespace", r: RestoreFromOptions{Source: "old", SourceNamespace: "prod", PITRTarget: "2026-11-24T12:00:00Z"}},
		{name: "set", r: RestoreFromOptions{Source: "old", RestoreOpts: "--set=20261124-110000F --type=immediate"}},
		{name: "target without source", r: RestoreFromOptions{PITRTarget: "2026-11-24T12:00:00Z"}, want: "--pitr-target needs --restore-from"},
		{name: "bad source", r: RestoreFromOptions{Source: "Old_1"}, want: "--restore-from=Old_1 is not a cluster name"},
		{name: "bad namespace", r: RestoreFromOptions{Source: "old", SourceNamespace: "a/b"}, want: "--restore-from-namespace=a/b is not a namespace"},
		{name: "itself", r: RestoreFromOptions{Source: "new"}, want: "names the cluster being created"},
		{name: "itself elsewhere is another", r: RestoreFromOptions{Source: "new", SourceNamespace: "other"}},
		{name: "malformed target", r: RestoreFromOptions{Source: "old", PITRTarget: "noon"}, want: `invalid --pitr-target: "noon" is not a valid point-in-time target`},
		{name: "denied option", r: RestoreFromOptions{Source: "old", RestoreOpts: "--pg1-path=/x"}, want: "--pg1-path cannot be given"},
		{name: "pause", r: RestoreFromOptions{Source: "old", RestoreOpts: "--type=immediate --target-action=pause"}, want: "--target-action=pause cannot be used with --restore-from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate("new", "pg")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// restoreFromFixture is a running cluster "old" in namespace "pgo" with one
// backup, to restore into a new cluster "new".
func restoreFromFixture(t *testing.T) (*restoreFixture, *RestoreFromOptions) {
	t.Helper()
	fx := newRestoreFixture(t)
	// The fixture's cluster is hippo; rename its objects to old.
	c := fx.f.Clientset
	spec := cluster.Spec{Name: "old", Namespace: "pgo"}
	spec.Default()
	m := cluster.Material{PKI: cluster.PKI{CACert: []byte("ca"), CAKey: []byte("k"), DBCert: []byte("old db.crt"), DBKey: []byte("old db.key"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"}
	addRendered(t, c, spec, m)
	_ = c.Tracker().Add(readyPod("old-backrest-shared-repo-abc", podLabels("old", cluster.ComponentRepo), "pgbackrest"))
	r := &RestoreFromOptions{Source: "old", exec: fx.exec, pollInterval: time.Millisecond, Timeout: time.Minute}
	return fx, r
}

// addRendered adds the ConfigMaps, Secrets, PVCs and Deployments that
// create cluster renders for spec to the fake clientset c.
func addRendered(t *testing.T, c *fake.Clientset, spec cluster.Spec, m cluster.Material) {
	t.Helper()
	rendered, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rendered {
		var obj k8sruntime.Object
		switch u.GetKind() {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		default:
			continue
		}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatal(err)
		}
		if err := c.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

func restoreFromStreams() genericiooptions.IOStreams {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	return streams
}

func TestRestoreFromPrepareRefuses(t *testing.T) {
	gvr := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: resource}
	}
	tests := []struct {
		name     string
		r        func(*RestoreFromOptions)
		setup    func(*restoreFixture)
		existing bool
		want     string
	}{
		{name: "the new cluster exists", existing: true, want: `--restore-from creates a new cluster, and cluster "new" exists in namespace "pgo"`},
		{name: "missing source", r: func(r *RestoreFromOptions) { r.Source = "missing" },
			want: `cluster "missing" not found in namespace "pgo", neither running nor deleted with --keep-backups`},
		{name: "missing source namespace", r: func(r *RestoreFromOptions) { r.SourceNamespace = "elsewhere" },
			want: `cluster "old" not found in namespace "elsewhere"`},
		{name: "repository Secret gone", setup: func(fx *restoreFixture) {
			_ = fx.f.Clientset.Tracker().Delete(gvr("secrets"), "pgo", "old-backrest-repo-config")
		}, want: "its Secret old-backrest-repo-config (the certificates of its repository host) is gone"},
		{name: "repository PVC gone", setup: func(fx *restoreFixture) {
			_ = fx.f.Clientset.Tracker().Delete(gvr("persistentvolumeclaims"), "pgo", "old-pgbr-repo")
		}, want: `the repository of cluster "old" is gone: PVC old-pgbr-repo does not exist`},
		{name: "no backups", setup: func(fx *restoreFixture) { fx.info = restoreTestNoBackups }, want: `cluster "old" has no backups to restore from`},
		{name: "unknown set", r: func(r *RestoreFromOptions) { r.RestoreOpts = "--set=20200101-000000F" }, want: "backup 20200101-000000F does not exist"},
		{name: "target after the archive", r: func(r *RestoreFromOptions) { r.PITRTarget = "2026-11-26T09:00:00Z" }, want: "is after the last archived WAL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := restoreFromFixture(t)
			if tc.r != nil {
				tc.r(r)
			}
			if tc.setup != nil {
				tc.setup(fx)
			}
			if err := r.Validate("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			fx.f.Clientset.ClearActions()
			err := r.Prepare(context.Background(), fx.f, tc.existing, cluster.Spec{}, cluster.Material{}, restoreFromStreams())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if m := fx.mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
			if n := len(fx.f.Dynamic.Actions()); n != 0 {
				t.Errorf("%d dynamic requests: %v", n, fx.f.Dynamic.Actions())
			}
		})
	}
}

// From a running source: Prepare checks it, AdjustObjects keeps the new
// database stopped, and Restore runs the Job with the source's
// configuration, removes the temporary Secret and starts the database.
func TestRestoreFromRunningSource(t *testing.T) {
	fx, r := restoreFromFixture(t)
	r.SourceNamespace = "pgo"
	r.PITRTarget = "2026-11-26 07:30:00+00"
	if err := r.Validate("new", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Prepare(ctx, fx.f, false, cluster.Spec{}, cluster.Material{}, restoreFromStreams()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if r.backup.Label != "20261126-072526F" {
		t.Errorf("backup = %q", r.backup.Label)
	}

	// What create cluster renders and applies for "new".
	spec := cluster.Spec{Name: "new", Namespace: "other"}
	spec.Default()
	objects, err := cluster.Render(spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AdjustObjects(objects); err != nil {
		t.Fatal(err)
	}
	var sts *appsv1.StatefulSet
	for _, obj := range objects {
		if obj.GetKind() == "StatefulSet" {
			replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			if replicas != 0 {
				t.Errorf("replicas = %d after AdjustObjects, want 0", replicas)
			}
			sts = &appsv1.StatefulSet{}
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, sts); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := fx.f.Clientset
	if err := c.Tracker().Add(sts); err != nil {
		t.Fatal(err)
	}
	var secret *corev1.Secret
	c.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, k8sruntime.Object, error) {
		secret = action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		return false, nil, nil
	})
	fx.f.Clientset.ClearActions()
	if err := r.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}

	if got, want := strings.Join(fx.mutations(), ", "), "delete secrets, create secrets, delete jobs, create jobs, patch statefulsets, delete secrets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if secret == nil || secret.Namespace != "other" || string(secret.Data[jobs.SourceKeyCert]) != "old db.crt" ||
		!strings.Contains(string(secret.Data[jobs.SourceKeyConfig]), "repo1-host=old-backrest-shared-repo") {
		t.Errorf("source Secret = %+v", secret)
	}
	job, err := c.BatchV1().Jobs("other").Get(ctx, "new-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " ")
	for _, want := range []string{
		"--stanza=db --pg1-path=/pgdata/new --repo1-host=old-backrest-shared-repo.pgo.svc restore --delta --set=20261126-072526F --type=time --target=2026-11-26 07:30:00+00 --target-action=promote",
		"archive_mode=off",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("job command lacks %q:\n%s", want, cmd)
		}
	}
	env := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["PASSWORD_FILE"] != "/etc/kubectl-pgo/password" || env["PG_BIN"] != "/usr/lib/postgresql/15/bin" {
		t.Errorf("job env = %v", env)
	}
	got, _ := c.AppsV1().StatefulSets("other").Get(ctx, "new", metav1.GetOptions{})
	if *got.Spec.Replicas != 1 {
		t.Errorf("replicas = %d after the restore, want 1", *got.Spec.Replicas)
	}
}

func TestRestoreFromJobFailureAdvice(t *testing.T) {
	fx, r := restoreFromFixture(t)
	fx.jobFails = true
	if err := r.Validate("new", "pgo"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Prepare(ctx, fx.f, false, cluster.Spec{}, cluster.Material{}, restoreFromStreams()); err != nil {
		t.Fatal(err)
	}
	sts := &appsv1.StatefulSet{}
	rendered := renderedFixtureStatefulSet(t, "new")
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(rendered.Object, sts); err != nil {
		t.Fatal(err)
	}
	_ = fx.f.Clientset.Tracker().Add(sts)
	err := r.Restore(ctx)
	if err == nil || !strings.Contains(err.Error(), "Cluster new was created with its database stopped") ||
		!strings.Contains(err.Error(), "kubectl pgo delete cluster new -n pgo --yes") {
		t.Fatalf("error = %v", err)
	}
	if _, err := fx.f.Clientset.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
		t.Errorf("the source Secret is left behind")
	}
}

func renderedFixtureStatefulSet(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	spec := cluster.Spec{Name: name, Namespace: "pgo"}
	spec.Default()
	objects, err := cluster.Render(spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects {
		if obj.GetKind() == "StatefulSet" {
			return obj
		}
	}
	t.Fatal("no StatefulSet")
	return nil
}

// s3Spec is a cluster whose only repository is in bucket "backups".
func s3Spec(name string) cluster.Spec {
	spec := cluster.Spec{Name: name, Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "backups", Endpoint: "s3.pgo.svc:9000", VerifyTLS: true, CASecret: "s3-ca"}}
	spec.Default()
	return spec
}

// s3RestoreFromFixture is restoreFromFixture without "old": the S3-only
// source is added by the tests. Created pods run at once; the S3 CA and a
// credentials Secret s3-keys exist.
func s3RestoreFromFixture(t *testing.T) (*restoreFixture, *RestoreFromOptions) {
	t.Helper()
	fx := newRestoreFixture(t)
	c := fx.f.Clientset
	c.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, k8sruntime.Object, error) {
		action.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status.Phase = corev1.PodRunning
		return false, nil, nil
	})
	for name, data := range map[string]map[string][]byte{
		"s3-ca":   {cluster.KeyS3CA: []byte("the CA")},
		"s3-keys": {cluster.KeyS3Key: []byte("user key"), cluster.KeyS3KeySecret: []byte("user secret")},
	} {
		if err := c.Tracker().Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo"}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	return fx, &RestoreFromOptions{Source: "old", exec: fx.exec, pollInterval: time.Millisecond, Timeout: time.Minute}
}

// addS3Source adds the settings and Secrets of an S3-only "old" whose
// keys were given as flags.
func addS3Source(t *testing.T, fx *restoreFixture, cipher string) {
	t.Helper()
	spec := s3Spec("old")
	spec.Cipher = cipher
	addRendered(t, fx.f.Clientset, spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p", S3Key: "old key", S3KeySecret: "old secret", CipherPass: "old pass"})
}

// The S3-only source is read from its bucket by a temporary pod with a
// temporary Secret: from old's own settings and keys while they exist,
// else from the new cluster's bucket and keys.
func TestRestoreFromS3Source(t *testing.T) {
	newS3 := s3Spec("new")
	newUserKeys := s3Spec("new")
	newUserKeys.S3.CredentialsSecret = "s3-keys"
	tests := []struct {
		name     string
		source   bool
		cipher   string
		spec     cluster.Spec
		material cluster.Material
		keys     string // key/secret in the temporary Secret
		env      []string
	}{
		{name: "running source, local new cluster", source: true, spec: cluster.Spec{Name: "new", Namespace: "pgo"},
			keys: "old key/old secret", env: []string{"PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"}},
		{name: "encrypted source", source: true, cipher: "aes-256-cbc", spec: cluster.Spec{Name: "new", Namespace: "pgo"},
			keys: "old key/old secret", env: []string{"PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET", "PGBACKREST_REPO1_CIPHER_PASS"}},
		{name: "gone source, new keys as flags", spec: newS3, material: cluster.Material{S3Key: "flag key", S3KeySecret: "flag secret"},
			keys: "flag key/flag secret", env: []string{"PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"}},
		{name: "gone source, new keys in a Secret", spec: newUserKeys,
			keys: "user key/user secret", env: []string{"PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := s3RestoreFromFixture(t)
			if tc.source {
				addS3Source(t, fx, tc.cipher)
			}
			if err := r.Validate("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := fx.f.Clientset
			tc.spec.Default()
			if err := r.Prepare(ctx, fx.f, false, tc.spec, tc.material, restoreFromStreams()); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			secret, err := c.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conf := string(secret.Data[jobs.SourceKeyConfig])
			for _, want := range []string{"repo1-path=/backrestrepo/old-backrest-shared-repo", "repo1-s3-bucket=backups", "repo1-storage-ca-file=/etc/pgbackrest/s3/ca.crt"} {
				if !strings.Contains(conf, want) {
					t.Errorf("the source's pgbackrest.conf lacks %q:\n%s", want, conf)
				}
			}
			if got := string(secret.Data[jobs.SourceKeyS3Key]) + "/" + string(secret.Data[jobs.SourceKeyS3KeySecret]); got != tc.keys {
				t.Errorf("keys %q, want %q", got, tc.keys)
			}
			if string(secret.Data[jobs.SourceKeyS3CA]) != "the CA" || (tc.cipher != "") != (string(secret.Data[jobs.SourceKeyCipherPass]) == "old pass") {
				t.Errorf("CA %q, passphrase %q", secret.Data[jobs.SourceKeyS3CA], secret.Data[jobs.SourceKeyCipherPass])
			}
			if len(fx.execs) == 0 || !strings.HasPrefix(fx.execs[0], "new-restore-source/pgbackrest: sh -c") || !strings.Contains(fx.execs[0], "pgbackrest --stanza=db") {
				t.Errorf("the repository was not read in the reader pod: %v", fx.execs)
			}

			// The Job reads the same Secret; then the temporary objects go.
			sts := &appsv1.StatefulSet{}
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(renderedFixtureStatefulSet(t, "new").Object, sts); err != nil {
				t.Fatal(err)
			}
			_ = c.Tracker().Add(sts)
			if err := r.Restore(ctx); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			job, err := c.BatchV1().Jobs("pgo").Get(ctx, "new-restore", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var env []string
			for _, e := range job.Spec.Template.Spec.Containers[0].Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "new-restore-source" {
					env = append(env, e.Name)
				}
			}
			if strings.Join(env, ",") != strings.Join(tc.env, ",") {
				t.Errorf("the Job's variables from the source Secret: %v, want %v", env, tc.env)
			}
			if cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); strings.Contains(cmd, "--repo1-host") {
				t.Errorf("the Job reaches for a repository host: %s", cmd)
			}
			if _, err := c.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the temporary Secret is left")
			}
			if _, err := c.CoreV1().Pods("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the reader pod is left")
			}
		})
	}
}

// Refusals of an S3 source leave nothing behind.
func TestRestoreFromS3SourceRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, fx *restoreFixture)
		spec  cluster.Spec
		want  []string
	}{
		{name: "gone, and the new cluster has no S3 repository", spec: cluster.Spec{Name: "new", Namespace: "pgo"},
			want: []string{`cluster "old" not found`, "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket"}},
		{name: "gone, and not in the bucket", spec: s3Spec("new"), setup: func(t *testing.T, fx *restoreFixture) { fx.info = "[]" },
			want: []string{`cluster "old" is gone`, `bucket "backups"`, "/backrestrepo/old-backrest-shared-repo", "has no stanza db", "nothing was created"}},
		{name: "encrypted, passphrase gone", spec: cluster.Spec{Name: "new", Namespace: "pgo"}, setup: func(t *testing.T, fx *restoreFixture) {
			addS3Source(t, fx, "aes-256-cbc")
			s, err := fx.f.Clientset.CoreV1().Secrets("pgo").Get(context.Background(), "old-backrest-repo-config", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			delete(s.Data, cluster.KeyCipherPass)
			_ = fx.f.Clientset.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, s, "pgo")
		}, want: []string{`the repository of cluster "old" is encrypted`, "has no cipher-pass", "nothing was created"}},
		{name: "keys gone, new cluster local", spec: cluster.Spec{Name: "new", Namespace: "pgo"}, setup: func(t *testing.T, fx *restoreFixture) {
			spec := s3Spec("old")
			spec.S3.CredentialsSecret = "deleted-keys"
			addRendered(t, fx.f.Clientset, spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
				RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
		}, want: []string{`the S3 keys of cluster "old" are gone`, "pgo/deleted-keys"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := s3RestoreFromFixture(t)
			if tc.setup != nil {
				tc.setup(t, fx)
			}
			if err := r.Validate("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			tc.spec.Default()
			err := r.Prepare(context.Background(), fx.f, false, tc.spec, cluster.Material{S3Key: "k", S3KeySecret: "s"}, restoreFromStreams())
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want %q", err, w)
				}
			}
			ctx := context.Background()
			if _, err := fx.f.Clientset.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the temporary Secret is left")
			}
			if _, err := fx.f.Clientset.CoreV1().Pods("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the reader pod is left")
			}
		})
	}
}
