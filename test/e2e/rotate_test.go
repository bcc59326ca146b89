package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// rotationWriter inserts a row into chain every ~200 ms from the primary's database
// container until stopped, going on through a restart (a failed insert is retried with the
// same id; ON CONFLICT covers one that committed but whose answer was lost). pause holds it
// while a point is recorded.
type rotationWriter struct {
	c       *restoreCluster
	mu      sync.Mutex
	next    int
	ok, bad int
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func startRotationWriter(c *restoreCluster, first int) *rotationWriter {
	w := &rotationWriter{c: c, next: first, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			w.mu.Lock()
			_, err := c.execIn(c.name+"-0", "database", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
				fmt.Sprintf("INSERT INTO chain VALUES (%d, md5('%d')) ON CONFLICT DO NOTHING", w.next, w.next))
			if err == nil {
				w.next++
				w.ok++
			} else {
				w.bad++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *rotationWriter) pause()  { w.mu.Lock() }
func (w *rotationWriter) resume() { w.mu.Unlock() }

// finish stops the writer (once; it may be called again) and returns how many rows it
// inserted and how many attempts failed.
func (w *rotationWriter) finish() (ok, bad int) {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return w.ok, w.bad
}

// rotationPoint is a point-in-time target between two rotations, and the table's checksum
// there.
type rotationPoint struct {
	name, target, sum string
}

// point pauses the writer, archives what was written, records the checksum and a target a
// second after it, and resumes.
func (w *rotationWriter) point(t *testing.T, name string) rotationPoint {
	t.Helper()
	w.pause()
	defer w.resume()
	target, sum := w.c.targetBetweenSum(t, fmt.Sprintf("SELECT pg_logical_emit_message(false, 'kubectl-pgo-test', '%s')", name),
		"SELECT 1", chainChecksumSQL)
	t.Logf("point %s: target %s, count|md5 %s", name, target, sum)
	return rotationPoint{name, target, sum}
}

// TestRotate is issue 24's rotation half on a cluster with a local and an S3 repository, with
// rows written all along: refusals that change nothing (a cluster that does not exist, keys
// that can only read the bucket, the passphrase, a rotation during a backup Job and while the
// repository host is down); then certificates (from the same CA, then a new CA), passwords and
// S3 keys rotated in turn, each followed by pgbackrest check; doctor finds every pod serving what the Secrets
// hold; no WAL is missing; a PITR (from the S3 repository, read with the new keys) to a point
// between the rotations returns exactly the table's state there, and a second restore, to the
// end of the archive, the latest state.
func TestRotate(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	s3.SecondSecrets(t, env, ns, "s3-keys-2")
	s3.ReaderSecrets(t, env, ns, "s3-reader")
	c := &restoreCluster{env: env, ns: ns, name: "rot"}
	ctx := context.Background()
	start := time.Now()
	createS3Cluster(t, c, s3, "local,s3", bucket)
	t.Logf("create cluster local,s3 took %s", time.Since(start).Round(time.Second))
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
	c.backup(t)
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=full", "--pgbackrest-storage-type=s3", "--wait"); res.ExitCode != 0 {
		t.Fatalf("backup to s3 failed:\n%s", res)
	}
	pod := func() string { return string(podNamed(t, env, ns, c.name+"-0").UID) }
	settingsSecret := func() string { return storedSpec(t, env, ns, c.name).S3.CredentialsSecret }
	refused := func(args []string, want ...string) framework.Result {
		t.Helper()
		res := env.PGO(t, args...)
		if res.ExitCode != 1 {
			t.Errorf("%v: exit %d, want 1:\n%s", args, res.ExitCode, res)
		}
		for _, w := range want {
			if !strings.Contains(res.Stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, w, res)
			}
		}
		return res
	}

	w := startRotationWriter(c, 100001)
	defer func() { _, _ = w.finish() }()

	// Refused, nothing changed.
	uid, rc := pod(), secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	refused([]string{"rotate", "certs", "nosuch", "-n", ns, "--yes"}, `cluster "nosuch" not found in namespace "`+ns+`"`)
	refused([]string{"rotate", "cipher-pass", c.name, "-n", ns}, "pgBackRest cannot re-encrypt a repository")
	start = time.Now()
	res := refused([]string{"rotate", "s3-keys", c.name, "-n", ns, "--s3-credentials-secret=s3-reader", "--yes"},
		"the new keys were refused: repo2: cannot write", "nothing was changed")
	t.Logf("keys that can only read, refused in %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	if got := settingsSecret(); got != "s3-keys" {
		t.Errorf("after refused keys the cluster reads Secret %s", got)
	}
	// A rotation during a backup Job is refused and says which Job. A full backup, started
	// without --wait: the command returns once its Job runs, and the backup lasts seconds.
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=full"); res.ExitCode != 0 {
		t.Fatalf("backup without --wait:\n%s", res)
	}
	refused([]string{"rotate", "certs", c.name, "-n", ns, "--yes"}, "a rotation of the certificates cannot run beside it", "Nothing was changed")
	waitJobsDone(t, env, ns, c.name)
	// While the repository host is down, refused too.
	c.scaleRepoHost(t, 0)
	refused([]string{"rotate", "password", c.name, "-n", ns, "--yes"}, `the repository host of cluster "rot" is not ready`, "nothing was changed")
	c.scaleRepoHost(t, 1)
	if pod() != uid || !mapsEqual(rc, secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))) {
		t.Errorf("a refusal changed the database pod or the repository Secret")
	}

	before := w.point(t, "before")

	// Certificates.
	start = time.Now()
	if res := env.PGO(t, "rotate", "certs", c.name, "-n", ns, "--yes", "--timeout=6m"); res.ExitCode != 0 {
		t.Fatalf("rotate certs:\n%s", res)
	} else {
		t.Logf("rotate certs took %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	}
	after := secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	if string(after[cluster.KeyDBCert]) == string(rc[cluster.KeyDBCert]) || string(after[cluster.KeyCACert]) != string(rc[cluster.KeyCACert]) {
		t.Errorf("rotate certs: the database certificate did not change, or the CA did")
	}
	if pod() != uid {
		t.Errorf("rotate certs restarted the database pod")
	}
	certs := w.point(t, "after-certs")

	// A new CA: both trusted, then the new one signs, then the old one goes; no restart.
	start = time.Now()
	if res := env.PGO(t, "rotate", "certs", c.name, "-n", ns, "--new-ca", "--new-ca-grace=5s", "--yes", "--timeout=6m"); res.ExitCode != 0 {
		t.Fatalf("rotate certs --new-ca:\n%s", res)
	} else {
		t.Logf("rotate certs --new-ca took %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	}
	newCA := secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	if string(newCA[cluster.KeyCACert]) == string(rc[cluster.KeyCACert]) || strings.Count(string(newCA[cluster.KeyCACert]), "BEGIN CERTIFICATE") != 1 {
		t.Errorf("rotate certs --new-ca: the CA did not change, or the old one stayed")
	}
	if cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.CAConfigMapName(c.name), metav1.GetOptions{}); err != nil ||
		cm.Data[cluster.KeyCACert] != string(newCA[cluster.KeyCACert]) {
		t.Errorf("ConfigMap %s does not hold the new CA (%v)", cluster.CAConfigMapName(c.name), err)
	}
	if pod() != uid {
		t.Errorf("rotate certs --new-ca restarted the database pod")
	}

	// Passwords.
	pg := secretData(t, env, ns, cluster.PostgresSecretName(c.name))
	start = time.Now()
	if res := env.PGO(t, "rotate", "password", c.name, "-n", ns, "--yes"); res.ExitCode != 0 {
		t.Fatalf("rotate password:\n%s", res)
	} else {
		t.Logf("rotate password took %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	}
	pg2 := secretData(t, env, ns, cluster.PostgresSecretName(c.name))
	if string(pg2[cluster.KeyPassword]) == string(pg[cluster.KeyPassword]) || string(pg2[cluster.KeyReplicationPassword]) == string(pg[cluster.KeyReplicationPassword]) {
		t.Errorf("rotate password: a password did not change")
	}
	login := func(password string) error {
		_, err := c.execIn(c.name+"-0", "database", "env", "PGPASSWORD="+password, "psql", "-XAtq",
			"-d", fmt.Sprintf("host=%s.%s.svc user=postgres dbname=postgres sslmode=verify-full sslrootcert=/etc/pgbackrest/tls/ca.crt", c.name, ns), "-c", "SELECT 1")
		return err
	}
	if err := login(string(pg2[cluster.KeyPassword])); err != nil {
		t.Errorf("the new password does not log in: %v", err)
	}
	if err := login(string(pg[cluster.KeyPassword])); err == nil {
		t.Errorf("the old password still logs in")
	}
	passwords := w.point(t, "after-password")

	// S3 keys: the second key pair, proven first.
	start = time.Now()
	if res := env.PGO(t, "rotate", "s3-keys", c.name, "-n", ns, "--s3-credentials-secret=s3-keys-2", "--yes", "--timeout=8m"); res.ExitCode != 0 {
		t.Fatalf("rotate s3-keys:\n%s", res)
	} else {
		t.Logf("rotate s3-keys took %s:\n%s", time.Since(start).Round(time.Second), res.Stdout)
	}
	if got := settingsSecret(); got != "s3-keys-2" {
		t.Errorf("after rotate s3-keys the cluster reads Secret %s", got)
	}
	keys := w.point(t, "after-keys")
	ok, bad := w.finish()
	t.Logf("writer: %d rows inserted, %d failed attempts (retried)", ok, bad)
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=incr", "--pgbackrest-storage-type=s3", "--wait"); res.ExitCode != 0 {
		t.Errorf("a backup to S3 with the new keys:\n%s", res)
	}

	r, res := doctorReport(t, env, ns, c.name)
	if !r.Healthy {
		t.Errorf("doctor after the rotations:\n%s", res)
	}
	if tc := doctorStatus(t, r, "loaded secrets"); tc.Status != "ok" {
		t.Errorf("doctor's loaded secrets after the rotations: %+v", tc)
	}
	c.noWALMissing(t)
	t.Logf("points: %s %s | %s %s | %s %s | %s %s", before.name, before.sum, certs.name, certs.sum, passwords.name, passwords.sum, keys.name, keys.sum)

	// A PITR from the S3 repository (read with the new keys) to the point between the
	// certificates and the passwords, then a restore to the end of the archive.
	start = time.Now()
	c.restore(t, "--pitr-target="+certs.target, "--pgbackrest-storage-type=s3")
	if got := c.one(t, chainChecksumSQL); got != certs.sum {
		t.Fatalf("after the PITR to %s (%s) the table is %s, want %s", certs.name, certs.target, got, certs.sum)
	}
	t.Logf("PITR to %s: count|md5 %s, as recorded (%s)", certs.name, certs.sum, time.Since(start).Round(time.Second))
	// The restored data predates the password rotation: the restore gives the superuser the
	// Secret's password again.
	if err := login(string(pg2[cluster.KeyPassword])); err != nil {
		t.Errorf("after a PITR to before the password rotation, the Secret's password does not log in: %v", err)
	}
	c.sql(t, "INSERT INTO chain SELECT g, 'after the PITR' FROM generate_series(300001, 300500) g")
	c.switchAndArchive(t)
	latest := c.one(t, chainChecksumSQL)
	start = time.Now()
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Fatalf("after the restore to the end the table is %s, want %s", got, latest)
	}
	t.Logf("restore to the end: count|md5 %s, as before it (%s)", latest, time.Since(start).Round(time.Second))
}

// storedSpec is a cluster's settings, as its settings ConfigMap holds them.
func storedSpec(t *testing.T, env *framework.Env, ns, name string) cluster.Spec {
	t.Helper()
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cluster.SpecFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// secretData is a Secret's data.
func secretData(t *testing.T, env *framework.Env, ns, name string) map[string][]byte {
	t.Helper()
	s, err := env.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// waitJobsDone waits until no Job of the cluster is active.
func waitJobsDone(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	err := kube.WaitFor(context.Background(), 2*time.Second, 5*time.Minute, func(ctx context.Context) (bool, error) {
		jobs, err := env.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(name).String()})
		if err != nil {
			return false, nil
		}
		for _, j := range jobs.Items {
			if !jobFinished(&j) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the Jobs of cluster %s did not end: %v", name, err)
	}
}

func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == "True" {
			return true
		}
	}
	return false
}
