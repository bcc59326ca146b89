package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// restoreCluster is one cluster under test, with helpers to query its database.
type restoreCluster struct {
	env      *framework.Env
	ns, name string
	// primary is the primary's pod when a failover made it another than
	// the first (NAME-0).
	primary string
}

// sql runs statements in the database with psql and returns the rows, one "a|b" string each.
func (c *restoreCluster) sql(t *testing.T, query string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, cmp.Or(c.primary, c.name+"-0"), "database",
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query})
	if err != nil {
		t.Fatalf("psql %q: %v", query, err)
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func (c *restoreCluster) one(t *testing.T, query string) string {
	t.Helper()
	rows := c.sql(t, query)
	if len(rows) != 1 {
		t.Fatalf("%q returned %d rows, want 1: %q", query, len(rows), rows)
	}
	return rows[0]
}

// rows returns the values of table, sorted.
func (c *restoreCluster) rows(t *testing.T, table string) []string {
	t.Helper()
	return c.sql(t, "SELECT v FROM "+table+" ORDER BY v")
}

// switchAndArchive switches to a new WAL segment and waits until the finished one is archived,
// so that everything committed so far can be restored.
func (c *restoreCluster) switchAndArchive(t *testing.T) {
	t.Helper()
	// A WAL record first: PostgreSQL skips the switch when nothing but
	// "unimportant" WAL (such as a running-transactions snapshot) was
	// written since the last one, as right after a backup, and the segment
	// it names would then wait to be filled. A logical message, not a
	// commit: a commit would be a point a time target stops at, which the
	// restore chain's model does not know of.
	c.sql(t, "SELECT pg_logical_emit_message(false, 'kubectl-pgo-test', 'switch')")
	seg := c.one(t, "SELECT pg_walfile_name(pg_switch_wal())")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		row := c.one(t, "SELECT coalesce(last_archived_wal, ''), failed_count FROM pg_stat_archiver")
		last, failed, _ := strings.Cut(row, "|")
		if last >= seg {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL segment %s not archived after 2m (last archived %q, failed %s)", seg, last, failed)
		}
		time.Sleep(time.Second)
	}
}

// backup takes a full backup with kubectl pgo backup --wait.
func (c *restoreCluster) backup(t *testing.T) {
	t.Helper()
	res := c.env.PGO(t, "backup", c.name, "-n", c.ns, "--type=full", "--wait")
	if res.ExitCode != 0 {
		t.Fatalf("backup failed:\n%s", res)
	}
}

// databaseState is what must not change when restore refuses: the StatefulSet's replicas and
// the database pod.
type databaseState struct {
	replicas int32
	podUID   types.UID
}

func (c *restoreCluster) state(t *testing.T) databaseState {
	t.Helper()
	ctx := context.Background()
	sts, err := c.env.Client.AppsV1().StatefulSets(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := c.env.Client.CoreV1().Pods(c.ns).Get(ctx, c.name+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return databaseState{replicas: ptr.Deref(sts.Spec.Replicas, 1), podUID: pod.UID}
}

func (c *restoreCluster) replicas(t *testing.T) int32 {
	t.Helper()
	sts, err := c.env.Client.AppsV1().StatefulSets(c.ns).Get(context.Background(), c.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(sts.Spec.Replicas, 1)
}

// untouched checks that the database still runs as before and no restore Job exists.
func (c *restoreCluster) untouched(t *testing.T, before databaseState) {
	t.Helper()
	if after := c.state(t); after != before {
		t.Errorf("the database was touched: %+v, before %+v", after, before)
	}
	_, err := c.env.Client.BatchV1().Jobs(c.ns).Get(context.Background(), c.name+"-restore", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a restore Job exists (or cannot be read: %v)", err)
	}
}

// restore runs kubectl pgo restore --yes and fails the test unless it succeeds; it returns the
// output and how long pgbackrest restore itself took, from the Job's log.
func (c *restoreCluster) restore(t *testing.T, args ...string) (framework.Result, time.Duration) {
	t.Helper()
	start := time.Now()
	res := c.env.PGO(t, append([]string{"restore", c.name, "-n", c.ns, "--yes", "--timeout=10m"}, args...)...)
	if res.ExitCode != 0 {
		t.Fatalf("restore failed:\n%s", res)
	}
	t.Logf("restore %v took %s:\n%s", args, time.Since(start).Round(100*time.Millisecond), res.Stdout)
	m := regexp.MustCompile(`INFO: restore command end: completed successfully \((\d+)ms\)`).FindStringSubmatch(res.Stderr)
	if m == nil {
		t.Errorf("the Job's log (on stderr) lacks pgBackRest's end line:\n%s", res.Stderr)
		return res, 0
	}
	ms, _ := strconv.Atoi(m[1])
	return res, time.Duration(ms) * time.Millisecond
}

// runWithStdin runs a command with stdin and KUBECONFIG for the cluster under test.
func runWithStdin(t *testing.T, env *framework.Env, stdin string, name string, args ...string) framework.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	t.Logf("$ %s %s <<< %q -> exit %d", name, strings.Join(args, " "), stdin, res.ExitCode)
	framework.Record(args, res)
	return res
}

// In place, on one cluster: the refusals first (each leaves the database running and creates
// no Job), then a restore to the latest point, a full restore into an empty data directory to
// compare with the delta restore, and a point-in-time restore after which archiving and
// backups go on.
func TestRestoreInPlace(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &restoreCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", c.ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	c.sql(t, "CREATE TABLE latest (v text); CREATE TABLE pitr (v text)")
	running := c.state(t)

	refused := func(t *testing.T, res framework.Result, want ...string) {
		t.Helper()
		t.Logf("refused:\n%s", res.Stderr)
		if res.ExitCode == 0 {
			t.Errorf("restore succeeded, want a refusal:\n%s", res)
		}
		for _, w := range want {
			if !strings.Contains(res.Stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, res.Stderr)
			}
		}
		c.untouched(t, running)
	}

	t.Run("no backups", func(t *testing.T) {
		res := env.PGO(t, "restore", c.name, "-n", c.ns, "--yes")
		refused(t, res, `error: cluster "hippo" has no backups`, "kubectl pgo backup hippo")
	})

	// Rows A, some bulk for the delta/full comparison, a backup; then B.
	c.sql(t, "INSERT INTO latest VALUES ('A'); CREATE TABLE bulk AS SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) g")
	beforeBackup := c.one(t, "SELECT now()")
	c.backup(t)
	c.sql(t, "INSERT INTO latest VALUES ('B')")
	c.switchAndArchive(t)

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want []string
		}{
			{"malformed timestamp", []string{"--pitr-target=24/11/2026 12:00"},
				[]string{`invalid --pitr-target: "24/11/2026 12:00" is not a valid point-in-time target`, "e.g. '2026-11-24 12:00:00+00' or 2026-11-24T12:00:00Z"}},
			{"target before the first backup", []string{"--pitr-target=" + beforeBackup},
				[]string{"is before the end of the oldest backup", "the earliest point in time a restore can reach is"}},
			{"target after the last archived WAL", []string{"--pitr-target=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
				[]string{"is after the last archived WAL", "the latest point in time a restore can reach is"}},
			{"unknown set", []string{"--backup-opts=--set=20200101-000000F"},
				[]string{"backup 20200101-000000F does not exist in the repository of cluster \"hippo\"; its backups are:"}},
			{"denied option", []string{"--backup-opts=--pg1-path=/tmp"}, []string{"--pg1-path cannot be given"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := env.PGO(t, append([]string{"restore", c.name, "-n", c.ns, "--yes"}, tc.args...)...)
				refused(t, res, tc.want...)
			})
		}
		t.Run("without a terminal and without --yes", func(t *testing.T) {
			res := runWithStdin(t, env, "yes\n", "kubectl", "pgo", "restore", c.name, "-n", c.ns)
			refused(t, res, "stdin is not a terminal: pass --yes")
		})
		t.Run("declining the prompt", func(t *testing.T) {
			if _, err := exec.LookPath("script"); err != nil {
				t.Skip("script (util-linux) is not installed: no terminal to answer the prompt on")
			}
			// script gives kubectl a terminal, and passes it our answer.
			res := runWithStdin(t, env, "no\n", "script", "-qec", fmt.Sprintf("kubectl pgo restore %s -n %s", c.name, c.ns), "/dev/null")
			// Through the terminal, stdout and stderr arrive together on stdout.
			res.Stderr = res.Stdout
			refused(t, res, "StatefulSet hippo is scaled to 0", `Type "yes" to restore:`, `cancelled: the answer was "no", not yes; nothing was changed`)
		})
	})
	if t.Failed() {
		return
	}

	var delta time.Duration
	t.Run("latest", func(t *testing.T) {
		_, delta = c.restore(t)
		if got := c.rows(t, "latest"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows after restoring to the latest point = %q, want A and B", got)
		}
		if got := c.one(t, "SELECT count(*) FROM bulk"); got != "1000000" {
			t.Errorf("bulk rows = %s", got)
		}
	})

	// The data directory is lost: a restore onto the empty PVC is a full restore, to compare with
	// the delta restore above, which found nearly every file in place.
	t.Run("into an empty data directory", func(t *testing.T) {
		ctx := context.Background()
		if res := env.Run(t, "kubectl", "scale", "statefulset", c.name, "--replicas=0", "-n", c.ns); res.ExitCode != 0 {
			t.Fatalf("scale: %s", res)
		}
		waitGone(t, env, c.ns, c.name+"-0")
		env.Pod(t, c.ns, "wipe", nil, []string{"sh", "-c", "rm -rf /pgdata/hippo && ls -la /pgdata"}, func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "pgdata", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.name}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "pgdata", MountPath: "/pgdata"}}
			p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](26)}
		})
		env.WaitPod(t, c.ns, "wipe", 2*time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		_ = env.Client.CoreV1().Pods(c.ns).Delete(ctx, "wipe", metav1.DeleteOptions{})
		waitGone(t, env, c.ns, "wipe")

		_, full := c.restore(t)
		if got := c.rows(t, "latest"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows after a full restore = %q, want A and B", got)
		}
		// Which one is faster is measured in make bench (benchmark 3, docs/benchmarks.md), not
		// here: on a tiny database beside other tests the two take about the same 2 s.
		if delta > 0 && full > 0 {
			t.Logf("pgbackrest restore: delta %s, full %s: the delta restore took %.2f of the full one's time", delta, full, float64(delta)/float64(full))
		}
	})

	// A restore Job that fails (pgBackRest refuses a database that is not in the backup) leaves
	// the database stopped and says how to go on; running restore again works.
	t.Run("a failed restore Job, then a retry", func(t *testing.T) {
		res := env.PGO(t, "restore", c.name, "-n", c.ns, "--yes", "--backup-opts=--db-include=nope")
		if res.ExitCode == 0 {
			t.Fatalf("restore with --db-include=nope succeeded:\n%s", res)
		}
		t.Logf("the failure, as reported:\n%s", res.Stderr)
		for _, want := range []string{
			"error: the restore Job hippo-restore failed: the restore exited with code",
			"nope",
			"The database is still stopped (StatefulSet hippo has 0 replicas)",
			"run the restore again (it replaces the failed Job): kubectl pgo restore hippo -n " + c.ns,
		} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
			}
		}
		if replicas := c.replicas(t); replicas != 0 {
			t.Errorf("replicas = %d after a failed restore, want 0", replicas)
		}
		c.restore(t)
		if got := c.rows(t, "latest"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows after the retry = %q, want A and B", got)
		}
	})

	// PostgreSQL stops at the first commit after a time target; with none after it in the
	// archive it would give up and leave the database down. A restore of a running database
	// commits a mark before it archives the WAL, so such a target is reached: the database is
	// up, with every row committed before the target.
	t.Run("a target after the last commit", func(t *testing.T) {
		c.sql(t, "INSERT INTO latest VALUES ('C')")
		target := c.one(t, "SELECT now()")
		time.Sleep(1100 * time.Millisecond)
		c.switchAndArchive(t)
		res := env.PGO(t, "restore", c.name, "-n", c.ns, "--yes", "--pitr-target="+target)
		if res.ExitCode != 0 {
			t.Fatalf("restore to a target after the last commit failed:\n%s", res)
		}
		t.Logf("restore to a target after the last commit:\n%s", res.Stderr)
		if !strings.Contains(res.Stderr, "Archiving the database's current WAL") {
			t.Errorf("stderr does not say the WAL was archived first:\n%s", res.Stderr)
		}
		if replicas := c.replicas(t); replicas != 1 {
			t.Errorf("replicas = %d, want 1", replicas)
		}
		if got := c.rows(t, "latest"); !slices.Equal(got, []string{"A", "B", "C"}) {
			t.Errorf("rows = %q, want A, B and C", got)
		}
	})

	t.Run("point in time", func(t *testing.T) {
		c.sql(t, "INSERT INTO pitr VALUES ('A')")
		c.backup(t)
		c.sql(t, "INSERT INTO pitr VALUES ('B')")
		target := c.one(t, "SELECT now()")
		time.Sleep(1100 * time.Millisecond)
		c.sql(t, "INSERT INTO pitr VALUES ('C')")
		c.switchAndArchive(t)

		res, _ := c.restore(t, "--pitr-target="+target)
		if !strings.Contains(res.Stdout, "PostgreSQL recovered and was promoted on timeline") {
			t.Errorf("the summary does not name the new timeline:\n%s", res.Stdout)
		}
		if got := c.rows(t, "pitr"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows after restoring to %s = %q, want A and B (and not C)", target, got)
		}
		if got := c.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
			t.Errorf("pg_is_in_recovery() = %s, want f: not promoted", got)
		}

		// Archiving goes on, on the new timeline, and a new backup works.
		before := c.one(t, "SELECT archived_count FROM pg_stat_archiver")
		c.sql(t, "INSERT INTO pitr VALUES ('D')")
		c.switchAndArchive(t)
		row := c.one(t, "SELECT archived_count, failed_count FROM pg_stat_archiver")
		archived, failed, _ := strings.Cut(row, "|")
		if n, _ := strconv.Atoi(archived); n <= mustAtoi(t, before) || failed != "0" {
			t.Errorf("pg_stat_archiver after the restore: archived %s (before %s), failed %s", archived, before, failed)
		}
		c.backup(t)
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// waitGone waits until a pod no longer exists.
func waitGone(t *testing.T, env *framework.Env, ns, pod string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s still exists after 3m", ns, pod)
		}
		time.Sleep(time.Second)
	}
}

// Restore into a new cluster, from a running cluster and from one deleted with --keep-backups,
// with its refusals; the new cluster gets the rows, its own password, repository and stanza,
// and the source's repository gets nothing from it.
func TestRestoreNewCluster(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	if help := env.PGO(t, "create", "cluster", "--help"); !strings.Contains(help.Stdout, "--restore-from") {
		t.Skip("create cluster has no --restore-from yet")
	}
	ns := env.Namespace(t)
	old := &restoreCluster{env: env, ns: ns, name: "old"}
	if res := env.PGO(t, "create", "cluster", old.name, "-n", ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	old.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('A')")
	beforeBackup := old.one(t, "SELECT now()")
	old.backup(t)
	old.sql(t, "INSERT INTO t VALUES ('B')")
	target := old.one(t, "SELECT now()")
	time.Sleep(1100 * time.Millisecond)
	old.sql(t, "INSERT INTO t VALUES ('C')")
	old.switchAndArchive(t)

	notCreated := func(t *testing.T, res framework.Result, name string, want ...string) {
		t.Helper()
		t.Logf("refused:\n%s", res.Stderr)
		if res.ExitCode == 0 {
			t.Errorf("create cluster --restore-from succeeded, want a refusal:\n%s", res)
		}
		for _, w := range want {
			if !strings.Contains(res.Stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, res.Stderr)
			}
		}
		_, err := env.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), name+"-pgo-config", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("cluster %s was created (or cannot be read: %v)", name, err)
		}
	}
	t.Run("bad input", func(t *testing.T) {
		res := env.PGO(t, "create", "cluster", "bad", "-n", ns, "--restore-from=missing")
		notCreated(t, res, "bad", `cluster "missing" not found in namespace "`+ns+`", neither running nor deleted with --keep-backups`)
		res = env.PGO(t, "create", "cluster", "bad", "-n", ns, "--restore-from=old", "--pitr-target="+beforeBackup)
		notCreated(t, res, "bad", "is before the end of the oldest backup")
		res = env.PGO(t, "create", "cluster", "bad", "-n", ns, "--restore-from=old", "--restore-opts=--set=20200101-000000F")
		notCreated(t, res, "bad", "backup 20200101-000000F does not exist")
		res = env.PGO(t, "create", "cluster", "bad", "-n", ns, "--restore-from=old", "--pitr-target=yesterday")
		notCreated(t, res, "bad", `"yesterday" is not a valid point-in-time target`)
		res = env.PGO(t, "create", "cluster", "old", "-n", ns, "--restore-from=old")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "names the cluster being created") {
			t.Errorf("restoring a cluster into itself:\n%s", res)
		}
	})

	// Into another namespace: the Job reaches old's repository host by its namespaced name,
	// which its certificate carries.
	t.Run("from a running cluster in another namespace", func(t *testing.T) {
		c := &restoreCluster{env: env, ns: env.Namespace(t), name: "copy"}
		res := env.PGO(t, "create", "cluster", c.name, "-n", c.ns, "--restore-from=old", "--restore-from-namespace="+ns, "--wait", "--timeout=10m")
		if res.ExitCode != 0 {
			t.Fatalf("create cluster --restore-from failed:\n%s", res)
		}
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B", "C"}) {
			t.Errorf("rows = %q, want those of old: A, B, C", got)
		}
		if got := c.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
			t.Errorf("pg_is_in_recovery() = %s", got)
		}
		// The superuser's password is the new cluster's, over TCP with scram.
		if got := c.one(t, `SELECT 1`); got != "1" {
			t.Fatal(got)
		}
		ctx := context.Background()
		out, _, err := kube.ExecCapture(ctx, env.Config, env.Client, c.ns, "copy-0", "database",
			[]string{"sh", "-c", `PGPASSWORD="$(cat /etc/kubectl-pgo/password)" psql -XAtq -h 127.0.0.1 -U postgres -c "SELECT 'password ok'"`})
		if err != nil || strings.TrimSpace(out) != "password ok" {
			t.Errorf("the new cluster's password does not log in: %q, %v", out, err)
		}
		// Its own repository: archiving and a backup work.
		c.sql(t, "INSERT INTO t VALUES ('D')")
		c.switchAndArchive(t)
		// Attempts before the new cluster's stanza existed fail (the promotion's history
		// file is pushed at once); none may fail after the last one archived.
		if row := c.one(t, "SELECT coalesce(last_failed_time < last_archived_time, true) || '|' || failed_count FROM pg_stat_archiver"); !strings.HasPrefix(row, "true|") {
			t.Errorf("archiving fails in the new cluster (failed since the last archived segment | failures): %s", row)
		} else {
			t.Logf("archiving in the new cluster: ok (%s failed attempts before its stanza existed)", strings.TrimPrefix(row, "true|"))
		}
		c.backup(t)
		// The source's repository got nothing from the new cluster: no new timeline.
		repoPod, err := kube.FindRunningPod(ctx, env.Client, ns, "app.kubernetes.io/instance=old,app.kubernetes.io/component=pgbackrest-repo")
		if err != nil {
			t.Fatal(err)
		}
		out, _, err = kube.ExecCapture(ctx, env.Config, env.Client, ns, repoPod.Name, "pgbackrest",
			[]string{"ls", "/backrestrepo/old-backrest-shared-repo/archive/db/" + defaultArchiveID})
		if err != nil || strings.Contains(out, ".history") {
			t.Errorf("the source's archive holds a timeline history (%v):\n%s", err, out)
		}
		if res := env.PGO(t, "delete", "cluster", c.name, "-n", c.ns, "--yes"); res.ExitCode != 0 {
			t.Errorf("delete cluster copy:\n%s", res)
		}
	})

	t.Run("from a deleted cluster, to a point in time", func(t *testing.T) {
		if res := env.PGO(t, "delete", "cluster", old.name, "-n", ns, "--keep-backups", "--yes"); res.ExitCode != 0 {
			t.Fatalf("delete cluster old --keep-backups:\n%s", res)
		}
		waitGone(t, env, ns, "old-0")
		c := &restoreCluster{env: env, ns: ns, name: "pitr"}
		res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--restore-from=old", "--pitr-target="+target, "--wait", "--timeout=10m")
		if res.ExitCode != 0 {
			t.Fatalf("create cluster --restore-from a deleted cluster failed:\n%s", res)
		}
		if !strings.Contains(res.Stderr, "starting a temporary repository host") || !strings.Contains(res.Stderr, "Removed the temporary repository host") {
			t.Errorf("no word of the temporary repository host:\n%s", res.Stderr)
		}
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows at %s = %q, want A and B (not C)", target, got)
		}
		ctx := context.Background()
		if _, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "old-backrest-shared-repo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the temporary repository host is still there (%v)", err)
		}
		if _, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "old-pgbr-repo", metav1.GetOptions{}); err != nil {
			t.Errorf("the kept repository PVC is gone: %v", err)
		}
		c.sql(t, "INSERT INTO t VALUES ('E')")
		c.switchAndArchive(t)
		c.backup(t)
	})
}
