package restore

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

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

// fromTest is a From with the flags of create cluster --restore-from
// that the tests vary, parsed as the command parses them.
type fromTest struct {
	*From
	RestoreOpts, PITRTarget string
}

// fromFixture is a running cluster "old" in namespace "pgo" with one
// backup, to restore into a new cluster "new".
func fromFixture(t *testing.T) (*fakecluster.Cluster, *fromTest) {
	t.Helper()
	fx := fakecluster.New(t)
	fx.AddSource(t, "old")
	return fx, newFromTest(fx)
}

func newFromTest(fx *fakecluster.Cluster) *fromTest {
	return &fromTest{From: &From{Source: "old", Exec: fx.Exec, PollInterval: time.Millisecond, Timeout: time.Minute}}
}

// parse sets the new cluster, name in namespace, and the restore options
// of the flags.
func (r *fromTest) parse(name, namespace string) error {
	r.Name, r.Namespace = name, namespace
	if r.SourceNamespace == "" {
		r.SourceNamespace = namespace
	}
	opts, err := repo.ParseRestoreOptions(r.RestoreOpts)
	if err != nil {
		return err
	}
	if r.PITRTarget != "" {
		t, err := repo.ParseTarget(r.PITRTarget)
		if err != nil {
			return err
		}
		if opts, err = opts.WithTimeTarget(t); err != nil {
			return err
		}
	}
	r.Target, err = opts.Normalize()
	r.Options = opts
	return err
}

// prepare is Prepare with the fixture's clients, for the new cluster's
// spec and material m.
func (r *fromTest) prepare(ctx context.Context, fx *fakecluster.Cluster, existing bool, spec cluster.Spec, m cluster.Material) error {
	r.Client, r.Dynamic, r.Mapper, r.Progress = fx.Factory.Clientset, fx.Factory.Dynamic, fx.Factory.Mapper, io.Discard
	if spec.PostgresVersion == 0 {
		spec.PostgresVersion = cluster.DefaultPostgresVersion // as lifecycle.Create gives it
	}
	r.NewSpec, r.Material = spec, m
	return r.Prepare(ctx, existing)
}

func TestFromPrepareRefuses(t *testing.T) {
	gvr := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: resource}
	}
	tests := []struct {
		name     string
		r        func(*fromTest)
		setup    func(*fakecluster.Cluster)
		existing bool
		spec     cluster.Spec
		want     string
	}{
		{name: "the new cluster exists", existing: true, want: `--restore-from creates a new cluster, and cluster "new" exists in namespace "pgo"`},
		{name: "missing source", r: func(r *fromTest) { r.Source = "missing" },
			want: `cluster "missing" not found in namespace "pgo", neither running nor deleted with --keep-backups`},
		{name: "missing source namespace", r: func(r *fromTest) { r.SourceNamespace = "elsewhere" },
			want: `cluster "old" not found in namespace "elsewhere"`},
		{name: "repository Secret gone", setup: func(fx *fakecluster.Cluster) {
			_ = fx.Factory.Clientset.Tracker().Delete(gvr("secrets"), "pgo", "old-backrest-repo-config")
		}, want: "its Secret old-backrest-repo-config (the certificates of its repository host) is gone"},
		{name: "repository PVC gone", setup: func(fx *fakecluster.Cluster) {
			_ = fx.Factory.Clientset.Tracker().Delete(gvr("persistentvolumeclaims"), "pgo", "old-pgbr-repo")
		}, want: `the repository of cluster "old" is gone: PVC old-pgbr-repo does not exist`},
		{name: "no backups", setup: func(fx *fakecluster.Cluster) { fx.Info = fakecluster.InfoNoBackups }, want: `cluster "old" has no backups to restore from`},
		{name: "unknown set", r: func(r *fromTest) { r.RestoreOpts = "--set=20200101-000000F" }, want: "backup 20200101-000000F does not exist"},
		{name: "target after the archive", r: func(r *fromTest) { r.PITRTarget = "2026-11-26T09:00:00Z" }, want: "is after the last archived WAL"},
		{name: "another major", spec: cluster.Spec{PostgresVersion: 17},
			want: `backup 20261126-072526F of cluster "old" is of PostgreSQL 15, and the restore starts PostgreSQL 17`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := fromFixture(t)
			if tc.r != nil {
				tc.r(r)
			}
			if tc.setup != nil {
				tc.setup(fx)
			}
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			fx.Factory.Clientset.ClearActions()
			spec := tc.spec
			if spec.PostgresVersion == 0 {
				spec.PostgresVersion = fakecluster.FixtureVersion
			}
			err := r.prepare(context.Background(), fx, tc.existing, spec, cluster.Material{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if m := fx.Mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
			if n := len(fx.Factory.Dynamic.Actions()); n != 0 {
				t.Errorf("%d dynamic requests: %v", n, fx.Factory.Dynamic.Actions())
			}
		})
	}
}

// From a running source: Prepare checks it, AdjustObjects keeps the new
// database stopped, and Restore runs the Job with the source's
// configuration, removes the temporary Secret and starts the database.
func TestFromRunningSource(t *testing.T) {
	fx, r := fromFixture(t)
	r.SourceNamespace = "pgo"
	r.PITRTarget = "2026-11-26 07:30:00+00"
	if err := r.parse("new", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.prepare(ctx, fx, false, cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}, cluster.Material{}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if r.Backup.Label != "20261126-072526F" {
		t.Errorf("backup = %q", r.Backup.Label)
	}

	fx.AddBootstrapped(t, "new", "other", r.AdjustObjects)
	c := fx.Factory.Clientset
	var secret *corev1.Secret
	c.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		secret = action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		return false, nil, nil
	})
	fx.Factory.Clientset.ClearActions()
	if err := r.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}

	if got, want := strings.Join(fx.Mutations(), ", "), "delete secrets, create secrets, delete jobs, create jobs, patch statefulsets, delete secrets"; got != want {
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

func TestFromJobFailureAdvice(t *testing.T) {
	fx, r := fromFixture(t)
	fx.JobFails = true
	if err := r.parse("new", "pgo"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.prepare(ctx, fx, false, cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}, cluster.Material{}); err != nil {
		t.Fatal(err)
	}
	sts := &appsv1.StatefulSet{}
	rendered := renderedFixtureStatefulSet(t, "new")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rendered.Object, sts); err != nil {
		t.Fatal(err)
	}
	_ = fx.Factory.Clientset.Tracker().Add(sts)
	err := r.Restore(ctx)
	if err == nil || !strings.Contains(err.Error(), "Cluster new was created with its database stopped") ||
		!strings.Contains(err.Error(), "kubectl pgo delete cluster new -n pgo --yes") {
		t.Fatalf("error = %v", err)
	}
	if _, err := fx.Factory.Clientset.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
		t.Errorf("the source Secret is left behind")
	}
}

// s3FromFixture is fromFixture without "old": the S3-only
// source is added by the tests. Created pods run at once; the S3 CA and a
// credentials Secret s3-keys exist.
func s3FromFixture(t *testing.T) (*fakecluster.Cluster, *fromTest) {
	t.Helper()
	fx := fakecluster.New(t)
	c := fx.Factory.Clientset
	c.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		action.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status.Phase = corev1.PodRunning
		return false, nil, nil
	})
	for name, data := range map[string]map[string][]byte{
		"s3-ca":   {cluster.KeyS3CA: []byte("the CA")},
		"s3-keys": {cluster.KeyS3Key: []byte("user key"), cluster.KeyS3KeySecret: []byte("user secret")},
		// The GCS and Azure Secrets of the user's (fixture_test.go).
		"gcs-key":   {cluster.KeyGCSServiceKey: []byte(comboGCSKey)},
		"gcs-token": {cluster.KeyGCSToken: []byte(comboGCSToken)},
		"gcs-ca":    {cluster.KeyObjectStoreCA: []byte("the GCS CA")},
		"azure-key": {cluster.KeyAzureKey: []byte(comboAzureKey)},
	} {
		if err := c.Tracker().Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo"}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	return fx, newFromTest(fx)
}

// addS3Source adds the settings and Secrets of an S3-only "old" whose
// keys were given as flags.
func addS3Source(t *testing.T, fx *fakecluster.Cluster, cipher string) {
	t.Helper()
	spec := s3Spec("old")
	spec.Cipher = cipher
	fakecluster.AddRendered(t, fx.Factory.Clientset, spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p", S3Key: "old key", S3KeySecret: "old secret", CipherPass: "old pass"})
}

// The S3-only source is read from its bucket by a temporary pod with a
// temporary Secret: from old's own settings and keys while they exist,
// else from the new cluster's bucket and keys.
func TestFromS3Source(t *testing.T) {
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
			fx, r := s3FromFixture(t)
			if tc.source {
				addS3Source(t, fx, tc.cipher)
			}
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := fx.Factory.Clientset
			tc.spec = fakecluster.Defaulted(tc.spec)
			if err := r.prepare(ctx, fx, false, tc.spec, tc.material); err != nil {
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
			if len(fx.Execs()) == 0 || !strings.HasPrefix(fx.Execs()[0], "new-restore-source/pgbackrest: sh -c") || !strings.Contains(fx.Execs()[0], "pgbackrest --stanza=db") {
				t.Errorf("the repository was not read in the reader pod: %v", fx.Execs())
			}

			// The Job reads the same Secret; then the temporary objects go.
			sts := &appsv1.StatefulSet{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(renderedFixtureStatefulSet(t, "new").Object, sts); err != nil {
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
func TestFromS3SourceRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, fx *fakecluster.Cluster)
		spec  cluster.Spec
		want  []string
	}{
		{name: "gone, and the new cluster has no S3 repository", spec: cluster.Spec{Name: "new", Namespace: "pgo"},
			want: []string{`cluster "old" not found`, "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket", "--pgbackrest-gcs-bucket", "--pgbackrest-azure-container"}},
		{name: "gone, and not in the bucket", spec: s3Spec("new"), setup: func(t *testing.T, fx *fakecluster.Cluster) { fx.Info = "[]" },
			want: []string{`cluster "old" is gone`, "S3 bucket backups at s3.pgo.svc:9000", "/backrestrepo/old-backrest-shared-repo", "has no stanza db", "nothing was created"}},
		{name: "encrypted, passphrase gone", spec: cluster.Spec{Name: "new", Namespace: "pgo"}, setup: func(t *testing.T, fx *fakecluster.Cluster) {
			addS3Source(t, fx, "aes-256-cbc")
			s, err := fx.Factory.Clientset.CoreV1().Secrets("pgo").Get(context.Background(), "old-backrest-repo-config", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			delete(s.Data, cluster.KeyCipherPass)
			_ = fx.Factory.Clientset.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, s, "pgo")
		}, want: []string{`the repository of cluster "old" is encrypted`, "has no cipher-pass", "nothing was created"}},
		{name: "keys gone, new cluster local", spec: cluster.Spec{Name: "new", Namespace: "pgo"}, setup: func(t *testing.T, fx *fakecluster.Cluster) {
			spec := s3Spec("old")
			spec.S3.CredentialsSecret = "deleted-keys"
			fakecluster.AddRendered(t, fx.Factory.Clientset, spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
				RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
		}, want: []string{`the S3 keys of cluster "old" are gone`, "pgo/deleted-keys"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := s3FromFixture(t)
			if tc.setup != nil {
				tc.setup(t, fx)
			}
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			tc.spec = fakecluster.Defaulted(tc.spec)
			err := r.prepare(context.Background(), fx, false, tc.spec, cluster.Material{S3Key: "k", S3KeySecret: "s"})
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want %q", err, w)
				}
			}
			ctx := context.Background()
			if _, err := fx.Factory.Clientset.CoreV1().Secrets("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the temporary Secret is left")
			}
			if _, err := fx.Factory.Clientset.CoreV1().Pods("pgo").Get(ctx, "new-restore-source", metav1.GetOptions{}); err == nil {
				t.Errorf("the reader pod is left")
			}
		})
	}
}

func TestPasswordFileAndBinDir(t *testing.T) {
	sts := &appsv1.StatefulSet{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(renderedFixtureStatefulSet(t, "hippo").Object, sts); err != nil {
		t.Fatal(err)
	}
	if got, err := passwordFilePath(sts); err != nil || got != "/etc/kubectl-pgo/password" {
		t.Errorf("passwordFilePath = %q, %v", got, err)
	}
	if got := postgresBinDirOf(sts, 15); got != "/usr/lib/postgresql/15/bin" {
		t.Errorf("postgresBinDirOf = %q", got)
	}
	sts.Spec.Template.Spec.Volumes = nil
	if _, err := passwordFilePath(sts); err == nil {
		t.Errorf("no error without the password volume")
	}
	sts.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
	if got := postgresBinDirOf(sts, 16); got != "/usr/lib/postgresql/16/bin" {
		t.Errorf("postgresBinDirOf without a probe = %q", got)
	}
}

// The source's WAL is fetched as the new cluster fetches its own: ahead,
// through its spool, when the new cluster archives asynchronously.
func TestFromFetchesAsTheNewCluster(t *testing.T) {
	for _, async := range []bool{false, true} {
		fx, r := fromFixture(t)
		r.SourceNamespace = "pgo"
		if err := r.parse("new", "other"); err != nil {
			t.Fatal(err)
		}
		spec := cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}
		if async {
			spec.ArchiveAsync = &cluster.ArchiveAsyncSpec{GetQueueMax: "64Mi"}
		}
		if err := r.prepare(context.Background(), fx, false, spec, cluster.Material{}); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		conf := string(r.sourceData[jobs.SourceKeyConfig])
		for _, want := range []string{"archive-async=y", "spool-path=/pgdata/pgbackrest-spool", "archive-get-queue-max=67108864"} {
			if strings.Contains(conf, want) != async {
				t.Errorf("new cluster asynchronous=%v: %q in the source's pgbackrest.conf is %v:\n%s", async, want, !async, conf)
			}
		}
		if !strings.Contains(conf, "repo1-host=old-backrest-shared-repo") {
			t.Errorf("the source's repository is gone from its pgbackrest.conf:\n%s", conf)
		}
	}
}

// A source upgraded since its backups (it runs 17; the backups restored are
// of 15) with a local repository: its repository host speaks only
// pgBackRest 2.55, so the restore Job runs the upgrade image of 17, with
// 15's binaries and libraries for the recovery. A custom image, or a
// standby of another major, is refused before anything is created.
func TestFromUpgradedSourceLocalRepository(t *testing.T) {
	upgraded := func(s *cluster.Spec) { s.PostgresVersion, s.Image = 17, cluster.ImageFor(17) }
	t.Run("project image", func(t *testing.T) {
		fx, r := fromFixture(t)
		fx.EditSpec(t, "pgo", "old", upgraded)
		if err := r.parse("new", "pgo"); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := r.prepare(ctx, fx, false, cluster.Spec{PostgresVersion: 15}, cluster.Material{}); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		fx.AddBootstrapped(t, "new", "pgo", r.AdjustObjects)
		if err := r.Restore(ctx); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		job, err := fx.Factory.Clientset.BatchV1().Jobs("pgo").Get(ctx, "new-restore", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := job.Spec.Template.Spec.Containers[0]
		if c.Image != "ghcr.io/kubectl-pgo/postgres-upgrade:17" {
			t.Errorf("the Job's image is %s, want the upgrade image of 17", c.Image)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["PG_BIN"] != "/usr/lib/postgresql/15/bin" || env["LD_LIBRARY_PATH"] != "/usr/lib/postgresql/15/compat-lib" {
			t.Errorf("the Job's PG_BIN %q and LD_LIBRARY_PATH %q, want 15's", env["PG_BIN"], env["LD_LIBRARY_PATH"])
		}
	})
	for _, tc := range []struct {
		name    string
		edit    func(*cluster.Spec)
		standby bool
		want    string
	}{
		{"custom image", func(s *cluster.Spec) { upgraded(s); s.Image = "example.com/postgres:17" }, false,
			`runs PostgreSQL 17 with image example.com/postgres:17, and the new cluster PostgreSQL 15: its repository host talks only to its own pgBackRest version`},
		{"standby", upgraded, true, "a standby replays its source's WAL, so it must run the same major (give --postgres-version=17)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, r := fromFixture(t)
			fx.EditSpec(t, "pgo", "old", tc.edit)
			r.Standby = tc.standby
			if err := r.parse("new", "pgo"); err != nil {
				t.Fatal(err)
			}
			fx.Factory.Clientset.ClearActions()
			err := r.prepare(context.Background(), fx, false, cluster.Spec{PostgresVersion: 15}, cluster.Material{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was created") {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if m := fx.Mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
		})
	}
}
