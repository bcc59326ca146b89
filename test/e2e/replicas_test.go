package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestReplicas is issue 19's first part on three nodes: a cluster with two replicas (copied
// from the new primary with pg_basebackup), where every replica shows the primary's exact
// checksum, refuses writes, keeps its role when its pod (or the primary's) is recreated, and
// is reached through the replicas' Service only; a third replica restored from a backup; the
// replicas removed again; and in-place restores (to a time, then to the latest point), after
// which the primary and the rebuilt replica hold the same rows, those committed before the
// target.
func TestReplicas(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "rep"}

	for _, bad := range []string{"--replicas=-1", "--replicas=6"} {
		res := env.PGO(t, "create", "cluster", "bad", "-n", ns, bad, "--dry-run=client", "-o", "yaml")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "is out of range: give 0 to 5") {
			t.Errorf("create cluster %s: exit %d, want a usage error:\n%s", bad, res.ExitCode, res)
		}
	}

	res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--replicas=2", "--wait", "--timeout=8m")
	if res.ExitCode != 0 {
		t.Fatalf("create cluster --replicas=2 failed:\n%s", res)
	}
	t.Logf("create cluster --replicas=2:\n%s", res.Stdout)
	nodes := map[string]bool{}
	for _, r := range []string{"rep-r1", "rep-r2"} {
		m := regexp.MustCompile(`replica ` + r + ` streams from the primary \(node (\S+); bootstrapped with pg_basebackup\)`).FindStringSubmatch(res.Stdout)
		if m == nil {
			t.Errorf("create cluster does not say that %s streams, where, and that it copied the primary:\n%s", r, res.Stdout)
			continue
		}
		nodes[m[1]] = true
	}
	primaryNode := podNode(t, env, ns, "rep-0")
	nodes[primaryNode] = true
	t.Logf("the three instances landed on %d nodes: %v", len(nodes), nodes)
	if len(nodes) < 2 {
		t.Errorf("the primary and its two replicas all run on node %s, though they prefer other nodes", primaryNode)
	}

	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	want := c.one(t, chainChecksumSQL)
	replicasCaughtUp(t, c, want, "rep-r1-0", "rep-r2-0")

	// A replica refuses writes, and the Services route by role.
	out, err := psqlIn(env, ns, "rep-r1-0", "INSERT INTO chain VALUES (0, 'x')")
	if err == nil || !strings.Contains(out, "read-only transaction") {
		t.Errorf("an INSERT on replica rep-r1-0 gave %v:\n%s", err, out)
	}
	serviceSelects(t, env, ns, "rep", "rep-0")
	serviceSelects(t, env, ns, "rep-replicas", "rep-r1-0", "rep-r2-0")

	// show cluster: each instance's role, PostgreSQL's state, and the replication.
	res = env.PGO(t, "show", "cluster", c.name, "-n", ns)
	for _, line := range []string{`rep\s+primary\s+\S+\s+accepts writes\s+1\s+-`, `rep-r1\s+replica\s+\S+\s+standby\s+1\s+streaming\s+\d+ bytes`, `rep-r2\s+replica\s+\S+\s+standby\s+1\s+streaming`} {
		if !regexp.MustCompile(line).MatchString(res.Stdout) {
			t.Errorf("show cluster lacks a line like %q:\n%s", line, res)
		}
	}

	// doctor: both replicas stream.
	r, _ := doctorReport(t, env, ns, c.name, "--no-check")
	if rc := doctorStatus(t, r, "replication"); rc.Status != "ok" || !strings.Contains(rc.Detail, "rep-r1-0 streams") || !strings.Contains(rc.Detail, "rep-r2-0 streams") {
		t.Errorf("doctor's replication check: %+v", rc)
	}

	// A replica that stops: doctor warns and names it; back, it streams again.
	scale := func(instance string, n int32) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
		if _, err := env.Client.AppsV1().StatefulSets(ns).Patch(context.Background(), instance, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	scale("rep-r2", 0)
	waitGone(t, env, ns, "rep-r2-0")
	r, _ = doctorReport(t, env, ns, c.name, "--no-check")
	if rc := doctorStatus(t, r, "replication"); rc.Status != "warning" || !strings.Contains(rc.Detail, "not streaming: rep-r2-0") {
		t.Errorf("doctor's replication check with replica rep-r2 stopped: %+v", rc)
	}
	scale("rep-r2", 1)
	replicasCaughtUp(t, c, want, "rep-r2-0")

	// Recreated pods keep their roles: a replica's, then the primary's.
	for _, pod := range []string{"rep-r1-0", "rep-0"} {
		deletePodAndWait(t, env, ns, pod)
		c.sql(t, fmt.Sprintf("INSERT INTO chain SELECT g, 'after deleting %s' FROM generate_series(10001 + %d, 10100 + %d) g", pod, len(pod)*1000, len(pod)*1000))
		want = c.one(t, chainChecksumSQL)
		replicasCaughtUp(t, c, want, "rep-r1-0", "rep-r2-0")
		if got := c.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
			t.Errorf("after deleting pod %s, rep-0 is in recovery", pod)
		}
	}
	serviceSelects(t, env, ns, "rep", "rep-0")

	// A replica added once there is a backup is restored from it.
	c.backup(t)
	res = env.PGO(t, "update", "cluster", c.name, "-n", ns, "--replicas=3", "--wait", "--timeout=8m")
	if res.ExitCode != 0 {
		t.Fatalf("update cluster --replicas=3 failed:\n%s", res)
	}
	t.Logf("update cluster --replicas=3:\n%s", res.Stdout)
	if !regexp.MustCompile(`replica rep-r3 streams from the primary \(node \S+; bootstrapped from backup \d{8}-\d{6}F\)`).MatchString(res.Stdout) {
		t.Errorf("update cluster --replicas=3 does not say that rep-r3 was restored from the full backup:\n%s", res.Stdout)
	}
	replicasCaughtUp(t, c, want, "rep-r3-0")

	// Down to one replica: the others' StatefulSets and PVCs go.
	res = env.PGO(t, "update", "cluster", c.name, "-n", ns, "--replicas=1", "--wait", "--timeout=5m")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "replica rep-r3 removed") || !strings.Contains(res.Stdout, "replica rep-r2 removed") {
		t.Fatalf("update cluster --replicas=1:\n%s", res)
	}
	for _, gone := range []string{"rep-r2", "rep-r3"} {
		waitGone(t, env, ns, gone+"-0")
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), gone, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("PVC %s is still there a minute after --replicas=1 (%v)", gone, err)
			}
			time.Sleep(time.Second)
		}
	}

	// In-place restores with a replica: to a time, then to the latest point. Both pods end with
	// exactly the rows committed before the target.
	c.sql(t, "INSERT INTO chain SELECT g, 'before T' FROM generate_series(20001, 21000) g")
	at, _, sumT := c.pointNow(t, chainPointSQL)
	time.Sleep(1100 * time.Millisecond)
	c.sql(t, "UPDATE chain SET v = 'after T' WHERE id % 3 = 0; DELETE FROM chain WHERE id % 7 = 0")
	res, _ = c.restore(t, "--pitr-target="+at)
	if !strings.Contains(res.Stderr, "Rebuilding replica rep-r1 from backup") || !strings.Contains(res.Stderr, "Every replica streams from the primary: rep-r1.") {
		t.Errorf("the restore does not say that it rebuilt the replica and that it streams:\n%s", res.Stderr)
	}
	if got := c.one(t, chainChecksumSQL); got != sumT {
		t.Fatalf("after the restore to %s: checksum %s on the primary, want %s", at, got, sumT)
	}
	replicasCaughtUp(t, c, sumT, "rep-r1-0")

	c.sql(t, "INSERT INTO chain SELECT g, 'after the restore' FROM generate_series(30001, 30500) g")
	want = c.one(t, chainChecksumSQL)
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Fatalf("after the restore to the latest point: checksum %s on the primary, want %s", got, want)
	}
	replicasCaughtUp(t, c, want, "rep-r1-0")
	if tl := c.one(t, timelineSQL); tl != "3" {
		t.Errorf("after two restores the primary is on timeline %s, want 3", tl)
	}

	// A replica promoted by hand behind the plugin's back: doctor fails on two pods that accept
	// writes, and names them.
	if out, err := psqlIn(env, ns, "rep-r1-0", "SELECT pg_promote()"); err != nil || out != "t" {
		t.Fatalf("pg_promote() on rep-r1-0: %v %s", err, out)
	}
	r, res = doctorReport(t, env, ns, c.name, "--no-check")
	if rc := doctorStatus(t, r, "replication"); res.ExitCode == 0 || rc.Status != "failed" || !strings.Contains(rc.Detail, "2 pods accept writes: rep-0, rep-r1-0") {
		t.Errorf("doctor with two primaries: exit %d, replication check %+v", res.ExitCode, rc)
	}
}

// psqlIn runs a query in pod's database container, returning its output (with errors).
func psqlIn(env *framework.Env, ns, pod, query string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, pod, "database",
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query})
	return strings.TrimSpace(out + stderr), err
}

// replicasCaughtUp waits until each replica pod shows the checksum want, and that it is a
// standby; it fails the test after two minutes.
func replicasCaughtUp(t *testing.T, c *restoreCluster, want string, pods ...string) {
	t.Helper()
	replicasShow(t, c, chainChecksumSQL, want, pods...)
}

// replicasShow is replicasCaughtUp for the checksum query sumSQL.
func replicasShow(t *testing.T, c *restoreCluster, sumSQL, want string, pods ...string) {
	t.Helper()
	for _, pod := range pods {
		deadline := time.Now().Add(2 * time.Minute)
		var got string
		var err error
		for {
			got, err = psqlIn(c.env, c.ns, pod, "SELECT pg_is_in_recovery() || ' ' || ("+sumSQL+")")
			if err == nil && got == "true "+want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s shows %q (%v) after 2m, want a standby with checksum %s", pod, got, err, want)
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("replica %s: standby, checksum %s", pod, want)
	}
}

// serviceSelects checks that a Service's endpoints are exactly the pods given.
func serviceSelects(t *testing.T, env *framework.Env, ns, service string, pods ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var got []string
	for {
		got = got[:0]
		list, err := env.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(),
			metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.TargetRef != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
					got = append(got, e.TargetRef.Name)
				}
			}
		}
		if sameSet(got, pods) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Service %s routes to %v, want %v", service, got, pods)
			return
		}
		time.Sleep(time.Second)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// podNode is the node a pod runs on.
func podNode(t *testing.T, env *framework.Env, ns, pod string) string {
	t.Helper()
	p, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Spec.NodeName
}

// deletePodAndWait deletes a pod and waits until its StatefulSet has made it again and it is
// ready.
func deletePodAndWait(t *testing.T, env *framework.Env, ns, pod string) {
	t.Helper()
	old, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.WaitPod(t, ns, pod, 3*time.Minute, func(p *corev1.Pod) bool { return p.UID != old.UID && kube.IsPodReady(p) })
	t.Logf("pod %s was recreated and is ready", pod)
}
