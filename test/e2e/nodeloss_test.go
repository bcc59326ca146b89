//go:build drills

// The node-loss drills stop whole nodes of the local cluster, so they run alone, one at a time,
// in `make test-full` (hack/e2e.sh with KPGO_DRILLS=1 builds them with -tags drills), never beside
// the other tests.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// nodeScript runs hack/cluster/node.sh (KPGO_NODE_SCRIPT, set by hack/e2e.sh).
func nodeScript(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("KPGO_NODE_SCRIPT")
	if script == "" {
		t.Fatal("KPGO_NODE_SCRIPT is not set: run the drills with hack/e2e.sh")
	}
	start := time.Now()
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("node.sh %v: %v\n%s", args, err, out)
	}
	t.Logf("node.sh %s (%s)", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
}

// loseNode stops a node as a power loss would, and starts it again when the test ends, whatever
// its outcome; back brings it back earlier and waits until it is Ready.
func loseNode(t *testing.T, env *framework.Env, node string) (back func()) {
	t.Helper()
	returned := false
	back = func() {
		if returned {
			return
		}
		returned = true
		nodeScript(t, "start", node)
		waitNode(t, env, node, corev1.ConditionTrue, 3*time.Minute)
	}
	t.Cleanup(back)
	nodeScript(t, "stop", node)
	return back
}

// waitNode waits until the node's Ready condition has the status.
func waitNode(t *testing.T, env *framework.Env, node string, status corev1.ConditionStatus, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := env.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == status, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("node %s is not Ready=%s after %s", node, status, timeout)
	}
	t.Logf("node %s is Ready=%s after %s", node, status, time.Since(start).Round(time.Second))
}

// waitPodsReady waits until every pod the selector names is Ready and none is being deleted.
func waitPodsReady(t *testing.T, env *framework.Env, ns, selector string, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		for _, p := range pods.Items {
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
			}
			if !ready || p.DeletionTimestamp != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the pods %s in %s are not Ready after %s", selector, ns, timeout)
	}
}

// accountsSum is the count and checksum of pgbench_accounts.
func accountsSum(t *testing.T, c *restoreCluster) string {
	t.Helper()
	return c.one(t, "SELECT count(*) || ' ' || md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
}

// Drill 1: the repository host's node is lost while a full backup copies files. The backup
// fails and says the node is not ready; doctor names the node while it is away; once the node
// returns, a new backup works and a restore from it has every row.
func TestNodeLossRepoHostDuringBackup(t *testing.T) {
	env := framework.Setup(t)
	readyNodes(t, env)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "nl1")
	c.pgbench(t, 8)
	c.sql(t, "UPDATE pgbench_accounts SET abalance = aid % 97 WHERE aid % 5 = 0")
	want := accountsSum(t, c)

	backupDir := cluster.DefaultRepoPath(c.name) + "/backup/db"
	repoPod := repoHostPod(t, env, ns, c.name)
	repoNode := repoPod.Spec.NodeName
	dbNode := podNamed(t, env, ns, cluster.PodName(c.name)).Spec.NodeName
	t.Logf("the database runs on %s, the repository host on %s", dbNode, repoNode)
	copied := func() int64 {
		out, err := c.execIn(repoPod.Name, "pgbackrest", "du", "-s", "-B1", backupDir)
		if err != nil {
			t.Fatalf("du %s: %v %s", backupDir, err, out)
		}
		return int64(mustAtoi(t, strings.Fields(out)[0]))
	}
	base := copied()
	start := time.Now()
	proc, result := startPGO(t, env, "backup", c.name, "-n", ns, "--type=full", "--wait")
	pod := waitJobPodLog(env, ns, jobs.BackupSelector(c.name).String(), "backup start archive = ", 5*time.Minute, true)
	if pod == "" {
		pluginStalled(t, proc, result, "no running backup pod logged its start within 5m")
	}
	if got := podNamed(t, env, ns, pod).Spec.NodeName; got != repoNode {
		t.Errorf("the backup Job's pod runs on %s, not beside the repository host on %s", got, repoNode)
	}
	for n := copied(); n < base+2<<20; n = copied() {
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("the backup has not copied 2 MiB after 5m (%d bytes)", n-base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	back := loseNode(t, env, repoNode)
	lost := time.Now()
	res := result()
	t.Logf("the backup returned %s after the node was lost, exit %d:\n%s", time.Since(lost).Round(time.Second), res.ExitCode, res.Stderr)
	if res.ExitCode != 1 {
		t.Fatalf("the backup exited %d, want 1:\n%s", res.ExitCode, res)
	}
	for _, want := range []string{"backup job " + c.name + "-backup-full-", "failed (NodeNotReady: node " + repoNode + " is not ready"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("the failure does not say %q:\n%s", want, res.Stderr)
		}
	}

	// While the node is away, doctor and show cluster name it.
	doc := env.PGO(t, "doctor", c.name, "-n", ns)
	t.Logf("doctor while %s is away (exit %d):\n%s", repoNode, doc.ExitCode, doc.Stdout)
	if doc.ExitCode != 1 || !strings.Contains(doc.Stdout, "node "+repoNode+" is not ready") {
		t.Errorf("doctor does not name the lost node %s (exit %d):\n%s", repoNode, doc.ExitCode, doc)
	}
	show := env.PGO(t, "show", "cluster", c.name, "-n", ns)
	t.Logf("show cluster while %s is away:\n%s", repoNode, show.Stdout)
	if !strings.Contains(show.Stdout, "node "+repoNode+" is not ready") {
		t.Errorf("show cluster does not name the lost node %s:\n%s", repoNode, show)
	}

	back()
	waitPodsReady(t, env, ns, cluster.DatabaseSelector(c.name).String(), 5*time.Minute)
	waitPodsReady(t, env, ns, cluster.RepoSelector(c.name).String(), 5*time.Minute)
	label, took := (&bkCluster{env: env, ns: ns, name: c.name}).backupWait(t, "full")
	t.Logf("after %s returned, the full backup %s succeeded in %s", repoNode, label, took.Round(100*time.Millisecond))
	c.verify(t)
	c.noWALMissing(t)
	c.restore(t) // the latest: the backup just taken, and the WAL after it
	if got := accountsSum(t, c); got != want {
		t.Errorf("after the restore, pgbench_accounts is %s, want %s", got, want)
	}
}

// Drill 2: the database's node is lost. show cluster and doctor say so; a new cluster restored
// from the S3 repository on the remaining nodes has every committed and archived row.
func TestNodeLossDatabaseS3(t *testing.T) {
	env, s3, ns, bucket := s3Setup(t)
	readyNodes(t, env)
	c := &restoreCluster{env: env, ns: ns, name: "nl2"}
	createS3Cluster(t, c, s3, "s3", bucket)
	c.pgbench(t, 2)
	c.backup(t)
	c.sql(t, "UPDATE pgbench_accounts SET abalance = 7 WHERE aid % 3 = 0")
	c.sql(t, "CREATE TABLE after_backup AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500) g")
	c.switchAndArchive(t)
	want := accountsSum(t, c)
	wantAfter := c.one(t, "SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM after_backup")

	dbNode := podNamed(t, env, ns, cluster.PodName(c.name)).Spec.NodeName
	loseNode(t, env, dbNode)
	waitNode(t, env, dbNode, corev1.ConditionUnknown, 3*time.Minute)

	show := env.PGO(t, "show", "cluster", c.name, "-n", ns)
	t.Logf("show cluster while %s is away:\n%s", dbNode, show.Stdout)
	if !strings.Contains(show.Stdout, "node "+dbNode+" is not ready") {
		t.Errorf("show cluster does not name the lost node %s:\n%s", dbNode, show)
	}
	doc := env.PGO(t, "doctor", c.name, "-n", ns)
	t.Logf("doctor while %s is away (exit %d):\n%s", dbNode, doc.ExitCode, doc.Stdout)
	if doc.ExitCode != 1 || !strings.Contains(doc.Stdout, "node "+dbNode+" is not ready") {
		t.Errorf("doctor does not name the lost node %s (exit %d):\n%s", dbNode, doc.ExitCode, doc)
	}

	n := &restoreCluster{env: env, ns: ns, name: "nl2-new"}
	args := append([]string{"create", "cluster", n.name, "-n", ns, "--restore-from=" + c.name, "--pgbackrest-storage-type=s3", "--wait", "--timeout=10m"},
		s3.Flags(bucket, "s3-keys", "s3-ca")...)
	res := env.PGO(t, args...)
	t.Logf("create cluster --restore-from while %s is away (exit %d):\n%s\n%s", dbNode, res.ExitCode, res.Stdout, res.Stderr)
	if res.ExitCode != 0 {
		t.Fatalf("create cluster --restore-from failed:\n%s", res)
	}
	if got := podNamed(t, env, ns, cluster.PodName(n.name)).Spec.NodeName; got == dbNode {
		t.Errorf("the new cluster's database runs on the lost node %s", got)
	}
	if got := accountsSum(t, n); got != want {
		t.Errorf("the restored pgbench_accounts is %s, want %s", got, want)
	}
	if got := n.one(t, "SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM after_backup"); got != wantAfter {
		t.Errorf("the restored after_backup is %s, want %s", got, wantAfter)
	}
}

// Drill 3: the database's node is drained, with a local repository. The database's volume is
// bound to that node, so its pod waits, unscheduled, until the node is uncordoned; the plugin
// says why, and nothing is lost.
func TestNodeDrainLocalRepo(t *testing.T) {
	env := framework.Setup(t)
	readyNodes(t, env)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "nl3")
	c.pgbench(t, 2)
	c.backup(t)
	c.sql(t, "UPDATE pgbench_accounts SET abalance = 3 WHERE aid % 4 = 0")
	c.switchAndArchive(t)
	want := accountsSum(t, c)

	dbNode := podNamed(t, env, ns, cluster.PodName(c.name)).Spec.NodeName
	t.Cleanup(func() { env.Run(t, "kubectl", "uncordon", dbNode) })
	drain := env.Run(t, "kubectl", "drain", dbNode, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3m")
	t.Logf("kubectl drain %s (exit %d):\n%s\n%s", dbNode, drain.ExitCode, drain.Stdout, drain.Stderr)
	if drain.ExitCode != 0 {
		t.Fatalf("kubectl drain failed:\n%s", drain)
	}
	// The StatefulSet makes the pod again; it cannot be scheduled while its node is cordoned.
	var why string
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, cluster.PodName(c.name), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				why = cond.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the database pod was not left unscheduled after the drain")
	}
	t.Logf("the database pod after the drain: %s", why)
	show := env.PGO(t, "show", "cluster", c.name, "-n", ns)
	t.Logf("show cluster while %s is drained:\n%s", dbNode, show.Stdout)
	if !strings.Contains(show.Stdout, "not scheduled") || !volumeConflict.MatchString(show.Stdout) {
		t.Errorf("show cluster does not say why the database is not scheduled:\n%s", show)
	}
	bk := env.PGO(t, "backup", c.name, "-n", ns, "--wait", "--timeout=1m")
	t.Logf("backup while %s is drained (exit %d):\n%s", dbNode, bk.ExitCode, bk.Stderr)
	if bk.ExitCode == 0 {
		t.Errorf("a backup succeeded while the database was not running:\n%s", bk)
	}

	if res := env.Run(t, "kubectl", "uncordon", dbNode); res.ExitCode != 0 {
		t.Fatalf("kubectl uncordon failed:\n%s", res)
	}
	waitPodsReady(t, env, ns, cluster.DatabaseSelector(c.name).String(), 5*time.Minute)
	waitPodsReady(t, env, ns, cluster.RepoSelector(c.name).String(), 5*time.Minute)
	c.waitDatabase(t, 2*time.Minute)
	if got := accountsSum(t, c); got != want {
		t.Errorf("after the drain, pgbench_accounts is %s, want %s", got, want)
	}
	c.backup(t)
	c.verify(t)
}

// Drill 4: the primary's node is lost, in a cluster with a replica (S3 repository, so that no
// repository host shares the node). failover refuses without --force, since the primary cannot
// be asked; with --force it deletes the lost pod and promotes the replica, which has every row
// that reached it before the loss; writes go on, on timeline 2. Once the node returns, the old
// primary rejoins as a replica (pg_rewind of a crashed primary) with the same rows, and a restore
// to the latest point afterwards keeps them on both pods.
func TestNodeLossPrimaryFailover(t *testing.T) {
	env, s3, ns, bucket := s3Setup(t)
	readyNodes(t, env)
	c := &restoreCluster{env: env, ns: ns, name: "nlf"}
	args := append([]string{"create", "cluster", c.name, "-n", ns, "--pgbackrest-storage-type=s3", "--replicas=1", "--wait", "--timeout=8m"},
		s3.Flags(bucket, "s3-keys", "s3-ca")...)
	if res := env.PGO(t, args...); res.ExitCode != 0 {
		t.Fatalf("create cluster --replicas=1 failed:\n%s", res)
	}
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 3000) g")
	c.backup(t)
	c.sql(t, "UPDATE chain SET v = 'before the loss' WHERE id % 5 = 0")
	want := c.one(t, chainChecksumSQL)
	replicasCaughtUp(t, c, want, "nlf-r1-0")

	primaryNode := podNamed(t, env, ns, "nlf-0").Spec.NodeName
	if podNamed(t, env, ns, "nlf-r1-0").Spec.NodeName == primaryNode {
		t.Fatalf("the primary and its replica run on the same node %s", primaryNode)
	}
	back := loseNode(t, env, primaryNode)
	waitNode(t, env, primaryNode, corev1.ConditionUnknown, 3*time.Minute)

	res := env.PGOWithin(t, 5*time.Minute, "failover", c.name, "-n", ns, "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "cannot be asked") || !strings.Contains(res.Stderr, "--force") {
		t.Fatalf("failover without --force while the primary's node is lost: exit %d, want a refusal that names --force:\n%s", res.ExitCode, res)
	}
	res = env.PGOWithin(t, 12*time.Minute, "failover", c.name, "-n", ns, "--yes", "--force", "--wait", "--timeout=10m")
	t.Logf("failover --force while %s is away (exit %d):\n%s\n%s", primaryNode, res.ExitCode, res.Stdout, res.Stderr)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "node "+primaryNode+" is not ready") {
		t.Fatalf("failover --force failed or does not name the lost node:\n%s", res)
	}
	c.primary = "nlf-r1-0"
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Fatalf("the new primary has %s, want %s (every row the replica had before the loss)", got, want)
	}
	c.sql(t, "INSERT INTO chain SELECT g, 'after the failover' FROM generate_series(5001, 5500) g")
	if tl := c.one(t, timelineSQL); tl != "2" {
		t.Errorf("the new primary writes on timeline %s, want 2", tl)
	}
	want = c.one(t, chainChecksumSQL)

	back()
	replicasCaughtUp(t, c, want, "nlf-0")
	if log := podLogOf(t, env, ns, "nlf-0", "database"); !strings.Contains(log, "rejoined with pg_rewind") && !strings.Contains(log, "was bootstrapped") {
		t.Errorf("the old primary's log does not say how it rejoined:\n%s", log)
	}
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Fatalf("after a restore to the latest point: %s, want %s", got, want)
	}
	replicasCaughtUp(t, c, want, "nlf-0")
}
