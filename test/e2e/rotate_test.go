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
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/rotate"
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

// TestRotate is issue 24's rotation half on a cluster with a local and an S3 repository and a
// replica on another node, with an application writing all along (pgbench, as a role of its
// own, over TLS with verify-full against the CA ConfigMap it mounts, a new connection per
// insert) and a backup schedule firing every minute: refusals that change nothing (a cluster
// that does not exist, keys that can only read the bucket, the passphrase, the repository host
// down, a backup Job with --wait-for-jobs=false); a rotation that waits for a backup Job; then
// certificates (from the same CA, then a new CA with the application connected through the
// grace), passwords (the replica reconnects with the new one) and S3 keys, each followed by
// pgbackrest check, the schedule suspended during each and resumed after, none of its Jobs
// failed. The application fails only while the S3-keys switch restarts the database. doctor
// finds every pod serving what the Secrets hold; no WAL is missing; three restores each return
// exactly the checksum recorded (with the writes held by a lock) at their target: a PITR from S3
// with the new keys to a point during the keys switch, a PITR from the local repository to a
// point during the new CA's grace, and the end of the archive; the replica follows each.
func TestRotate(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	s3.SecondSecrets(t, env, ns, "s3-keys-2")
	s3.ReaderSecrets(t, env, ns, "s3-reader")
	c := &restoreCluster{env: env, ns: ns, name: "rot"}
	replica := c.name + "-r1-0"
	ctx := context.Background()
	start := time.Now()
	createS3Cluster(t, c, s3, "local,s3", bucket, "--replicas=1")
	t.Logf("create cluster local,s3 with a replica took %s", time.Since(start).Round(time.Second))
	app := startBenchApp(t, c)
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
	rotation := func(what string, args ...string) framework.Result {
		t.Helper()
		start := time.Now()
		res := env.PGO(t, append([]string{"rotate"}, args...)...)
		if res.ExitCode != 0 {
			t.Fatalf("rotate %s:\n%s", what, res)
		}
		t.Logf("rotate %s took %s:\n%s", what, time.Since(start).Round(time.Second), res.Stdout)
		return res
	}

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
	c.scaleRepoHost(t, 0)
	refused([]string{"rotate", "password", c.name, "-n", ns, "--yes"}, `the repository host of cluster "rot" is not ready`, "nothing was changed")
	c.scaleRepoHost(t, 1)
	// During a backup Job: refused with --wait-for-jobs=false, and waited for without it. A full
	// backup, started without --wait: the command returns once its Job runs.
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=full"); res.ExitCode != 0 {
		t.Fatalf("backup without --wait:\n%s", res)
	}
	refused([]string{"rotate", "certs", c.name, "-n", ns, "--yes", "--wait-for-jobs=false"}, "a rotation of the certificates cannot run beside it", "Nothing was changed")
	if pod() != uid || !mapsEqual(rc, secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))) {
		t.Errorf("a refusal changed the database pod or the repository Secret")
	}

	// Certificates from the same CA, once the backup has ended.
	res = rotation("certs", "certs", c.name, "-n", ns, "--yes", "--timeout=6m")
	if !strings.Contains(res.Stdout+res.Stderr, "waiting for backup Job ") {
		t.Errorf("rotate certs during a backup does not say that it waits for the backup Job:\n%s", res)
	}
	after := secretData(t, env, ns, cluster.RepoConfigSecretName(c.name))
	if string(after[cluster.KeyDBCert]) == string(rc[cluster.KeyDBCert]) || string(after[cluster.KeyCACert]) != string(rc[cluster.KeyCACert]) {
		t.Errorf("rotate certs: the database certificate did not change, or the CA did")
	}
	if pod() != uid {
		t.Errorf("rotate certs restarted the database pod")
	}

	// From here on a schedule takes an incremental backup every minute.
	schedule := c.name + "-pgbackrest-incr"
	if res := env.PGO(t, "create", "schedule", c.name, "-n", ns, "--schedule=* * * * *", "--pgbackrest-backup-type=incr"); res.ExitCode != 0 {
		t.Fatalf("create schedule:\n%s", res)
	}
	scheduleStart := time.Now()

	// A new CA: both trusted, then the new one signs, then the old one goes; no restart. The
	// grace (90 s) is longer than the kubelet takes to update the application's ConfigMap
	// volume (its sync period, a minute). A point is recorded during the grace.
	type outcome struct {
		res framework.Result
		w   window
	}
	background := func(what string, args ...string) chan outcome {
		done := make(chan outcome, 1)
		go func() {
			w := window{start: time.Now()}
			res := env.PGO(t, append([]string{"rotate"}, args...)...)
			w.end = time.Now()
			done <- outcome{res, w}
		}()
		return done
	}
	finished := func(what string, done chan outcome, point rotationPoint, pointAt time.Time) window {
		t.Helper()
		o := <-done
		if o.res.ExitCode != 0 {
			t.Fatalf("rotate %s:\n%s", what, o.res)
		}
		t.Logf("rotate %s took %s:\n%s", what, o.w.end.Sub(o.w.start).Round(time.Second), o.res.Stdout)
		if !pointAt.Before(o.w.end) {
			t.Errorf("point %s (recorded %s) is not during rotate %s (%s to %s)", point.name, pointAt.Format(time.RFC3339Nano), what,
				o.w.start.Format(time.RFC3339Nano), o.w.end.Format(time.RFC3339Nano))
		}
		return o.w
	}
	newCADone := background("certs --new-ca", "certs", c.name, "-n", ns, "--new-ca", "--new-ca-grace=90s", "--yes", "--timeout=6m")
	time.Sleep(30 * time.Second)
	duringCA := c.lockedPoint(t, "during-new-ca")
	newCAWindow := finished("certs --new-ca", newCADone, duringCA, time.Now())
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

	// Passwords; then the replica's WAL receiver is made to reconnect: with the new replication
	// password from its rewritten password file, and the new CA.
	pg := secretData(t, env, ns, cluster.PostgresSecretName(c.name))
	res = rotation("password", "password", c.name, "-n", ns, "--yes")
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
	replicaReconnects(t, c, replica)

	// S3 keys: the second key pair, proven first; a point is recorded once the settings name it
	// (the pods restart after that).
	keysDone := background("s3-keys", "s3-keys", c.name, "-n", ns, "--s3-credentials-secret=s3-keys-2", "--yes", "--timeout=8m")
	for deadline := time.Now().Add(3 * time.Minute); settingsSecret() != "s3-keys-2"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the settings do not name Secret s3-keys-2 three minutes into rotate s3-keys")
		}
	}
	duringKeys := c.lockedPoint(t, "during-s3-keys")
	keysWindow := finished("s3-keys", keysDone, duringKeys, time.Now())

	// The schedule ran beside the rotations, each of which suspended it and resumed it; none of
	// its Jobs failed.
	cj, err := env.Client.BatchV1().CronJobs(ns).Get(ctx, schedule, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Spec.Suspend == nil || *cj.Spec.Suspend || cj.Annotations[rotate.AnnotationHeld] != "" {
		t.Errorf("schedule %s after the rotations: suspend %v, annotations %v", schedule, cj.Spec.Suspend, cj.Annotations)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(5 * time.Second) {
		complete, failed := scheduleJobs(t, env, ns, schedule)
		if len(failed) > 0 {
			t.Fatalf("scheduled backup Jobs failed beside the rotations: %v", failed)
		}
		if len(complete) > 0 {
			t.Logf("schedule %s (since %s): completed Jobs %v, none failed", schedule, time.Since(scheduleStart).Round(time.Second), complete)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Job of schedule %s completed in %s", schedule, time.Since(scheduleStart).Round(time.Second))
		}
	}
	if res := env.PGO(t, "delete", "schedule", c.name, "-n", ns, "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete schedule:\n%s", res)
	}
	waitJobsDone(t, env, ns, c.name)
	if _, failed := scheduleJobs(t, env, ns, schedule); len(failed) > 0 {
		t.Errorf("scheduled backup Jobs failed: %v", failed)
	}

	// The application: every burst passed except while the keys switch restarted the
	// database; some ran after the new CA was in place.
	bursts := app.stop(t)
	var passed, afterCA int
	var down window
	for _, b := range bursts {
		switch {
		case b.rc == 0:
			passed++
			if b.start.After(newCAWindow.end) {
				afterCA++
			}
		case !keysWindow.overlaps(b):
			t.Errorf("a pgbench burst failed outside the S3-keys switch: %s", b.line)
		default:
			if down.start.IsZero() {
				down.start = b.start
				t.Logf("the first pgbench burst that failed during the S3-keys switch: %s", b.line)
			}
			down.end = b.end
		}
	}
	if passed < 10 || afterCA == 0 {
		t.Errorf("pgbench: %d bursts passed, %d of them after the new CA; want 10 and 1 or more", passed, afterCA)
	}
	t.Logf("pgbench: %d bursts, %d passed (%d after the new CA); failed bursts during the S3-keys switch from %s to %s (%s; the switch took %s)",
		len(bursts), passed, afterCA, down.start.Format("15:04:05"), down.end.Format("15:04:05"), down.end.Sub(down.start).Round(time.Second),
		keysWindow.end.Sub(keysWindow.start).Round(time.Second))
	latest := c.one(t, benchSumSQL)
	replicasShow(t, c, benchSumSQL, latest, replica)

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

	// Three restores, each checked by the whole table and followed by the replica.
	restoreTo := func(p rotationPoint, args ...string) {
		t.Helper()
		start := time.Now()
		c.restore(t, append([]string{"--pitr-target=" + p.target}, args...)...)
		if got := c.one(t, benchSumSQL); got != p.sum {
			t.Fatalf("after the PITR to %s (%s) the table is %s, want %s", p.name, p.target, got, p.sum)
		}
		replicasShow(t, c, benchSumSQL, p.sum, replica)
		t.Logf("PITR to %s: count|md5 %s, as recorded (%s)", p.name, p.sum, time.Since(start).Round(time.Second))
	}
	restoreTo(duringKeys, "--pgbackrest-storage-type=s3")
	restoreTo(duringCA)
	// The data of the second restore predates the password rotation: the restore gives the
	// superuser the Secret's password again.
	if err := login(string(pg2[cluster.KeyPassword])); err != nil {
		t.Errorf("after a PITR to before the password rotation, the Secret's password does not log in: %v", err)
	}
	c.sql(t, "INSERT INTO bench (v) SELECT 'after the PITR ' || g FROM generate_series(1, 500) g")
	c.switchAndArchive(t)
	latest = c.one(t, benchSumSQL)
	start = time.Now()
	c.restore(t)
	if got := c.one(t, benchSumSQL); got != latest {
		t.Fatalf("after the restore to the end the table is %s, want %s", got, latest)
	}
	replicasShow(t, c, benchSumSQL, latest, replica)
	t.Logf("restore to the end: count|md5 %s, as before it (%s)", latest, time.Since(start).Round(time.Second))
}

// replicaReconnects ends the WAL receiver of a replica and waits until the primary shows it
// streaming again, on a connection started after that: it authenticated with the replication
// password its pod has now, and trusted the primary's certificate.
func replicaReconnects(t *testing.T, c *restoreCluster, pod string) {
	t.Helper()
	before := time.Now()
	out, err := c.execIn(pod, "database", "bash", "-c", `kill -TERM $(psql -XAtq -c "SELECT pid FROM pg_stat_wal_receiver")`)
	if err != nil {
		t.Fatalf("end the WAL receiver of %s: %v %s", pod, err, out)
	}
	var last string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		last, err = psqlIn(c.env, c.ns, c.name+"-0", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND backend_start > '"+
			before.UTC().Format("2006-01-02 15:04:05.000000")+"+00'")
		if err == nil && last == "1" {
			t.Logf("replica %s streams again (%s after its WAL receiver was ended)", pod, time.Since(before).Round(time.Second))
			return
		}
	}
	t.Fatalf("replica %s does not stream again 2 minutes after its WAL receiver was ended (%v %s)", pod, err, last)
}

// scheduleJobs are the names of the schedule's completed and failed Jobs.
func scheduleJobs(t *testing.T, env *framework.Env, ns, schedule string) (complete, failed []string) {
	t.Helper()
	list, err := env.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{LabelSelector: jobs.LabelSchedule + "=" + schedule})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range list.Items {
		for _, cond := range j.Status.Conditions {
			if cond.Status != "True" {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				complete = append(complete, j.Name)
			case batchv1.JobFailed:
				failed = append(failed, j.Name+": "+cond.Message)
			}
		}
	}
	return complete, failed
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
