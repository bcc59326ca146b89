package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// s3Setup is what every S3 test starts with: the run's S3 server, a
// namespace and a bucket of the test's own, and in the namespace the
// Secrets s3-keys (the keys) and s3-ca (the server's CA).
func s3Setup(t *testing.T) (*framework.Env, *framework.S3Server, string, string) {
	t.Helper()
	env := framework.Setup(t)
	s3 := env.S3(t)
	ns := env.Namespace(t)
	bucket := s3Bucket(t, s3)
	s3.Secrets(t, env, ns, "s3-keys", "s3-ca")
	return env, s3, ns, bucket
}

// s3Bucket makes a bucket of its own for a test.
func s3Bucket(t *testing.T, s3 *framework.S3Server) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "kpgo-" + hex.EncodeToString(b)
	s3.CreateBucket(t, name)
	return name
}

// createS3Cluster creates a cluster with an S3 repository and waits for it.
func createS3Cluster(t *testing.T, c *restoreCluster, s3 *framework.S3Server, storageType, bucket string, extra ...string) {
	t.Helper()
	args := append([]string{"create", "cluster", c.name, "-n", c.ns, "--pgbackrest-storage-type=" + storageType, "--wait", "--timeout=5m"},
		s3.Flags(bucket, "s3-keys", "s3-ca")...)
	args = append(args, extra...)
	if res := c.env.PGO(t, args...); res.ExitCode != 0 {
		logClusterPods(t, c.env, c.ns, c.name)
		t.Fatalf("create cluster failed:\n%s", res)
	}
}

// A cluster whose only repository is S3, and a second one in the same bucket: no repository
// host or PVC, WAL and backups in the bucket under each cluster's own path, a point-in-time
// restore checked by its rows, and neither cluster sees the other's backups.
func TestS3Only(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	hippo := &restoreCluster{env: env, ns: ns, name: "hippo"}
	zebra := &restoreCluster{env: env, ns: ns, name: "zebra"}
	createS3Cluster(t, hippo, s3, "s3", bucket)
	createS3Cluster(t, zebra, s3, "s3", bucket, "--pgbackrest-archive-async=false")
	// A new S3 cluster archives asynchronously by default; =false keeps it synchronous.
	if conf := hippo.podFile(t, "/etc/pgbackrest/pgbackrest.conf"); !strings.Contains(conf, "archive-async=y") ||
		!strings.Contains(conf, "spool-path=/pgdata/pgbackrest-spool") {
		t.Errorf("a new S3 cluster does not archive asynchronously by default:\n%s", conf)
	}
	if conf := zebra.podFile(t, "/etc/pgbackrest/pgbackrest.conf"); strings.Contains(conf, "archive-async") {
		t.Errorf("--pgbackrest-archive-async=false, yet the database's pgbackrest.conf turns it on:\n%s", conf)
	}

	ctx := context.Background()
	if _, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "hippo-backrest-shared-repo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an S3-only cluster has a repository host Deployment (err %v)", err)
	}
	if _, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "hippo-pgbr-repo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an S3-only cluster has a repository PVC (err %v)", err)
	}
	// The keys are only in the Secret: not in the ConfigMaps.
	cms, err := env.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		for k, v := range cm.Data {
			if strings.Contains(v, s3.SecretKey) || strings.Contains(v, s3.AccessKey) {
				t.Errorf("ConfigMap %s key %s holds an S3 key", cm.Name, k)
			}
		}
	}

	hippo.sql(t, "CREATE TABLE pitr (v text); INSERT INTO pitr VALUES ('before-backup')")
	hippo.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	hippo.backup(t)
	zebra.backup(t)
	// WAL of several segments through the queue before the target, more after it.
	for i := range 4 {
		hippo.sql(t, fmt.Sprintf("UPDATE chain SET v = md5(v) WHERE id %% 4 = %d; SELECT pg_switch_wal()", i))
	}
	target, atTarget := hippo.targetBetweenSum(t, "INSERT INTO pitr VALUES ('before-target')",
		"INSERT INTO pitr VALUES ('after-target'); DELETE FROM chain WHERE id % 7 = 0; UPDATE chain SET v = 'late' WHERE id % 3 = 0", chainChecksumSQL)
	if out := hippo.podFile(t, "/pgdata/pgbackrest-spool/archive/db/out"); !strings.Contains(out, ".ok") {
		t.Errorf("the spool queue has no status file: asynchronous archiving did not run:\n%s", out)
	}

	// show backup: each cluster lists its own one full backup, in repo1 (s3).
	for _, c := range []*restoreCluster{hippo, zebra} {
		res := env.PGO(t, "show", "backup", c.name, "-n", ns, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show backup %s:\n%s", c.name, res)
		}
		if n := strings.Count(res.Stdout, `"label": "`); n != 1 {
			t.Errorf("show backup %s lists %d full backups, want 1 (its own):\n%s", c.name, n, res.Stdout)
		}
	}
	// show cluster: ready without a repository host, the stanza read from S3.
	if res := env.PGO(t, "show", "cluster", "hippo", "-n", ns, "-o", "json"); res.ExitCode != 0 ||
		!strings.Contains(res.Stdout, `"status": "ready"`) || !strings.Contains(res.Stdout, `"storageType": "s3"`) || !strings.Contains(res.Stdout, `"backups": 1`) {
		t.Errorf("show cluster of an S3-only cluster, want ready with 1 backup:\n%s", res)
	}
	if res := env.PGO(t, "show", "backup", "hippo", "-n", ns, "--pgbackrest-storage-type=local"); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, `has no local repository`) {
		t.Errorf("show backup --pgbackrest-storage-type=local on an S3-only cluster:\n%s", res)
	}

	// The bucket holds both clusters' repositories, each under its path.
	for _, c := range []string{"hippo", "zebra"} {
		objects := s3.Objects(t, bucket, "backrestrepo/"+c+"-backrest-shared-repo/")
		for _, want := range []string{"backup/db/backup.info", "archive/db/archive.info"} {
			if !slices.Contains(objects, "backrestrepo/"+c+"-backrest-shared-repo/"+want) {
				t.Errorf("bucket %s lacks backrestrepo/%s-backrest-shared-repo/%s; it has %d objects: %v", bucket, c, want, len(objects), first(objects, 20))
			}
		}
		if !slices.ContainsFunc(objects, func(o string) bool { return strings.Contains(o, "/archive/db/"+defaultArchiveID+"/") }) {
			t.Errorf("no WAL of %s in the bucket", c)
		}
	}

	hippo.restore(t, "--pitr-target="+target)
	if got, want := hippo.rows(t, "pitr"), []string{"before-backup", "before-target"}; !slices.Equal(got, want) {
		t.Errorf("after the point-in-time restore from S3 the rows are %q, want %q", got, want)
	}
	if got := hippo.one(t, chainChecksumSQL); got != atTarget {
		t.Errorf("after the point-in-time restore from S3 the table is %s, want %s (its state at the target)", got, atTarget)
	}
	// Archiving goes on after the restore, into the bucket.
	hippo.sql(t, "INSERT INTO pitr VALUES ('after-restore')")
	hippo.switchAndArchive(t)
	if got := zebra.one(t, "SELECT count(*) FROM pg_stat_archiver WHERE failed_count = 0"); got != "1" {
		t.Errorf("zebra's archiving failed after hippo's restore")
	}
}

// targetBetween runs before, then after, each archived, and returns a point-in-time target
// between them: a second apart from each, as the archive's times are in seconds.
func (c *restoreCluster) targetBetween(t *testing.T, before, after string) string {
	t.Helper()
	target, _ := c.targetBetweenSum(t, before, after, "")
	return target
}

// targetBetweenSum is targetBetween that also returns what query (a checksum) gives at the
// target; nothing when query is empty.
func (c *restoreCluster) targetBetweenSum(t *testing.T, before, after, query string) (target, sum string) {
	t.Helper()
	c.sql(t, before)
	c.switchAndArchive(t)
	if query != "" {
		sum = c.one(t, query)
	}
	time.Sleep(1100 * time.Millisecond)
	target = c.one(t, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')") + "+00"
	time.Sleep(1100 * time.Millisecond)
	c.sql(t, after)
	c.switchAndArchive(t)
	return target, sum
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// local,s3: a backup to each repository, show backup lists both, and a restore from S3 while
// the local repository is gone.
func TestS3LocalAndS3(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	c := &restoreCluster{env: env, ns: ns, name: "hippo"}
	createS3Cluster(t, c, s3, "local,s3", bucket)

	c.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('in-both')")
	c.backup(t) // repo1, the default
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=full", "--pgbackrest-storage-type=s3", "--wait"); res.ExitCode != 0 {
		t.Fatalf("backup to s3 failed:\n%s", res)
	}
	res := env.PGO(t, "show", "backup", c.name, "-n", ns)
	if res.ExitCode != 0 {
		t.Fatalf("show backup:\n%s", res)
	}
	for _, want := range []string{"repository: repo1", "repository: repo2"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("show backup lacks %q:\n%s", want, res.Stdout)
		}
	}
	only2 := env.PGO(t, "show", "backup", c.name, "-n", ns, "--repo=2", "-o", "json")
	if only2.ExitCode != 0 || strings.Count(only2.Stdout, `"label": "`) != 1 || strings.Contains(only2.Stdout, `"repo": 1,`) {
		t.Errorf("show backup --repo=2 should list the one backup of repo2:\n%s", only2)
	}
	// delete backup looks for the target in the chosen repository only.
	only1 := env.PGO(t, "show", "backup", c.name, "-n", ns, "--repo=1", "-o", "json")
	m := regexp.MustCompile(`"label": "([0-9F_DI-]+)"`).FindStringSubmatch(only1.Stdout)
	if m == nil {
		t.Fatalf("show backup --repo=1 lists no backup:\n%s", only1)
	}
	if res := env.PGO(t, "delete", "backup", c.name, "-n", ns, "--repo=2", "--target="+m[1], "--yes"); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, "not found") {
		t.Errorf("delete backup --repo=2 of repo1's backup %s:\n%s", m[1], res)
	}
	c.sql(t, "INSERT INTO t VALUES ('archived')")
	c.switchAndArchive(t)

	// The local repository goes away; the restore reads S3.
	c.scaleRepoHost(t, 0)
	c.sql(t, "INSERT INTO t VALUES ('lost')") // never archived: repo1 is down, so archive-push fails
	c.restore(t, "--pgbackrest-storage-type=s3", "--backup-opts=--type=immediate")
	if got, want := c.rows(t, "t"), []string{"in-both"}; !slices.Equal(got, want) {
		t.Errorf("after restoring the S3 backup (immediate) the rows are %q, want %q", got, want)
	}
	c.scaleRepoHost(t, 1)
}

// scaleRepoHost scales the repository host and waits for its pods.
func (c *restoreCluster) scaleRepoHost(t *testing.T, replicas int32) {
	t.Helper()
	ctx := context.Background()
	name := c.name + "-backrest-shared-repo"
	scale, err := c.env.Client.AppsV1().Deployments(c.ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = replicas
	if _, err := c.env.Client.AppsV1().Deployments(c.ns).UpdateScale(ctx, name, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pods, err := c.env.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=pgbackrest-repo,pg-cluster=" + c.name})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, p := range pods.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if (replicas == 0 && len(pods.Items) == 0) || (replicas > 0 && ready == int(replicas)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the repository host did not reach %d replicas", replicas)
		}
		time.Sleep(time.Second)
	}
}

// Bad S3 settings: flags that contradict each other are refused before any request; a
// missing Secret before anything is applied; wrong keys, a missing bucket and a wrong CA by
// --wait with what pgBackRest said, naming the cluster that was created.
func TestS3BadSettings(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	ctx := context.Background()
	for name, data := range map[string]map[string][]byte{
		"bad-keys": {"aws-s3-key": []byte(s3.AccessKey), "aws-s3-key-secret": []byte("wrong-secret-key")},
		"other-ca": {"ca.crt": framework.OtherCA(t)},
	} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
		if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	base := func(name string) []string {
		return []string{"create", "cluster", name, "-n", ns, "--pgbackrest-storage-type=s3"}
	}
	refusedBeforeApply := []struct {
		name string
		args []string
		want string
	}{
		{"no bucket", append(base("a"), "--pgbackrest-s3-endpoint="+s3.Endpoint, "--pgbackrest-s3-credentials-secret=s3-keys"), "needs a bucket"},
		{"no endpoint", append(base("a"), "--pgbackrest-s3-bucket="+bucket, "--pgbackrest-s3-credentials-secret=s3-keys"), "needs an endpoint"},
		{"keys twice", append(base("a"), s3.Flags(bucket, "s3-keys", "s3-ca")...), ""},
		{"uri style", append(base("a"), "--pgbackrest-s3-bucket="+bucket, "--pgbackrest-s3-endpoint="+s3.Endpoint,
			"--pgbackrest-s3-credentials-secret=s3-keys", "--pgbackrest-s3-uri-style=virtual"), `URI style "virtual" is not known`},
		{"missing Secret", append(base("a"), s3.Flags(bucket, "no-such-secret", "s3-ca")...), "secret " + ns + "/no-such-secret does not exist"},
		{"missing CA Secret", append(base("a"), s3.Flags(bucket, "s3-keys", "no-such-ca")...), "secret " + ns + "/no-such-ca does not exist"},
	}
	refusedBeforeApply[2].args = append(refusedBeforeApply[2].args, "--pgbackrest-s3-key=x", "--pgbackrest-s3-key-secret=y")
	refusedBeforeApply[2].want = "both as flags and as --pgbackrest-s3-credentials-secret"
	for _, tc := range refusedBeforeApply {
		res := env.PGO(t, tc.args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("%s: want a refusal with %q:\n%s", tc.name, tc.want, res)
		}
	}
	if cms, _ := env.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "pg-cluster"}); len(cms.Items) != 0 {
		t.Errorf("refused creates left %d ConfigMaps", len(cms.Items))
	}

	// Settings only the server can refuse: each create --wait fails, says why and that the
	// cluster was created.
	cases := []struct{ name, keys, ca, bucket, want string }{
		{"badkeys", "bad-keys", "s3-ca", bucket, "S3"},
		{"nobucket", "s3-keys", "s3-ca", "no-such-bucket-kpgo", "S3"},
		{"wrongca", "s3-keys", "other-ca", bucket, "TLS"},
	}
	results := make([]framework.Result, len(cases))
	done := make(chan int)
	for i, tc := range cases {
		go func() {
			args := append(base(tc.name), "--wait", "--timeout=4m")
			results[i], _ = bkRun(env, append(args, s3.Flags(tc.bucket, tc.keys, tc.ca)...)...)
			done <- i
		}()
	}
	for range cases {
		<-done
	}
	for i, tc := range cases {
		res := results[i]
		t.Logf("%s:\n%s", tc.name, res)
		if res.ExitCode == 0 {
			t.Errorf("%s: create --wait succeeded with bad S3 settings", tc.name)
			continue
		}
		for _, want := range []string{tc.want, "The cluster was created", "kubectl pgo delete cluster " + tc.name} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("%s: stderr lacks %q", tc.name, want)
			}
		}
	}
}

// create cluster --restore-from of a cluster whose only repository is S3: a restore drill while
// it runs, a restore into a local cluster once it is deleted with --keep-backups, then, once it
// is deleted for good (its keys went with its Secret), a new cluster in
// the same bucket restores it to a point in time, checked by the rows, and archives and backs
// up under its own path only. A source that is not in the bucket is refused with nothing made.
func TestS3RestoreFrom(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	old := &restoreCluster{env: env, ns: ns, name: "old"}
	// The keys as flags: they live in old's repository Secret, which goes with old.
	if res := env.PGO(t, "create", "cluster", old.name, "-n", ns, "--pgbackrest-storage-type=s3", "--wait", "--timeout=5m",
		"--pgbackrest-s3-bucket="+bucket, "--pgbackrest-s3-endpoint="+s3.Endpoint, "--pgbackrest-s3-uri-style=path",
		"--pgbackrest-s3-key="+s3.AccessKey, "--pgbackrest-s3-key-secret="+s3.SecretKey, "--pgbackrest-s3-ca-secret=s3-ca"); res.ExitCode != 0 {
		t.Fatalf("create cluster old failed:\n%s", res)
	}
	old.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('A')")
	old.backup(t)
	target := old.targetBetween(t, "INSERT INTO t VALUES ('B')", "INSERT INTO t VALUES ('C')")
	oldPrefix := "backrestrepo/old-backrest-shared-repo/"

	t.Run("restore-drill of the running S3-only cluster", func(t *testing.T) {
		res := env.PGO(t, "restore-drill", old.name, "-n", ns, "-o", "json")
		var report cmd.DrillReport
		if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil || res.ExitCode != 0 || !report.Passed || !report.Removed {
			t.Fatalf("restore-drill of an S3-only cluster (%v):\n%s", err, res)
		}
		var rows int64 = -1
		for _, d := range report.Databases {
			for _, tb := range d.Tables {
				if d.Name == "postgres" && tb.Name == "t" {
					rows = tb.Rows
				}
			}
		}
		if rows != 3 {
			t.Errorf("the drill counted %d rows in t, want 3 (A, B, C): %+v", rows, report.Databases)
		}
		// Nothing left of the drill cluster, nor of what read old's bucket for it.
		for _, gvr := range cluster.ManagedResources {
			list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelCluster + "=" + report.DrillCluster})
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range list.Items {
				t.Errorf("left behind by the drill: %s %s", gvr.Resource, obj.GetName())
			}
		}
		// The drill promoted on a new timeline: none of it may reach old's path.
		for _, o := range s3.Objects(t, bucket, oldPrefix) {
			if strings.HasSuffix(o, ".history") {
				t.Errorf("the drill wrote into old's repository: %s", o)
			}
		}
		if o := s3.Objects(t, bucket, "backrestrepo/"+report.DrillCluster+"-backrest-shared-repo/"); len(o) != 0 {
			t.Errorf("the drill cluster wrote into the bucket: %v", first(o, 10))
		}
	})

	t.Run("from the settings kept by --keep-backups, into a local cluster", func(t *testing.T) {
		if res := env.PGO(t, "delete", "cluster", old.name, "-n", ns, "--keep-backups", "--yes"); res.ExitCode != 0 {
			t.Fatalf("delete cluster old --keep-backups:\n%s", res)
		}
		waitGone(t, env, ns, "old-0")
		c := &restoreCluster{env: env, ns: ns, name: "kept"}
		if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--restore-from=old", "--wait", "--timeout=10m"); res.ExitCode != 0 {
			t.Fatalf("create cluster --restore-from an S3-only cluster deleted with --keep-backups:\n%s", res)
		}
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B", "C"}) {
			t.Errorf("rows at the latest point = %q, want A, B and C", got)
		}
		if res := env.PGO(t, "delete", "cluster", c.name, "-n", ns, "--yes"); res.ExitCode != 0 {
			t.Errorf("delete cluster kept:\n%s", res)
		}
	})

	// Gone for good: its settings and its Secret, with the keys, go too.
	if res := env.PGO(t, "delete", "cluster", old.name, "-n", ns, "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete cluster old:\n%s", res)
	}
	waitGone(t, env, ns, "old-0")
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(old.name), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old's settings ConfigMap is still there after delete cluster (err %v)", err)
	}
	oldObjects := s3.Objects(t, bucket, oldPrefix)
	if !slices.Contains(oldObjects, oldPrefix+"backup/db/backup.info") {
		t.Fatalf("old's repository is not in the bucket after its deletion: %v", first(oldObjects, 20))
	}
	s3Flags := append([]string{"--pgbackrest-storage-type=s3"}, s3.Flags(bucket, "s3-keys", "s3-ca")...)

	t.Run("refusals create nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want []string
		}{
			{"not in the bucket", append([]string{"create", "cluster", "nosuch", "-n", ns, "--restore-from=never"}, s3Flags...),
				[]string{`cluster "never" is gone`, "S3 bucket " + bucket + " at " + s3.Endpoint, "/backrestrepo/never-backrest-shared-repo", "nothing was created"}},
			{"gone, without S3 flags", []string{"create", "cluster", "nosuch", "-n", ns, "--restore-from=old"},
				[]string{`cluster "old" not found`, "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket", "nothing was created"}},
		} {
			res := env.PGO(t, tc.args...)
			if res.ExitCode == 0 {
				t.Errorf("%s: create --restore-from succeeded, want a refusal:\n%s", tc.name, res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, res.Stderr)
				}
			}
			for _, gvr := range cluster.ManagedResources {
				list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelCluster + "=nosuch"})
				if err != nil {
					t.Fatal(err)
				}
				for _, obj := range list.Items {
					t.Errorf("%s: left behind: %s %s", tc.name, gvr.Resource, obj.GetName())
				}
			}
		}
	})

	t.Run("dry run renders without the source", func(t *testing.T) {
		res := env.PGO(t, append([]string{"create", "cluster", "dry", "-n", ns, "--restore-from=old", "--pitr-target=" + target, "--dry-run=client", "-o", "yaml"}, s3Flags...)...)
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "kind: StatefulSet") {
			t.Errorf("--dry-run=client -o yaml:\n%s", res)
		}
	})

	t.Run("a new cluster restores the gone one to a point in time", func(t *testing.T) {
		c := &restoreCluster{env: env, ns: ns, name: "new"}
		res := env.PGO(t, append([]string{"create", "cluster", c.name, "-n", ns, "--restore-from=old", "--pitr-target=" + target, "--wait", "--timeout=10m"}, s3Flags...)...)
		if res.ExitCode != 0 {
			t.Fatalf("create cluster --restore-from an S3-only cluster that is gone failed:\n%s", res)
		}
		t.Logf("%s", res.Stderr)
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows at %s = %q, want A and B (not C)", target, got)
		}
		for _, kind := range []string{"pods", "secrets"} {
			var err error
			if kind == "pods" {
				_, err = env.Client.CoreV1().Pods(ns).Get(ctx, "new-restore-source", metav1.GetOptions{})
			} else {
				_, err = env.Client.CoreV1().Secrets(ns).Get(ctx, "new-restore-source", metav1.GetOptions{})
			}
			if !apierrors.IsNotFound(err) {
				t.Errorf("the temporary %s new-restore-source is left (err %v)", kind, err)
			}
		}
		c.sql(t, "INSERT INTO t VALUES ('D')")
		c.switchAndArchive(t)
		c.backup(t)
		newObjects := s3.Objects(t, bucket, "backrestrepo/new-backrest-shared-repo/")
		if !slices.Contains(newObjects, "backrestrepo/new-backrest-shared-repo/backup/db/backup.info") ||
			!slices.ContainsFunc(newObjects, func(o string) bool {
				return strings.Contains(o, "/backup/db/") && strings.HasSuffix(o, "F/backup.manifest")
			}) {
			t.Errorf("new's backup is not under its own path: %v", first(newObjects, 30))
		}
		if after := s3.Objects(t, bucket, oldPrefix); !slices.Equal(after, oldObjects) {
			t.Errorf("old's path changed: %d objects before, %d after; new: %v", len(oldObjects), len(after), newOnly(after, oldObjects))
		}
		if res := env.PGO(t, "delete", "cluster", c.name, "-n", ns, "--yes"); res.ExitCode != 0 {
			t.Errorf("delete cluster new:\n%s", res)
		}
	})
}

// newOnly are the items of after that are not in before.
func newOnly(after, before []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}
