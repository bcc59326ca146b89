package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// benchSumSQL is the whole-table checksum of bench: its count and the md5 of every row in
// id order.
const benchSumSQL = `SELECT count(*) || '|' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM bench t`

// benchApp is an application pod that writes into bench with pgbench, as a role of its own,
// through the cluster's primary Service, over TLS with verify-full against the CA it mounts
// from ConfigMap NAME-ca. Each transaction opens a new connection (-C), so every insert
// verifies the server's certificate against the mounted CA file as it is at that moment. It
// runs pgbench in bursts of 10 s and prints a line per burst: "burst START END rc=N ...".
type benchApp struct {
	c    *restoreCluster
	name string
}

// benchAppPassword is the app role's password: not a secret of the cluster.
const benchAppPassword = "bench-app-pw"

// startBenchApp creates bench and the role app, and starts the pod.
func startBenchApp(t *testing.T, c *restoreCluster) *benchApp {
	t.Helper()
	c.sql(t, "CREATE TABLE bench (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text NOT NULL); "+
		"CREATE ROLE app LOGIN PASSWORD '"+benchAppPassword+"'; GRANT SELECT, INSERT ON bench TO app; GRANT USAGE ON SEQUENCE bench_id_seq TO app")
	script := `printf 'INSERT INTO bench (v) VALUES (md5(random()::text));\n' > /tmp/insert.sql
while :; do
  s=$(date +%s.%N)
  pgbench -n -C -c 2 -T 10 -R 10 -f /tmp/insert.sql > /tmp/out 2>&1; rc=$?
  echo "burst $s $(date +%s.%N) rc=$rc $(grep -E 'number of (transactions actually processed|failed transactions)' /tmp/out | tr '\n' ' ')"
  if [ $rc -ne 0 ]; then tail -3 /tmp/out | sed 's/^/  | /'; sleep 1; fi
done`
	a := &benchApp{c: c, name: "bench-app"}
	c.env.Pod(t, c.ns, a.name, nil, []string{"bash", "-c", script}, func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "ca", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cluster.CAConfigMapName(c.name)}}}})
		ctr := &p.Spec.Containers[0]
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "ca", MountPath: "/ca", ReadOnly: true})
		ctr.Env = append(ctr.Env,
			corev1.EnvVar{Name: "PGHOST", Value: fmt.Sprintf("%s.%s.svc", c.name, c.ns)},
			corev1.EnvVar{Name: "PGUSER", Value: "app"}, corev1.EnvVar{Name: "PGPASSWORD", Value: benchAppPassword},
			corev1.EnvVar{Name: "PGDATABASE", Value: "postgres"},
			corev1.EnvVar{Name: "PGSSLMODE", Value: "verify-full"}, corev1.EnvVar{Name: "PGSSLROOTCERT", Value: "/ca/" + cluster.KeyCACert})
	})
	return a
}

// benchBurst is one pgbench run of the app.
type benchBurst struct {
	start, end time.Time
	rc         int
	line       string
}

// stop deletes the pod, once no burst runs (at most 15 s later), and returns its bursts.
func (a *benchApp) stop(t *testing.T) []benchBurst {
	t.Helper()
	// The log up to now, then wait for the burst that runs to end: its line is in the next log.
	n := len(a.bursts(t))
	deadline := time.Now().Add(30 * time.Second)
	for len(a.bursts(t)) == n && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	bursts := a.bursts(t)
	if err := a.c.env.Client.CoreV1().Pods(a.c.ns).Delete(context.Background(), a.name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete pod %s: %v", a.name, err)
	}
	// No insert after this: wait until the pod is gone.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, err := a.c.env.Client.CoreV1().Pods(a.c.ns).Get(context.Background(), a.name, metav1.GetOptions{}); err != nil {
			return bursts
		}
	}
	t.Fatalf("pod %s is still there a minute after its deletion", a.name)
	return nil
}

// bursts parses the pod's log.
func (a *benchApp) bursts(t *testing.T) []benchBurst {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := a.c.env.Client.CoreV1().Pods(a.c.ns).GetLogs(a.name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("the log of %s: %v", a.name, err)
	}
	var out []benchBurst
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "burst" {
			continue
		}
		b := benchBurst{start: unixTime(f[1]), end: unixTime(f[2]), line: line}
		b.rc, _ = strconv.Atoi(strings.TrimPrefix(f[3], "rc="))
		out = append(out, b)
	}
	return out
}

func unixTime(s string) time.Time {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Unix(0, int64(f*1e9))
}

// window is when something ran, by the test's clock (the nodes share the host's).
type window struct{ start, end time.Time }

func (w window) overlaps(b benchBurst) bool { return b.start.Before(w.end) && b.end.After(w.start) }

// lockedPoint records a point-in-time target while pgbench writes: in one transaction it
// takes an EXCLUSIVE lock on bench (which waits for the inserts in flight to commit and holds
// the next ones back), reads the checksum and the time, and commits. Every insert committed
// before the target is in the checksum and every other commits after it, so a PITR to the
// target must return exactly that checksum. It retries while the primary restarts, for up to
// two minutes.
func (c *restoreCluster) lockedPoint(t *testing.T, name string) rotationPoint {
	t.Helper()
	q := "BEGIN; LOCK TABLE bench IN EXCLUSIVE MODE; " + benchSumSQL + "; " +
		"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'; COMMIT;"
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.execIn(c.name+"-0", "database", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", q)
		lines := strings.Fields(strings.TrimSpace(out))
		if err == nil && len(lines) == 3 {
			p := rotationPoint{name: name, sum: lines[0], target: lines[1] + " " + lines[2]}
			t.Logf("point %s: target %s, count|md5 %s", name, p.target, p.sum)
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("point %s: %v %q", name, err, out)
		}
		time.Sleep(time.Second)
	}
}
