package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestPostgresTLS is issue 24's first part: a new cluster's PostgreSQL accepts only TLS from
// the network. From another pod (the replica's), a clear-text connection is refused and one with
// sslmode=verify-full and the CA of the ConfigMap <cluster>-ca works, to the primary's Service
// and to the replicas'; the replica streams over TLS; a pgdump Job verifies the server (a wrong
// CA fails, and says why); a restore still returns the exact rows; and a cluster as an earlier
// kubectl-pgo made it (clear text accepted) is brought to TLS by update cluster, a restart
// that loses no WAL.
func TestPostgresTLS(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "tls"}
	ctx := context.Background()

	start := time.Now()
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--replicas=1", "--wait", "--timeout=8m"); res.ExitCode != 0 {
		t.Fatalf("create cluster --replicas=1 failed:\n%s", res)
	}
	t.Logf("create cluster --replicas=1 took %s", time.Since(start).Round(100*time.Millisecond))

	// The CA ConfigMap holds only ca.crt, the CA of the repository Secret.
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.CAConfigMapName(c.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := env.Client.CoreV1().Secrets(ns).Get(ctx, cluster.RepoConfigSecretName(c.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Data) != 1 || cm.Data[cluster.KeyCACert] != string(secret.Data[cluster.KeyCACert]) || len(cm.BinaryData) != 0 {
		t.Errorf("ConfigMap %s has keys %v, want only ca.crt, the cluster's CA", cm.Name, keysOf(cm.Data))
	}
	pg, err := env.Client.CoreV1().Secrets(ns).Get(ctx, cluster.PostgresSecretName(c.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	password := string(pg.Data[cluster.KeyPassword])

	// From the replica's pod, over the pod network. Its database container has the same CA at
	// /etc/pgbackrest/tls/ca.crt.
	const caFile = "/etc/pgbackrest/tls/ca.crt"
	remote := func(conninfo, query string) (string, error) {
		out, err := c.execIn("tls-r1-0", "database", "env", "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10",
			"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", query)
		return strings.TrimSpace(out), err
	}
	for _, host := range []string{"tls." + ns + ".svc", "tls-replicas." + ns + ".svc"} {
		out, err := remote(fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", host), "SELECT 1")
		if err == nil || !strings.Contains(out, "no encryption") {
			t.Errorf("a clear-text connection to %s was not refused (%v):\n%s", host, err, out)
		} else {
			t.Logf("clear text to %s: %s", host, out)
		}
		out, err = remote(fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=verify-full sslrootcert=%s", host, caFile),
			"SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
		if err != nil || out != "t" {
			t.Errorf("a verify-full connection to %s: %v\n%s", host, err, out)
		}
	}
	// The replica streams over TLS.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := c.one(t, "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)")
		if got == "1/1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_stat_replication joined with pg_stat_ssl: %s (ssl/all), want 1/1", got)
		}
		time.Sleep(2 * time.Second)
	}

	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	want := c.one(t, chainChecksumSQL)
	replicasCaughtUp(t, c, want, "tls-r1-0")

	// A pgdump Job verifies the server's certificate: with the right CA it works, with another
	// cluster's it fails and says why.
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgdump backup failed:\n%s", res)
	}
	other, err := cluster.NewPKI("other", ns, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	setCA := func(ca string) {
		t.Helper()
		cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.CAConfigMapName(c.name), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data[cluster.KeyCACert] = ca
		if _, err := env.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setCA(string(other.CACert))
	time.Sleep(1100 * time.Millisecond) // dumps are named by the second
	res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait")
	if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "certificate verify failed") {
		t.Errorf("a pgdump Job with another cluster's CA: exit %d, want a failure that names the certificate:\n%s", res.ExitCode, res)
	} else {
		t.Logf("pgdump with a wrong CA:\n%s", res)
	}
	setCA(string(secret.Data[cluster.KeyCACert]))

	// A restore (pgBackRest, then replication over TLS) returns exactly the rows.
	c.backup(t)
	c.sql(t, "INSERT INTO chain SELECT g, 'after the backup' FROM generate_series(5001, 6000) g")
	want = c.one(t, chainChecksumSQL)
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Fatalf("after the restore: checksum %s, want %s", got, want)
	}
	t.Logf("after the restore: count|md5 %s", want)
	replicasCaughtUp(t, c, want, "tls-r1-0")

	// A cluster made before TLS was required: pg_hba.conf of that time, no CA ConfigMap, pods
	// made from those files. Clear text works there, and a pgdump Job says what to do.
	const oldHBA = "local all all peer\nlocal replication all peer\nhostssl replication pgo_replication all scram-sha-256\n" +
		"host replication pgo_replication all reject\nhost all all all scram-sha-256\nhost replication all all scram-sha-256\n"
	patch := func(what string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	hbaPatch, _ := json.Marshal(map[string]any{"data": map[string]string{cluster.FileHBAConf: oldHBA}})
	patch("pg_hba.conf", func() error {
		_, err := env.Client.CoreV1().ConfigMaps(ns).Patch(ctx, cluster.PGBackRestConfigMapName(c.name), types.MergePatchType, hbaPatch, metav1.PatchOptions{})
		return err
	})
	patch("the CA ConfigMap", func() error {
		return env.Client.CoreV1().ConfigMaps(ns).Delete(ctx, cluster.CAConfigMapName(c.name), metav1.DeleteOptions{})
	})
	for _, sts := range []string{"tls", "tls-r1"} {
		old, err := env.Client.CoreV1().Pods(ns).Get(ctx, sts+"-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hashPatch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:"before-tls"}}}}}`, cluster.AnnotationConfigHash)
		patch("StatefulSet "+sts, func() error {
			_, err := env.Client.AppsV1().StatefulSets(ns).Patch(ctx, sts, types.MergePatchType, []byte(hashPatch), metav1.PatchOptions{})
			return err
		})
		env.WaitPod(t, ns, sts+"-0", 4*time.Minute, func(p *corev1.Pod) bool { return p.UID != old.UID && kube.IsPodReady(p) })
	}
	clearText := fmt.Sprintf("host=tls.%s.svc user=postgres dbname=postgres sslmode=disable", ns)
	if out, err := remote(clearText, "SELECT 1"); err != nil || out != "1" {
		t.Fatalf("the cluster as an earlier kubectl-pgo made it should take clear text: %v\n%s", err, out)
	}
	r, _ := doctorReport(t, env, ns, c.name, "--no-check")
	if tc := doctorStatus(t, r, "postgres TLS"); tc.Status != "warning" || !strings.Contains(tc.Detail, "takes clear text from the network") ||
		!strings.Contains(tc.Fix, "kubectl pgo update cluster tls -n "+ns) {
		t.Errorf("doctor's TLS check of a cluster that takes clear text: %+v", tc)
	}
	time.Sleep(1100 * time.Millisecond)
	res = env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait")
	if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "kubectl pgo update cluster tls brings it up to date") {
		t.Errorf("a pgdump Job without the CA ConfigMap: exit %d, want a failure that says what to do:\n%s", res.ExitCode, res)
	}

	// update cluster brings it up to date: a restart, and no WAL lost.
	c.sql(t, "INSERT INTO chain SELECT g, 'before the update' FROM generate_series(6001, 7000) g")
	want = c.one(t, chainChecksumSQL)
	start = time.Now()
	res = env.PGO(t, "update", "cluster", c.name, "-n", ns, "--wait", "--timeout=8m")
	if res.ExitCode != 0 {
		t.Fatalf("update cluster of a cluster made before TLS:\n%s", res)
	}
	for _, want := range []string{"made by an earlier kubectl-pgo, brought up to date: ", "configmap/tls-ca", "configmap/tls-pgbackrest-config", "statefulset.apps/tls,", "statefulset.apps/tls-r1"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("update cluster does not say %q:\n%s", want, res.Stdout)
		}
	}
	t.Logf("update cluster took %s:\n%s", time.Since(start).Round(100*time.Millisecond), res.Stdout)
	if out, err := remote(clearText, "SELECT 1"); err == nil || !strings.Contains(out, "no encryption") {
		t.Errorf("after update cluster, clear text was not refused (%v):\n%s", err, out)
	}
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Errorf("after update cluster: checksum %s, want %s", got, want)
	}
	r, _ = doctorReport(t, env, ns, c.name, "--no-check")
	if tc := doctorStatus(t, r, "postgres TLS"); tc.Status != "ok" || !strings.Contains(tc.Detail, "only TLS from the network") {
		t.Errorf("doctor's TLS check after update cluster: %+v", tc)
	}
	replicasCaughtUp(t, c, want, "tls-r1-0")
	time.Sleep(1100 * time.Millisecond)
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgdump", "--wait"); res.ExitCode != 0 {
		t.Errorf("pgdump backup after update cluster failed:\n%s", res)
	}
	c.switchAndArchive(t)
	tl := c.one(t, timelineSQL)
	if gaps := c.walGapsOn(t, tl); len(gaps) > 0 {
		t.Errorf("WAL segments missing from the archive of timeline %s after update cluster: %v", tl, gaps)
	} else {
		t.Logf("the archive of timeline %s misses no WAL segment", tl)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
