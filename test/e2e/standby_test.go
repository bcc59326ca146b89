package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// A standby cluster in another namespace that reaches only the bucket, as from another
// Kubernetes cluster (issue 20): its user may act in its own namespace only, and it reads the
// source's repository with read-only keys. It follows the source's writes with an exact
// checksum, is read-only, and refuses what a standby cannot do. Then the disaster: the source
// is deleted with --keep-backups, and the standby is promoted with every row the source
// committed and archived. The source's repository gains nothing, not a file, from the standby,
// which archives and backs up into its own, and is restored twice in place (a PITR to a point
// after the promotion, then the latest point), each checked by the whole table's checksum.
func TestStandbyCluster(t *testing.T) {
	t.Parallel()
	env, s3, nsA, bucket := s3Setup(t)
	nsB := env.Namespace(t)
	s3.Secrets(t, env, nsB, "s3-keys", "s3-ca")
	s3.ReaderSecrets(t, env, nsB, "s3-reader")
	ctx := context.Background()

	src := &restoreCluster{env: env, ns: nsA, name: "src"}
	createS3Cluster(t, src, s3, "s3", bucket)
	src.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text);
		INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g`)
	src.backup(t)
	src.sql(t, `UPDATE chain SET v = 'after the backup' WHERE id % 5 = 0;
		INSERT INTO chain SELECT g, 'after the backup' FROM generate_series(5001, 6000) g`)

	// A user who may act in nsB only: src is not visible to it, so its repository is found in
	// the bucket by its name.
	as := namespaceUser(t, env, nsB)
	pgoB := func(args ...string) framework.Result {
		t.Helper()
		return env.PGOWithin(t, 10*time.Minute, append([]string{"-n", nsB, as}, args...)...)
	}
	if res := env.Run(t, "kubectl", "get", "configmaps", "-n", nsA, as); res.ExitCode == 0 {
		t.Fatalf("the user of namespace %s can read namespace %s:\n%s", nsB, nsA, res)
	}
	standbyArgs := func(name, credentials string) []string {
		return append([]string{"create", "cluster", name, "--restore-from=src", "--standby", "--pgbackrest-storage-type=s3",
			"--restore-from-s3-credentials-secret=" + credentials, "--wait", "--timeout=10m"}, s3.Flags(bucket, "s3-keys", "s3-ca")...)
	}

	// Keys that cannot read the bucket are refused before anything is created.
	wrong := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-wrong", Namespace: nsB},
		Data: map[string][]byte{"aws-s3-key": []byte("nobody"), "aws-s3-key-secret": []byte("wrong-secret-key-0123456789")}}
	if _, err := env.Client.CoreV1().Secrets(nsB).Create(ctx, wrong, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := pgoB(standbyArgs("bad", "s3-wrong")...); res.ExitCode == 0 || !strings.Contains(res.Stderr, "nothing was created") {
		t.Errorf("a standby whose keys cannot read the bucket: want a refusal that says nothing was created:\n%s", res)
	}
	assertNoCluster(t, env, nsB, "bad")

	res := pgoB(standbyArgs("dr", "s3-reader")...)
	if res.ExitCode != 0 {
		t.Fatalf("create cluster dr --standby failed:\n%s", res)
	}
	t.Logf("create cluster dr --standby:\n%s", res.Stdout)
	dr := &restoreCluster{env: env, ns: nsB, name: "dr"}

	// It follows the source's writes.
	src.sql(t, `DELETE FROM chain WHERE id % 11 = 0; INSERT INTO chain SELECT g, 'followed' FROM generate_series(6001, 6500) g`)
	src.switchAndArchive(t)
	want := src.one(t, chainChecksumSQL)
	waitChecksum(t, dr, want, 2*time.Minute)
	if out, err := dr.execIn("dr-0", "database", "psql", "-XAtq", "-c", "INSERT INTO chain VALUES (0, 'write on a standby')"); err == nil || !strings.Contains(out+err.Error(), "read-only transaction") {
		t.Errorf("a write on the standby: want a read-only error, got %v %s", err, out)
	}

	// show cluster and doctor say what it is and how far it is.
	res = pgoB("show", "cluster", "dr", "-o", "json")
	var info inspect.ClusterInfo
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil || info.Standby == nil {
		t.Fatalf("show cluster dr -o json: no standby (%v):\n%s", err, res)
	}
	if s := info.Standby; s.Source != "src" || !s.InRecovery || s.SourceArchiveMax == "" || s.SegmentsBehind == nil || *s.SegmentsBehind > 1 || s.Problem() != "" {
		t.Errorf("show cluster dr: standby %+v, want src's, in recovery, at most 1 segment behind", *s)
	}
	if res = pgoB("show", "cluster", "dr"); !strings.Contains(res.Stdout, "Standby of cluster src, through its repository: replayed up to") {
		t.Errorf("show cluster dr does not describe the standby:\n%s", res)
	}
	if res = pgoB("doctor", "dr"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "standby replay") {
		t.Errorf("doctor dr: want exit 0 with the standby replay check:\n%s", res)
	}

	// What a standby cannot do is refused, and names the source.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "dr", "--type=full"}, `cluster "dr" is a standby of cluster "src": a pgBackRest backup`},
		{[]string{"restore", "dr", "--yes"}, `cluster "dr" is a standby of cluster "src": an in-place restore`},
		{[]string{"create", "schedule", "dr", "--schedule=0 1 * * *", "--pgbackrest-backup-type=full"}, `cluster "dr" is a standby of cluster "src": a backup schedule`},
		{[]string{"failover", "dr", "--yes"}, `cluster "dr" is a standby of cluster "src": a failover`},
		{append([]string{"create", "cluster", "dr2", "--restore-from=dr", "--standby", "--pgbackrest-storage-type=s3"}, s3.Flags(bucket, "s3-keys", "s3-ca")...),
			`cluster "dr" is itself a standby of cluster "src"`},
	} {
		if res := pgoB(bad.args...); res.ExitCode == 0 || !strings.Contains(res.Stderr, bad.want) {
			t.Errorf("kubectl pgo %s: want a refusal with %q:\n%s", strings.Join(bad.args, " "), bad.want, res)
		}
	}
	assertNoCluster(t, env, nsB, "dr2")
	if res := env.PGO(t, "promote", "src", "-n", nsA, "--yes"); res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "src" is not a standby cluster`) {
		t.Errorf("promote of a cluster that is not a standby: want a refusal:\n%s", res)
	}

	// The disaster: the last rows are committed and archived, and src is deleted with its
	// backups kept.
	src.sql(t, `UPDATE chain SET v = 'last before the disaster' WHERE id % 7 = 0;
		INSERT INTO chain SELECT g, 'last before the disaster' FROM generate_series(6501, 7000) g`)
	src.switchAndArchive(t)
	want = src.one(t, chainChecksumSQL)
	if res := env.PGO(t, "delete", "cluster", "src", "-n", nsA, "--keep-backups", "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete cluster src --keep-backups:\n%s", res)
	}
	srcPrefix := "backrestrepo/src-backrest-shared-repo/"
	srcObjects := s3.Objects(t, bucket, srcPrefix)

	res = pgoB("promote", "dr", "--yes", "--wait", "-o", "json")
	if res.ExitCode != 0 {
		t.Fatalf("promote dr failed:\n%s", res)
	}
	t.Logf("promote dr:\n%s%s", res.Stderr, res.Stdout)
	var promoted cmd.PromoteResult
	if err := json.Unmarshal([]byte(res.Stdout), &promoted); err != nil || promoted.Timeline != 2 || promoted.ArchivedWAL == "" {
		t.Errorf("promote -o json: %+v (%v), want timeline 2 and a segment archived", promoted, err)
	}
	if got := dr.one(t, chainChecksumSQL); got != want {
		t.Fatalf("after the promotion: checksum %s, want %s (every row src committed and archived)", got, want)
	}
	if got := dr.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
		t.Errorf("after the promotion: pg_is_in_recovery() = %s", got)
	}
	if _, err := env.Client.CoreV1().Secrets(nsB).Get(ctx, "dr-standby-source", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret dr-standby-source is left after the promotion (err %v)", err)
	}

	// It is a cluster of its own: writes, a backup, two restores.
	dr.sql(t, `INSERT INTO chain SELECT g, 'on dr' FROM generate_series(7001, 7500) g`)
	if res := pgoB("backup", "dr", "--type=full", "--wait"); res.ExitCode != 0 {
		t.Fatalf("backup dr after the promotion:\n%s", res)
	}
	dr.sql(t, `DELETE FROM chain WHERE id % 17 = 0; INSERT INTO chain SELECT g, 'before T' FROM generate_series(7501, 8000) g`)
	at, tlT, sumT := dr.pointNow(t, chainPointSQL)
	time.Sleep(1100 * time.Millisecond)
	dr.sql(t, `UPDATE chain SET v = 'after T' WHERE id % 3 = 0`)
	dr.restore(t, "--pitr-target="+at)
	if got := dr.one(t, chainChecksumSQL); got != sumT {
		t.Fatalf("dr restored to %s (timeline %d): checksum %s, want %s", at, tlT, got, sumT)
	}
	dr.sql(t, `INSERT INTO chain SELECT g, 'after the first restore' FROM generate_series(8001, 8200) g`)
	want = dr.one(t, chainChecksumSQL)
	dr.restore(t)
	if got := dr.one(t, chainChecksumSQL); got != want {
		t.Fatalf("dr restored to the latest point: checksum %s, want %s", got, want)
	}

	// src's repository holds exactly what it held when src was deleted: dr wrote nothing
	// there, no WAL and no history of its timelines. dr's are under its own path.
	if after := s3.Objects(t, bucket, srcPrefix); !slices.Equal(after, srcObjects) {
		t.Errorf("src's repository changed after its deletion: %d objects before, %d after; new: %q",
			len(srcObjects), len(after), newOnly(after, srcObjects))
	}
	for _, o := range srcObjects {
		if strings.Contains(o, "/00000002") || strings.Contains(o, "/00000003") {
			t.Errorf("src's repository holds %s, of a timeline of dr", o)
		}
	}
	drObjects := s3.Objects(t, bucket, "backrestrepo/dr-backrest-shared-repo/")
	if !slices.ContainsFunc(drObjects, func(o string) bool { return strings.HasSuffix(o, "/00000002.history") }) {
		t.Errorf("dr's repository lacks the history file of its timeline 2: %d objects", len(drObjects))
	}
	t.Logf("src's repository: %d objects, unchanged; dr's: %d objects; dr after two restores: %s", len(srcObjects), len(drObjects), want)
}

// A standby in another namespace of the same Kubernetes cluster, from a source with a local
// repository (read through the source's repository host, across namespaces), that also streams
// from the source's database over TLS (--standby-host), with a replica of its own that does the
// same. doctor fails while the replay is paused and
// the source's archive moves on; promote warns that the source still runs, keeps every row
// archived before it, and makes the replica again from the promoted primary, which it streams
// from.
func TestStandbyClusterLocalRepository(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	nsA, nsB := env.Namespace(t), env.Namespace(t)
	src := &restoreCluster{env: env, ns: nsA, name: "lsrc"}
	if res := env.PGO(t, "create", "cluster", "lsrc", "-n", nsA, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster lsrc:\n%s", res)
	}
	src.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text);
		INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 3000) g`)
	src.backup(t)
	res := env.PGO(t, "create", "cluster", "ldr", "-n", nsB, "--restore-from=lsrc", "--restore-from-namespace="+nsA, "--standby",
		"--standby-host=lsrc."+nsA+".svc", "--wait", "--timeout=10m")
	if res.ExitCode != 0 {
		t.Fatalf("create cluster ldr --standby:\n%s", res)
	}
	dr := &restoreCluster{env: env, ns: nsB, name: "ldr"}
	replica := &restoreCluster{env: env, ns: nsB, name: "ldr", primary: "ldr-r1-0"}
	res = env.PGO(t, "update", "cluster", "ldr", "-n", nsB, "--replicas=1", "--wait", "--timeout=10m")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout+res.Stderr, "replica ldr-r1 replays the archive of cluster") {
		t.Fatalf("update cluster ldr --replicas=1 of a standby:\n%s", res)
	}
	// Streamed: the rows are there long before archive_timeout (60s) would archive them.
	src.sql(t, `UPDATE chain SET v = 'followed' WHERE id % 4 = 0; INSERT INTO chain SELECT g, 'followed' FROM generate_series(3001, 3500) g`)
	want := src.one(t, chainChecksumSQL)
	waitChecksum(t, dr, want, 20*time.Second)
	waitChecksum(t, replica, want, 20*time.Second)
	var info inspect.ClusterInfo
	if res := env.PGO(t, "show", "cluster", "ldr", "-n", nsB, "-o", "json"); json.Unmarshal([]byte(res.Stdout), &info) != nil || info.Standby == nil || info.Standby.Receiver != "streaming" {
		t.Errorf("show cluster ldr -o json: want a standby that streams:\n%s", res)
	}
	src.switchAndArchive(t)
	if res := env.PGO(t, "doctor", "ldr", "-n", nsB, "--no-check"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "every instance replays the archive of") {
		t.Errorf("doctor of a standby with a replica: want exit 0 and the replication check:\n%s", res)
	}

	// Replay paused while the source archives two more segments: doctor fails, and says why.
	dr.sql(t, "SELECT pg_wal_replay_pause()")
	for range 2 {
		src.sql(t, `INSERT INTO chain SELECT g, 'while paused' FROM generate_series((SELECT max(id) + 1 FROM chain), (SELECT max(id) + 100 FROM chain)) g`)
		src.switchAndArchive(t)
	}
	if res := env.PGO(t, "doctor", "ldr", "-n", nsB, "--no-check"); res.ExitCode != 1 || !strings.Contains(res.Stdout, "the replay is paused") {
		t.Errorf("doctor of a standby whose replay is paused: want exit 1 and the reason:\n%s", res)
	}
	dr.sql(t, "SELECT pg_wal_replay_resume()")

	src.sql(t, `DELETE FROM chain WHERE id % 9 = 0`)
	src.switchAndArchive(t)
	want = src.one(t, chainChecksumSQL)
	res = env.PGO(t, "promote", "ldr", "-n", nsB, "--yes", "--wait")
	if res.ExitCode != 0 {
		t.Fatalf("promote ldr:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "cluster lsrc is running (pod lsrc-0 is ready in namespace "+nsA+")") {
		t.Errorf("promote while the source runs: no warning that it runs:\n%s", res)
	}
	if got := dr.one(t, chainChecksumSQL); got != want {
		t.Fatalf("ldr after the promotion: checksum %s, want %s", got, want)
	}
	if !strings.Contains(res.Stdout, "replica ldr-r1 streams from the primary") {
		t.Errorf("promote --wait does not say that the replica streams from the promoted primary:\n%s", res)
	}
	dr.sql(t, `INSERT INTO chain VALUES (100000, 'on ldr')`)
	waitChecksum(t, replica, dr.one(t, chainChecksumSQL), 2*time.Minute)
	out, err := src.execIn(src.repoPod(t), "pgbackrest", "find", "/backrestrepo", "-name", "00000002*")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("lsrc's repository holds files of ldr's timeline 2 (%v):\n%s", err, out)
	}
	if res := env.PGO(t, "doctor", "ldr", "-n", nsB); res.ExitCode == 1 && strings.Contains(res.Stdout, "standby replay") {
		t.Errorf("doctor of the promoted cluster still checks a standby:\n%s", res)
	}
}

// A standby of an encrypted S3-only source that its user cannot see (another Kubernetes
// cluster, as far as it knows), with the passphrase kept in a Secret of its own namespace
// (--restore-from-cipher-secret): a wrong passphrase is refused before anything is created; the
// right one follows the source's writes and is promoted with them, checked by checksum.
func TestStandbyClusterEncrypted(t *testing.T) {
	t.Parallel()
	env, s3, nsA, bucket := s3Setup(t)
	nsB := env.Namespace(t)
	s3.Secrets(t, env, nsB, "s3-keys", "s3-ca")
	ctx := context.Background()
	src := &restoreCluster{env: env, ns: nsA, name: "esrc"}
	args := append([]string{"create", "cluster", "esrc", "-n", nsA, "--pgbackrest-storage-type=s3", "--pgbackrest-repo-cipher=aes-256-cbc", "--wait", "--timeout=5m"},
		s3.Flags(bucket, "s3-keys", "s3-ca")...)
	if res := env.PGO(t, args...); res.ExitCode != 0 {
		t.Fatalf("create cluster esrc:\n%s", res)
	}
	src.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2000) g`)
	src.backup(t)
	repoSecret, err := env.Client.CoreV1().Secrets(nsA).Get(ctx, "esrc-backrest-repo-config", metav1.GetOptions{})
	if err != nil || len(repoSecret.Data["cipher-pass"]) == 0 {
		t.Fatalf("the passphrase of esrc: %v", err)
	}
	// The user keeps the passphrase apart: a copy in the standby's namespace, and a wrong one.
	for name, pass := range map[string][]byte{"esrc-pass": repoSecret.Data["cipher-pass"], "wrong-pass": []byte("not-the-passphrase-0123456789abcdef")} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsB}, Data: map[string][]byte{"cipher-pass": pass}}
		if _, err := env.Client.CoreV1().Secrets(nsB).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	as := namespaceUser(t, env, nsB)
	standby := func(name, pass string) framework.Result {
		args := append([]string{"create", "cluster", name, "-n", nsB, as, "--restore-from=esrc", "--standby", "--pgbackrest-storage-type=s3",
			"--restore-from-cipher-secret=" + pass, "--wait", "--timeout=10m"}, s3.Flags(bucket, "s3-keys", "s3-ca")...)
		return env.PGOWithin(t, 10*time.Minute, args...)
	}
	if res := standby("ebad", "wrong-pass"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "nothing was created") {
		t.Errorf("a standby with a wrong passphrase: want a refusal that says nothing was created:\n%s", res)
	}
	assertNoCluster(t, env, nsB, "ebad")
	if res := standby("edr", "esrc-pass"); res.ExitCode != 0 {
		t.Fatalf("create cluster edr --standby --restore-from-cipher-secret:\n%s", res)
	}
	dr := &restoreCluster{env: env, ns: nsB, name: "edr"}
	src.sql(t, `UPDATE chain SET v = 'encrypted and followed' WHERE id % 3 = 0`)
	src.switchAndArchive(t)
	want := src.one(t, chainChecksumSQL)
	waitChecksum(t, dr, want, 2*time.Minute)
	if res := env.PGO(t, "delete", "cluster", "esrc", "-n", nsA, "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete cluster esrc:\n%s", res)
	}
	if res := env.PGOWithin(t, 10*time.Minute, "promote", "edr", "-n", nsB, as, "--yes", "--wait"); res.ExitCode != 0 {
		t.Fatalf("promote edr:\n%s", res)
	}
	if got := dr.one(t, chainChecksumSQL); got != want {
		t.Fatalf("edr after the promotion: checksum %s, want %s", got, want)
	}
}

// waitChecksum waits until the table's checksum on c is want.
func waitChecksum(t *testing.T, c *restoreCluster, want string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	got := ""
	for time.Since(start) < timeout {
		if got = c.one(t, chainChecksumSQL); got == want {
			t.Logf("%s has the rows of its source (%s) after %s", c.name, want, time.Since(start).Round(time.Second))
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("%s: checksum %s after %s, want %s", c.name, got, timeout, want)
}

// namespaceUser makes a ServiceAccount with the role kubectl-pgo-user in ns only, and returns
// the --as flag that acts as it.
func namespaceUser(t *testing.T, env *framework.Env, ns string) string {
	t.Helper()
	role, user := userAccount(t, env, ns)
	bindUser(t, env, ns, role)
	return "--as=" + user
}

// userAccount makes a copy of the role kubectl-pgo-user named for ns (parallel tests do not
// clash) and a ServiceAccount pgo-user in ns, not bound to it yet; it returns the role's name
// and the account's user name.
func userAccount(t *testing.T, env *framework.Env, ns string) (role, user string) {
	t.Helper()
	ctx := context.Background()
	r := userRole(t)
	r.Name = "kubectl-pgo-user-" + ns
	if _, err := env.Client.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.RbacV1().ClusterRoles().Delete(context.Background(), r.Name, metav1.DeleteOptions{})
	})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "pgo-user", Namespace: ns}}
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return r.Name, fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa.Name)
}

// bindUser binds the ServiceAccount pgo-user of ns to role, in ns only.
func bindUser(t *testing.T, env *framework.Env, ns, role string) {
	t.Helper()
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pgo-user", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "pgo-user", Namespace: ns}},
	}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(context.Background(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// assertNoCluster checks that nothing of cluster name exists in ns: its settings, its
// StatefulSet, its Secrets.
func assertNoCluster(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, name+"-pgo-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s has settings after a refusal (err %v)", name, err)
	}
	if _, err := env.Client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s has a StatefulSet after a refusal (err %v)", name, err)
	}
	secrets, err := env.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelCluster + "=" + name})
	if err != nil || len(secrets.Items) > 0 {
		t.Errorf("cluster %s has Secrets after a refusal (%v): %d", name, err, len(secrets.Items))
	}
}
