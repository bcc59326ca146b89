package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// The core flows on every PostgreSQL major other than the default one (which the rest of the
// suite runs on): create with --postgres-version, full and block incremental backups, a
// point-in-time restore and a second restore to the end of the archive, a pg_dump and a base
// backup restored in place, and --restore-from into a new cluster of the same major, each
// checked by a checksum of the whole table. A restore into another major is refused. Then the
// other commands (otherCommands).
func TestPostgresVersions(t *testing.T) {
	t.Parallel()
	for _, version := range cluster.PostgresVersions {
		if version == cluster.DefaultPostgresVersion {
			continue
		}
		t.Run(fmt.Sprint(version), func(t *testing.T) {
			t.Parallel()
			coreFlows(t, version)
		})
	}
}

// defaultArchiveID is the archive id of a new cluster of the default major, such as "18-1".
var defaultArchiveID = fmt.Sprintf("%d-1", cluster.DefaultPostgresVersion)

// oldestVersion is the oldest major a cluster may run: where the upgrades start from.
var oldestVersion = cluster.PostgresVersions[0]

func coreFlows(t *testing.T, version int) {
	env := framework.Setup(t)
	ns := env.Namespace(t)
	v := fmt.Sprint(version)
	c := &restoreCluster{env: env, ns: ns, name: "hippo"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--postgres-version="+v, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster --postgres-version=%s:\n%s", v, res)
	} else if !strings.Contains(res.Stdout+res.Stderr, "image "+cluster.ImageFor(version)+" has PostgreSQL "+v) {
		t.Errorf("--wait did not check the image's major:\n%s", res)
	}
	if got := c.one(t, "SELECT current_setting('server_version_num')::int / 10000"); got != v {
		t.Fatalf("the database runs PostgreSQL %s, want %s", got, v)
	}
	conf := c.podFile(t, "/etc/pgbackrest/pgbackrest.conf")
	for _, want := range []string{"repo1-bundle=y", "repo1-block=y"} {
		// Block incremental needs pgBackRest 2.46 or newer: the images of 17 and up.
		if has := strings.Contains(conf, want); has != cluster.BlockIncrementalByDefault(version) {
			t.Errorf("a new cluster of PostgreSQL %s has %s: %v, want %v:\n%s", v, want, has, cluster.BlockIncrementalByDefault(version), conf)
		}
	}
	t.Logf("PostgreSQL %s, %s", c.one(t, "SELECT version()"), strings.TrimSpace(clusterExec(t, env, ns, c.name+"-0", "pgbackrest", "pgbackrest", "version")))

	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
	c.backup(t)
	c.sql(t, "UPDATE chain SET v = md5(v) WHERE id % 50 = 0")
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=incr", "--wait"); res.ExitCode != 0 {
		t.Fatalf("incremental backup:\n%s", res)
	}
	if res := env.PGO(t, "show", "backup", c.name, "-n", ns, "-o", "json"); res.ExitCode != 0 ||
		!strings.Contains(res.Stdout, `"type": "incr"`) || !strings.Contains(res.Stdout, `"type": "full"`) {
		t.Errorf("show backup lacks the full and the incremental backup:\n%s", res)
	}
	target, atTarget := c.targetBetweenSum(t, "UPDATE chain SET v = 'before-target' WHERE id % 7 = 0",
		"DELETE FROM chain WHERE id % 3 = 0; INSERT INTO chain SELECT g, 'after' FROM generate_series(20001, 21000) g", chainChecksumSQL)

	// A restore into another major is refused before anything is created.
	if res := env.PGO(t, "create", "cluster", "other", "-n", ns, "--restore-from=hippo"); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, `of cluster "hippo" is of PostgreSQL `+v+`, and the restore starts PostgreSQL `+fmt.Sprint(cluster.DefaultPostgresVersion)) {
		t.Errorf("--restore-from of a PostgreSQL %s cluster into the default major:\n%s", v, res)
	}
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), cluster.SettingsConfigMapName("other"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused --restore-from created cluster other (err %v)", err)
	}
	// An image whose major only the pod can tell (this major's image by another name) in a
	// cluster of the default major: create --wait stops at the check, saying what to do.
	other := "kubectl-pgo.test/postgres:" + ns
	env.TagImage(t, cluster.ImageFor(version), other)
	res := env.PGO(t, "create", "cluster", "wrong", "-n", ns, "--image="+other, "--wait", "--timeout=3m")
	if want := "has PostgreSQL " + v + " (in /usr/lib/postgresql), not " + fmt.Sprint(cluster.DefaultPostgresVersion) + ", the cluster's version"; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("create --image=%s (PostgreSQL %s) of a PostgreSQL %d cluster: want a failure with %q:\n%s", other, v, cluster.DefaultPostgresVersion, want, res)
	}
	if res := env.PGO(t, "delete", "cluster", "wrong", "-n", ns, "--yes", "--wait"); res.ExitCode != 0 {
		t.Errorf("delete cluster wrong:\n%s", res)
	}

	latest := c.restoreTargetThenEnd(t, target, atTarget)

	// pg_dump and pg_basebackup, each restored in place.
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgdump backup:\n%s", res)
	}
	c.sql(t, "DROP TABLE chain")
	if res := env.PGO(t, "restore", c.name, "-n", ns, "--backup-type=pgdump", "--yes"); res.ExitCode != 0 {
		t.Fatalf("pgdump restore:\n%s", res)
	}
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Errorf("after restoring the dump the table is %s, want %s", got, latest)
	}
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgbasebackup", "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgbasebackup:\n%s", res)
	}
	c.sql(t, "DELETE FROM chain WHERE id < 10000")
	c.restoreBase(t)
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Errorf("after restoring the base backup the table is %s, want %s", got, latest)
	}

	// --restore-from into a new cluster of the same major: the newest backup and the archive.
	c.sql(t, "INSERT INTO chain SELECT g, 'last' FROM generate_series(40001, 40100) g")
	c.backup(t)
	c.switchAndArchive(t)
	last := c.one(t, chainChecksumSQL)
	zebra := &restoreCluster{env: env, ns: ns, name: "zebra"}
	if res := env.PGO(t, "create", "cluster", zebra.name, "-n", ns, "--postgres-version="+v, "--restore-from=hippo", "--wait", "--timeout=8m"); res.ExitCode != 0 {
		t.Fatalf("create cluster --restore-from:\n%s", res)
	}
	if got := zebra.one(t, chainChecksumSQL); got != last {
		t.Errorf("the cluster restored from hippo has %s, want %s", got, last)
	}
	if got := zebra.one(t, "SELECT current_setting('server_version_num')::int / 10000"); got != v {
		t.Errorf("the restored cluster runs PostgreSQL %s, want %s", got, v)
	}
	otherCommands(t, env, ns, v)
}

// otherCommands runs the commands beyond the core flows on PostgreSQL major v: an encrypted S3
// repository with a retention of one full backup, a schedule, verify, doctor, and a restore
// drill that checks the latest checksum.
func otherCommands(t *testing.T, env *framework.Env, ns, v string) {
	t.Helper()
	s3 := env.S3(t)
	bucket := s3Bucket(t, s3)
	s3.Secrets(t, env, ns, "s3-keys", "s3-ca")
	moth := &restoreCluster{env: env, ns: ns, name: "moth"}
	createS3Cluster(t, moth, s3, "s3", bucket, "--postgres-version="+v, "--pgbackrest-repo-cipher=aes-256-cbc", "--pgbackrest-repo-retention-full=1")
	moth.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	moth.backup(t)
	if res := env.PGO(t, "verify", moth.name, "-n", ns); res.ExitCode != 0 || !strings.Contains(res.Stdout, "every backup and WAL segment verified") {
		t.Errorf("verify:\n%s", res)
	}
	moth.sql(t, "UPDATE chain SET v = 'second' WHERE id % 3 = 0")
	moth.backup(t)
	res := env.PGO(t, "show", "backup", moth.name, "-n", ns, "-o", "json")
	if n := strings.Count(res.Stdout, `"label": "`); res.ExitCode != 0 || n != 1 || !strings.Contains(res.Stdout, `"cipher": "aes-256-cbc"`) {
		t.Errorf("after two full backups with a retention of one, show backup lists %d backups (want 1, encrypted):\n%s", n, res)
	}
	// After the expiry too: the S3 server keeps the expired backup's directory, empty, which
	// pgbackrest verify reports as "manifest missing"; verify counts it as the leftover it is.
	if res := env.PGO(t, "verify", moth.name, "-n", ns); res.ExitCode != 0 || !strings.Contains(res.Stdout, "every backup and WAL segment verified") {
		t.Errorf("verify after the first full backup expired:\n%s", res)
	} else {
		t.Logf("verify after the first full backup expired:\n%s", res.Stdout)
	}
	if res := env.PGO(t, "create", "schedule", moth.name, "-n", ns, "--schedule=0 1 1 1 *", "--pgbackrest-backup-type=full"); res.ExitCode != 0 {
		t.Errorf("create schedule:\n%s", res)
	}
	if res := env.PGO(t, "show", "schedule", moth.name, "-n", ns, "-o", "json"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "0 1 1 1 *") {
		t.Errorf("show schedule lacks the schedule:\n%s", res)
	}
	if res := env.PGO(t, "doctor", moth.name, "-n", ns); res.ExitCode != 0 {
		t.Errorf("doctor of a healthy cluster of PostgreSQL %s:\n%s", v, res)
	}
	moth.sql(t, "DELETE FROM chain WHERE id % 7 = 0")
	moth.switchAndArchive(t)
	latest := moth.one(t, chainChecksumSQL)
	res = env.PGOWithin(t, 12*time.Minute, "restore-drill", moth.name, "-n", ns, "--check-sql="+chainChecksumSQL, "-o", "json", "--timeout=10m")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"passed": true`) || !strings.Contains(res.Stdout, latest) {
		t.Errorf("restore-drill: want the checksum %s of the latest point:\n%s", latest, res)
	}
}

// A major upgrade by dump and restore (PGO v4 users did it by hand): a pg_dumpall of a cluster
// of the oldest major, restored into a new cluster of 17 from the old cluster's dump PVC, keeps
// every row, role and database. A dump of 17 into the older major is refused, nothing changed.
func TestUpgradeByDump(t *testing.T) {
	t.Parallel()
	const to = 17
	env, ns, old := setupCluster(t, "old", fmt.Sprintf("--postgres-version=%d", oldestVersion))
	old.sql(t, "CREATE ROLE app_owner LOGIN")
	old.sql(t, "CREATE DATABASE app OWNER app_owner")
	appSQL := func(c *restoreCluster, query string) string {
		t.Helper()
		return strings.TrimSpace(clusterExec(t, env, ns, c.name+"-0", "database", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", "app", "-c", query))
	}
	appSQL(old, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 30000) g; "+
		"UPDATE chain SET v = 'changed' WHERE id % 11 = 0; ALTER TABLE chain OWNER TO app_owner")
	old.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, 'in postgres' FROM generate_series(1, 500) g")
	wantApp, wantPostgres := appSQL(old, chainChecksumSQL), old.one(t, chainChecksumSQL)
	if res := env.PGO(t, "backup", old.name, "-n", ns, "--backup-type=pgdump", "--dump-all", "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgdump --dump-all:\n%s", res)
	}

	next := createCluster(t, env, ns, "next", fmt.Sprintf("--postgres-version=%d", to))
	if res := env.PGO(t, "restore", next.name, "-n", ns, "--backup-type=pgdump", "--backup-pvc=backup-old-pgdump-pvc", "--yes"); res.ExitCode != 0 {
		t.Fatalf("restoring old's dump into next:\n%s", res)
	}
	if got := next.one(t, "SELECT current_setting('server_version_num')::int / 10000"); got != fmt.Sprint(to) {
		t.Errorf("next runs PostgreSQL %s, want %d", got, to)
	}
	if got := appSQL(next, chainChecksumSQL); got != wantApp {
		t.Errorf("database app after the upgrade: %s, want %s", got, wantApp)
	}
	if got := next.one(t, chainChecksumSQL); got != wantPostgres {
		t.Errorf("database postgres after the upgrade: %s, want %s", got, wantPostgres)
	}
	if got := next.one(t, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"); got != "app_owner" {
		t.Errorf("database app is owned by %q, want app_owner (the role came with the dump)", got)
	}
	// next archives and backs up on its major.
	next.backup(t)

	// Back down: a dump of 17 into the older major is refused.
	if res := env.PGO(t, "backup", next.name, "-n", ns, "--backup-type=pgdump", "--dump-all", "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgdump of next:\n%s", res)
	}
	before := old.state(t)
	res := env.PGO(t, "restore", old.name, "-n", ns, "--backup-type=pgdump", "--backup-pvc=backup-next-pgdump-pvc", "--yes")
	if want := fmt.Sprintf("is of PostgreSQL %d (cluster next), and cluster old runs PostgreSQL %d", to, oldestVersion); res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("restoring a dump of %d into %d: want a refusal with %q:\n%s", to, oldestVersion, want, res)
	}
	old.untouched(t, before)
	if got := appSQL(old, chainChecksumSQL); got != wantApp {
		t.Errorf("old's database app changed after the refusal: %s, want %s", got, wantApp)
	}
}

// createCluster creates cluster name in ns with the flags given, and waits until it is ready.
func createCluster(t *testing.T, env *framework.Env, ns, name string, flags ...string) *restoreCluster {
	t.Helper()
	if res := env.PGO(t, append([]string{"create", "cluster", name, "-n", ns, "--wait", "--timeout=5m"}, flags...)...); res.ExitCode != 0 {
		logClusterPods(t, env, ns, name)
		t.Fatalf("create cluster %s %v:\n%s", name, flags, res)
	}
	return &restoreCluster{env: env, ns: ns, name: name}
}

// A major upgrade in place: kubectl pgo upgrade --to=17 with pg_upgrade --link keeps every row,
// then backups, a point-in-time restore and its checksum work on the new major; a point before
// the upgrade is refused in place (the database could not start on it) and restores from the
// old major's backups into a new cluster of that major, from the local repository and from S3.
// Bad input changes nothing.
func TestUpgradeInPlace(t *testing.T) {
	t.Parallel()
	const to = 17
	// Three full backups kept: the one before the first point of the test, the upgrade's own of
	// the old major and the first of the new one (two would expire the first). An S3 repository
	// too: read directly, it restores a point before the upgrade into a cluster of the old major.
	env, s3, ns, bucket := s3Setup(t)
	c := &restoreCluster{env: env, ns: ns, name: "hippo"}
	from := oldestVersion
	createS3Cluster(t, c, s3, "local,s3", bucket, "--pgbackrest-repo-retention-full=3", fmt.Sprintf("--postgres-version=%d", from))
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
	c.backup(t)
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=full", "--pgbackrest-storage-type=s3", "--wait"); res.ExitCode != 0 {
		t.Fatalf("backup to s3:\n%s", res)
	}
	beforeUpgrade, atBefore := c.targetBetweenSum(t, "UPDATE chain SET v = 'before' WHERE id % 5 = 0",
		"DELETE FROM chain WHERE id % 9 = 0; INSERT INTO chain SELECT g, 'pre-upgrade' FROM generate_series(20001, 20500) g", chainChecksumSQL)
	pre := c.one(t, chainChecksumSQL)

	before := c.state(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to=" + fmt.Sprint(from), "--yes"}, fmt.Sprintf("runs PostgreSQL %d: --to=%d is not a newer major", from, from)},
		{[]string{"--to=16", "--yes"}, "PostgreSQL 16 is not supported"},
		{[]string{"--yes"}, "--to is required"},
		{[]string{"--to=17"}, "without confirmation: stdin is not a terminal"},
	} {
		if res := env.PGO(t, append([]string{"upgrade", c.name, "-n", ns}, tc.args...)...); res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("upgrade %v: want a refusal with %q:\n%s", tc.args, tc.want, res)
		}
	}
	c.untouched(t, before)

	res := env.PGO(t, "upgrade", c.name, "-n", ns, fmt.Sprintf("--to=%d", to), "--yes", "--timeout=10m")
	if res.ExitCode != 0 {
		t.Fatalf("upgrade --to=%d:\n%s", to, res)
	}
	for _, want := range []string{"pg_upgrade", fmt.Sprintf("cluster hippo runs PostgreSQL %d", to)} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("the upgrade's output lacks %q:\n%s", want, res.Stdout)
		}
	}
	if got := c.one(t, "SELECT current_setting('server_version_num')::int / 10000"); got != fmt.Sprint(to) {
		t.Fatalf("after the upgrade the database runs PostgreSQL %s, want %d", got, to)
	}
	if got := c.one(t, chainChecksumSQL); got != pre {
		t.Fatalf("after the upgrade the table is %s, want %s (every row before it)", got, pre)
	}

	// On the new major: archiving, a point-in-time restore, and a second restore to the end.
	target, atTarget := c.targetBetweenSum(t, "UPDATE chain SET v = 'after-upgrade' WHERE id % 7 = 0",
		"DELETE FROM chain WHERE id % 4 = 0", chainChecksumSQL)
	c.restoreTargetThenEnd(t, target, atTarget)

	// Before the upgrade: refused in place, restored into a new cluster of the old major.
	before = c.state(t)
	if res := env.PGO(t, "restore", c.name, "-n", ns, "--yes", "--pitr-target="+beforeUpgrade); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, fmt.Sprintf("is of PostgreSQL %d, and the restore starts PostgreSQL %d", from, to)) {
		t.Errorf("an in-place restore to before the upgrade:\n%s", res)
	}
	if after := c.state(t); after != before {
		t.Errorf("the refused restore touched the database: %+v, before %+v", after, before)
	}
	// From the local repository, which only hippo's repository host (pgBackRest of the new
	// major) serves: the restore Job runs the upgrade image, with the old major's binaries.
	local := createCluster(t, env, ns, "local", fmt.Sprintf("--postgres-version=%d", from), "--restore-from=hippo", "--pitr-target="+beforeUpgrade, "--timeout=8m")
	if got := local.one(t, chainChecksumSQL); got != atBefore {
		t.Errorf("the cluster restored to before the upgrade from the local repository has %s, want %s", got, atBefore)
	}
	if got := local.one(t, "SELECT current_setting('server_version_num')::int / 10000"); got != fmt.Sprint(from) {
		t.Errorf("the cluster restored to before the upgrade runs PostgreSQL %s, want %d", got, from)
	}
	// It archives and backs up on its own, with its own major's pgBackRest, and restores from
	// there: a point-in-time restore, then a second one to the end, each by checksum.
	local.backup(t)
	localTarget, atLocalTarget := local.targetBetweenSum(t, "UPDATE chain SET v = 'restored-old' WHERE id % 6 = 0",
		"DELETE FROM chain WHERE id % 8 = 0", chainChecksumSQL)
	local.restoreTargetThenEnd(t, localTarget, atLocalTarget)
	// From the S3 repository, read directly by the old major's pgBackRest.
	back := createCluster(t, env, ns, "back", fmt.Sprintf("--postgres-version=%d", from), "--restore-from=hippo", "--pitr-target="+beforeUpgrade,
		"--restore-opts=--repo=2", "--timeout=8m")
	if got := back.one(t, chainChecksumSQL); got != atBefore {
		t.Errorf("the cluster restored to before the upgrade from S3 has %s, want %s", got, atBefore)
	}
}

// setupCluster is a namespace of the test's own with cluster name in it, ready.
func setupCluster(t *testing.T, name string, flags ...string) (*framework.Env, string, *restoreCluster) {
	t.Helper()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	return env, ns, createCluster(t, env, ns, name, flags...)
}

// restoreTargetThenEnd restores the chain table to target, where its checksum must be
// atTarget, then writes on the new timeline and restores to the end of the archive: the second
// restore, through that timeline. It returns the checksum at the end.
func (c *restoreCluster) restoreTargetThenEnd(t *testing.T, target, atTarget string) string {
	t.Helper()
	c.restore(t, "--pitr-target="+target)
	if got := c.one(t, chainChecksumSQL); got != atTarget {
		t.Fatalf("after the point-in-time restore the table is %s, want %s (its state at the target)", got, atTarget)
	}
	c.sql(t, "INSERT INTO chain SELECT g, 'second' FROM generate_series(30001, 30500) g")
	c.switchAndArchive(t)
	latest := c.one(t, chainChecksumSQL)
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Fatalf("after the second restore (to the end of the archive) the table is %s, want %s", got, latest)
	}
	return latest
}
