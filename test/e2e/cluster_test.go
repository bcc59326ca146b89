package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// The happy path on one cluster: create --wait, archiving, check, show, a
// second create, refused changes, mutual TLS, then delete. The steps share
// the cluster, so they run in order.
func TestCluster(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	const name = "hippo"

	start := time.Now()
	res := env.PGO(t, "-n", ns, "create", "cluster", name, "--wait", "--timeout=5m")
	took := time.Since(start)
	if res.ExitCode != 0 {
		dumpCluster(t, env, ns)
		t.Fatalf("create cluster --wait failed:\n%s", res)
	}
	t.Logf("create cluster --wait took %s:\n%s", took.Round(100*time.Millisecond), res.Stdout)
	for _, want := range []string{
		"statefulset.apps/hippo created\n", "deployment.apps/hippo-backrest-shared-repo created\n", "cluster hippo created\n",
		"persistentvolumeclaim/hippo and persistentvolumeclaim/hippo-pgbr-repo bound\n",
		"database pod hippo-0 ready\n", "stanza db created", "cluster hippo is ready",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("create --wait did not print %q", want)
		}
	}

	t.Run("pods ready and stanza created", func(t *testing.T) {
		db := podNamed(t, env, ns, cluster.PodName(name))
		repoPod := repoHostPod(t, env, ns, name)
		for _, p := range []*corev1.Pod{db, repoPod} {
			if !kube.IsPodReady(p) {
				t.Errorf("pod %s is not ready: %+v", p.Name, p.Status.Conditions)
			}
		}
		out := clusterExec(t, env, ns, repoPod.Name, "pgbackrest", "pgbackrest", "--stanza=db", "--output=json", "info")
		stanza := parseStanza(t, out)
		if err := stanza.Err(); err != nil {
			t.Errorf("stanza: %v", err)
		}
		if len(stanza.DB) != 1 || stanza.DB[0].Version != fmt.Sprint(cluster.DefaultPostgresVersion) {
			t.Errorf("the stanza knows databases %+v, want one PostgreSQL %d", stanza.DB, cluster.DefaultPostgresVersion)
		}
	})

	t.Run("WAL is archived", func(t *testing.T) {
		db := cluster.PodName(name)
		clusterExec(t, env, ns, db, "database", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
			"CREATE TABLE e2e (id int PRIMARY KEY, note text); INSERT INTO e2e SELECT g, md5(g::text) FROM generate_series(1, 1000) g;")
		clusterExec(t, env, ns, db, "database", "psql", "-XAtq", "-c", "SELECT pg_switch_wal()")
		var last string
		err := kube.WaitFor(context.Background(), time.Second, 90*time.Second, func(ctx context.Context) (bool, error) {
			// A failure is tolerated only before a later success: the first attempt may come
			// while the repository host still starts (seen once on PostgreSQL 18).
			last = clusterExec(t, env, ns, db, "database", "psql", "-XAt", "--csv", "-c",
				"SELECT archived_count, failed_count, coalesce(last_failed_time < last_archived_time, failed_count = 0)::int FROM pg_stat_archiver")
			var archived, failed, recovered int
			if _, err := fmt.Sscanf(strings.TrimSpace(last), "%d,%d,%d", &archived, &failed, &recovered); err != nil {
				return false, err
			}
			if archived >= 1 && recovered != 1 {
				return false, fmt.Errorf("failed_count = %d, the last attempt failed", failed)
			}
			return archived >= 1, nil
		})
		if err != nil {
			t.Fatalf("pg_stat_archiver (archived_count,failed_count = %s): %v", strings.TrimSpace(last), err)
		}
		t.Logf("pg_stat_archiver archived_count,failed_count = %s", strings.TrimSpace(last))
	})

	t.Run("pgbackrest check", func(t *testing.T) {
		// From the repository host, and from the database side.
		out, stderr := clusterExecBoth(t, env, ns, repoHostPod(t, env, ns, name).Name, "pgbackrest", "pgbackrest", "--stanza=db", "check")
		if !strings.Contains(out+stderr, "check command end: completed successfully") {
			t.Errorf("check on the repository host did not complete:\n%s%s", out, stderr)
		}
		clusterExec(t, env, ns, cluster.PodName(name), "pgbackrest", "pgbackrest", "--stanza=db", "check")
	})

	t.Run("show cluster", func(t *testing.T) {
		res := env.PGO(t, "-n", ns, "show", "cluster", name)
		if res.ExitCode != 0 {
			t.Fatalf("show cluster failed:\n%s", res)
		}
		t.Logf("show cluster:\n%s", res.Stdout)
		lines := strings.Split(res.Stdout, "\n")
		if fields := strings.Fields(lines[1]); len(fields) < 9 || fields[0] != name || fields[1] != "ready" || fields[2] != "local" ||
			fields[3] != "2/2" || fields[4] != "1/1" {
			t.Errorf("the summary row is %q", lines[1])
		}
		for _, want := range []string{"hippo-0 ", "database", "pgbackrest-repo", "Running"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("show cluster lacks %q", want)
			}
		}

		res = env.PGO(t, "-n", ns, "show", "cluster", name, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show cluster -o json failed:\n%s", res)
		}
		var info struct {
			Name, Namespace, Status, StorageType string
			Database                             struct {
				Pod   string
				Ready bool
			}
			RepoHost struct {
				Deployment, Pod, RepoPath string
				Ready                     bool
			}
			Pods []struct {
				Name, Component string
				Ready           bool
			}
			Stanza struct {
				Name, Status string
				Code         int
			}
			Archiving struct {
				ArchivedCount, FailedCount int64
				LastArchivedWAL            string
				LastArchivedTime           *time.Time
				Failing                    bool
			}
			Errors []string
		}
		if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil {
			t.Fatalf("show cluster -o json is not JSON: %v\n%s", err, res.Stdout)
		}
		switch {
		case info.Name != name || info.Namespace != ns || info.Status != "ready" || info.StorageType != "local":
			t.Errorf("name %q namespace %q status %q storage %q", info.Name, info.Namespace, info.Status, info.StorageType)
		case !info.Database.Ready || info.Database.Pod != "hippo-0":
			t.Errorf("database %+v", info.Database)
		case !info.RepoHost.Ready || info.RepoHost.Deployment != "hippo-backrest-shared-repo" || info.RepoHost.RepoPath != "/backrestrepo/hippo-backrest-shared-repo":
			t.Errorf("repository host %+v", info.RepoHost)
		case len(info.Pods) != 2:
			t.Errorf("pods %+v", info.Pods)
		case info.Stanza.Name != "db" || info.Stanza.Status != "no backups" || info.Stanza.Code != repo.StatusNoValidBackups:
			t.Errorf("stanza %+v", info.Stanza)
		case info.Archiving.ArchivedCount < 1 || info.Archiving.FailedCount != 0 || info.Archiving.Failing ||
			info.Archiving.LastArchivedWAL == "" || info.Archiving.LastArchivedTime == nil || time.Since(*info.Archiving.LastArchivedTime) > 10*time.Minute:
			t.Errorf("archiving %+v", info.Archiving)
		case len(info.Errors) != 0:
			t.Errorf("errors %v", info.Errors)
		}

		// -A lists it with its namespace, also as JSON.
		res = env.PGO(t, "show", "cluster", "-A")
		if res.ExitCode != 0 && !strings.Contains(res.Stdout, ns) {
			t.Fatalf("show cluster -A failed:\n%s", res)
		}
		found := false
		for _, line := range strings.Split(res.Stdout, "\n") {
			f := strings.Fields(line)
			found = found || (len(f) > 2 && f[0] == ns && f[1] == name && f[2] == "ready")
		}
		if !found {
			t.Errorf("show cluster -A does not list %s/%s as ready:\n%s", ns, name, res.Stdout)
		}
		res = env.PGO(t, "show", "cluster", "-A", "-o", "json")
		var list struct {
			Items []struct{ Name, Namespace, Status string }
		}
		if err := json.Unmarshal([]byte(res.Stdout), &list); err != nil {
			t.Fatalf("show cluster -A -o json is not JSON: %v\n%s", err, res)
		}
		if !slices.ContainsFunc(list.Items, func(i struct{ Name, Namespace, Status string }) bool {
			return i.Name == name && i.Namespace == ns && i.Status == "ready"
		}) {
			t.Errorf("show cluster -A -o json lacks %s/%s: %+v", ns, name, list.Items)
		}
	})

	t.Run("a second create is a no-op", func(t *testing.T) {
		before := clusterVersions(t, env, ns, name)
		res := env.PGO(t, "-n", ns, "create", "cluster", name)
		if res.ExitCode != 0 {
			t.Fatalf("second create failed:\n%s", res)
		}
		if !strings.HasSuffix(res.Stdout, "cluster hippo unchanged\n") || strings.Count(res.Stdout, " unchanged\n") != 14 {
			t.Errorf("second create did not say unchanged:\n%s", res.Stdout)
		}
		assertClusterUnchanged(t, before, clusterVersions(t, env, ns, name))
	})

	t.Run("settings that cannot change are refused", func(t *testing.T) {
		before := clusterVersions(t, env, ns, name)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--storage-size=2Gi"}, "the storage size is immutable: the cluster uses 1Gi, the request says 2Gi"},
			{[]string{"--pgbackrest-pvc-size=5Gi", "--image=example.com/postgres:15"}, "the repository PVC size is immutable"},
			{[]string{"--storage-class=other"}, "the storage class is immutable"},
			{[]string{"--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example", "--pgbackrest-s3-credentials-secret=keys"},
				"storage type is immutable: the cluster uses local, the request says s3"},
			{[]string{"--pgbackrest-storage-type=local,s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example", "--pgbackrest-s3-credentials-secret=keys"},
				"storage type is immutable: the cluster uses local, the request says local,s3"},
			{[]string{"--pgbackrest-repo-cipher=aes-256-cbc"}, "the repository cipher is immutable"},
		} {
			res := env.PGO(t, append([]string{"-n", ns, "create", "cluster", name}, tc.args...)...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("create %v: want a failure saying %q, got:\n%s", tc.args, tc.want, res)
			}
		}
		assertClusterUnchanged(t, before, clusterVersions(t, env, ns, name))
	})

	t.Run("a client certificate from another cluster is refused", func(t *testing.T) {
		testForeignCertificates(t, env, ns, name)
	})

	t.Run("delete asks first", func(t *testing.T) {
		before := clusterVersions(t, env, ns, name)
		res := env.PGO(t, "-n", ns, "delete", "cluster", name) // stdin is not a terminal
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "pass --yes") {
			t.Errorf("delete without --yes and without a terminal: %s", res)
		}
		assertClusterUnchanged(t, before, clusterVersions(t, env, ns, name))
	})

	t.Run("delete cluster", func(t *testing.T) {
		start := time.Now()
		res := env.PGO(t, "-n", ns, "delete", "cluster", name, "--yes")
		if res.ExitCode != 0 {
			t.Fatalf("delete cluster failed:\n%s", res)
		}
		t.Logf("delete cluster took %s:\n%s", time.Since(start).Round(100*time.Millisecond), res.Stdout)
		if left := clusterVersions(t, env, ns, name); len(left) != 0 {
			t.Errorf("objects left after delete: %v", left)
		}
		assertNoClusterObjects(t, env, ns)
		// The order: the database was waited for before the repository
		// host went.
		iSts, iWait, iDeploy := strings.Index(res.Stdout, "statefulset.apps/hippo deleted"),
			strings.Index(res.Stdout, "Waiting for the database pod to stop"), strings.Index(res.Stdout, "deployment.apps/hippo-backrest-shared-repo deleted")
		if iSts < 0 || iDeploy < iSts || (iWait >= 0 && iWait > iDeploy) {
			t.Errorf("the database was not stopped before the repository host:\n%s", res.Stdout)
		}
		res = env.PGO(t, "-n", ns, "delete", "cluster", name, "--yes")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "hippo" not found`) {
			t.Errorf("deleting it again: %s", res)
		}
	})
}

// delete --keep-backups keeps the repository PVC, its Secret and the
// settings; delete without it removes them too.
func TestClusterDeleteKeepBackups(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	const name = "keeper"

	start := time.Now()
	res := env.PGO(t, "-n", ns, "create", "cluster", name, "--wait", "--pgbackrest-storage-type=posix", "--storage-size=512Mi", "--cpu=100m", "--memory=128Mi")
	if res.ExitCode != 0 {
		dumpCluster(t, env, ns)
		t.Fatalf("create cluster --wait failed:\n%s", res)
	}
	t.Logf("create cluster --wait took %s", time.Since(start).Round(100*time.Millisecond))

	res = env.PGO(t, "-n", ns, "delete", "cluster", name, "--keep-backups", "--yes")
	if res.ExitCode != 0 {
		t.Fatalf("delete --keep-backups failed:\n%s", res)
	}
	t.Logf("delete --keep-backups:\n%s", res.Stdout)
	left := clusterVersions(t, env, ns, name)
	want := []string{"configmaps/keeper-pgo-config", "persistentvolumeclaims/keeper-pgbr-repo", "secrets/keeper-backrest-repo-config"}
	if got := versionKeys(left); !slices.Equal(got, want) {
		t.Errorf("left after delete --keep-backups: %v, want %v", got, want)
	}
	pvc, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), cluster.RepoPVCName(name), metav1.GetOptions{})
	if err != nil || pvc.DeletionTimestamp != nil || pvc.Status.Phase != corev1.ClaimBound {
		t.Errorf("the repository PVC is not kept bound: %v %+v", err, pvc)
	}

	// It cannot be created again over its backups.
	before := clusterVersions(t, env, ns, name)
	res = env.PGO(t, "-n", ns, "create", "cluster", name)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "keeper" was deleted with --keep-backups`) {
		t.Errorf("create over kept backups: want a refusal:\n%s", res)
	}
	if after := clusterVersions(t, env, ns, name); !maps.Equal(before, after) {
		t.Errorf("create over kept backups changed %v into %v", before, after)
	}

	// show cluster still knows it, as not running.
	res = env.PGO(t, "-n", ns, "show", "cluster", name, "-o", "json")
	var info struct{ Status, StorageType string }
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil || info.Status != "not running" || info.StorageType != "local" {
		t.Errorf("show cluster after delete --keep-backups: %v %+v\n%s", err, info, res)
	}

	res = env.PGO(t, "-n", ns, "delete", "cluster", name, "--yes")
	if res.ExitCode != 0 {
		t.Fatalf("delete failed:\n%s", res)
	}
	if left := clusterVersions(t, env, ns, name); len(left) != 0 {
		t.Errorf("objects left after delete: %v", left)
	}
	assertNoClusterObjects(t, env, ns)
}

// Bad input: a clear error, a non-zero exit, and nothing in the cluster.
func TestCreateClusterBadInput(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	long := "a-very-long-cluster-name-that-is-too-long-x" // 43 characters
	missingNS := "e2e-missing-namespace-" + strings.TrimPrefix(ns, "e2e-")[:6]

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"invalid name", []string{"create", "cluster", "Hippo_1"}, []string{`cluster name "Hippo_1" is not valid`}},
		{"name with a dot", []string{"create", "cluster", "hip.po"}, []string{`cluster name "hip.po" is not valid`}},
		{"too long name", []string{"create", "cluster", long}, []string{"is too long (43 characters)", "use a name of at most 42 characters"}},
		{"no name", []string{"create", "cluster"}, []string{"a cluster name is required"}},
		{"unknown storage type", []string{"create", "cluster", "hippo", "--pgbackrest-storage-type=ftp"}, []string{`storage type "ftp" is not known: use local`}},
		{"s3 without a bucket", []string{"create", "cluster", "hippo", "--pgbackrest-storage-type=s3"}, []string{"storage type s3 needs a bucket"}},
		{"negative size", []string{"create", "cluster", "hippo", "--storage-size=-1Gi"}, []string{`storage size "-1Gi" must be more than zero`}},
		{"unparsable size", []string{"create", "cluster", "hippo", "--pgbackrest-pvc-size=big"}, []string{`repository PVC size "big" is not a quantity`}},
		{"bad memory", []string{"create", "cluster", "hippo", "--memory=lots"}, []string{`database memory request "lots" is not valid`}},
		{"missing kubeconfig", []string{"--kubeconfig", "/nonexistent/kubeconfig", "create", "cluster", "hippo"},
			[]string{"cannot use the kubeconfig", "/nonexistent/kubeconfig", "no such file or directory"}},
		{"missing context", []string{"--context", "no-such-context", "create", "cluster", "hippo"},
			[]string{"cannot use the kubeconfig", `context "no-such-context" does not exist`}},
		{"missing namespace", []string{"-n", missingNS, "create", "cluster", "hippo"},
			[]string{fmt.Sprintf(`namespace %q does not exist`, missingNS)}},
		{"show: invalid name", []string{"show", "cluster", "Hippo"}, []string{`cluster name "Hippo" is not valid`}},
		{"show: unknown cluster", []string{"show", "cluster", "hippo"}, []string{`cluster "hippo" not found in namespace`}},
		{"show: missing namespace", []string{"-n", missingNS, "show", "cluster", "hippo"}, []string{fmt.Sprintf(`namespace %q does not exist`, missingNS)}},
		{"delete: unknown cluster", []string{"delete", "cluster", "hippo", "--yes"}, []string{`cluster "hippo" not found in namespace`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !slices.Contains(args, "-n") {
				args = append([]string{"-n", ns}, args...)
			}
			res := env.PGO(t, args...)
			if res.ExitCode == 0 {
				t.Fatalf("succeeded, want a failure:\n%s", res)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
				}
			}
			assertNoClusterObjects(t, env, ns)
		})
	}
	if _, err := env.Client.CoreV1().Namespaces().Get(context.Background(), missingNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s exists after the test: %v", missingNS, err)
	}

	t.Run("an object of the same name not made by kubectl-pgo", func(t *testing.T) {
		svc, err := env.Client.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "hippo", Labels: map[string]string{"app": "legacy"}},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res := env.PGO(t, "-n", ns, "create", "cluster", "hippo")
		want := fmt.Sprintf("Service %s/hippo already exists and was not created by kubectl-pgo", ns)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("want a refusal saying %q:\n%s", want, res)
		}
		if err := env.Client.CoreV1().Services(ns).Delete(context.Background(), svc.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		assertNoClusterObjects(t, env, ns)
	})

	t.Run("server dry run", func(t *testing.T) {
		res := env.PGO(t, "-n", ns, "create", "cluster", "hippo", "--dry-run=server", "-o", "yaml")
		if res.ExitCode != 0 {
			t.Fatalf("--dry-run=server failed:\n%s", res)
		}
		// The lines "---" only: the CA ConfigMap's PEM has lines that end in "---".
		if n := len(regexp.MustCompile(`(?m)^---$`).FindAllString(res.Stdout, -1)); n != 13 {
			t.Errorf("printed %d objects, want 13", n)
		}
		if !strings.Contains(res.Stdout, "uid: ") || !strings.Contains(res.Stderr, "cluster hippo created (server dry run)") {
			t.Errorf("the objects are not as the server would store them:\n%s", res)
		}
		assertNoClusterObjects(t, env, ns)
	})

	t.Run("client dry run needs no cluster", func(t *testing.T) {
		home := t.TempDir()
		res := runWithoutCluster(t, home, "create", "cluster", "hippo", "--dry-run=client", "-o", "yaml", "-n", "pg")
		if res.ExitCode != 0 {
			t.Fatalf("--dry-run=client without a kubeconfig failed:\n%s", res)
		}
		docs := strings.Split(strings.TrimPrefix(res.Stdout, "---\n"), "\n---\n")
		if len(docs) != 13 {
			t.Fatalf("printed %d objects, want 13", len(docs))
		}
		var sts unstructured.Unstructured
		for _, doc := range docs {
			var obj unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			if obj.GetNamespace() != "pg" {
				t.Errorf("%s %s in namespace %q, want pg", obj.GetKind(), obj.GetName(), obj.GetNamespace())
			}
			if obj.GetKind() == "StatefulSet" {
				sts = obj
			}
		}
		if sts.GetName() != "hippo" {
			t.Errorf("no StatefulSet hippo among the objects")
		}

		// Without a kubeconfig and without --dry-run=client: a clear error.
		res = runWithoutCluster(t, home, "create", "cluster", "hippo")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "no kubeconfig was found") {
			t.Errorf("create without any kubeconfig: %s", res)
		}
	})
}

// A user whom RBAC does not allow to create the objects gets a clear
// error naming what is missing, and nothing is created.
func TestCreateClusterForbidden(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)

	// Only get on ConfigMaps: everything else is missing, and said so.
	kubeconfig := limitedKubeconfig(t, env, ns, "configmap-reader", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
	})
	res := env.PGO(t, "--kubeconfig", kubeconfig, "-n", ns, "create", "cluster", "hippo")
	t.Logf("%s", res.Stderr)
	want := `forbidden: you may not create cluster "hippo" in namespace "` + ns + `"; missing permissions: ` +
		"get deployments.apps, get persistentvolumeclaims, get secrets, get services, get statefulsets.apps, " +
		"patch configmaps, patch deployments.apps, patch persistentvolumeclaims, patch secrets, patch services, patch statefulsets.apps"
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("want %q:\n%s", want, res)
	}
	assertNoClusterObjects(t, env, ns)

	// --wait also needs to read pods and exec into them.
	res = env.PGO(t, "--kubeconfig", kubeconfig, "-n", ns, "create", "cluster", "hippo", "--wait")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "create pods/exec") || !strings.Contains(res.Stderr, "list pods") {
		t.Errorf("--wait: want pods/exec and list pods among the missing permissions:\n%s", res)
	}
	assertNoClusterObjects(t, env, ns)

	// Reads allowed, writes not: the missing permissions are listed
	// before the first write.
	kubeconfig = limitedKubeconfig(t, env, ns, "reader", []rbacv1.PolicyRule{
		{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"patch"}},
	})
	res = env.PGO(t, "--kubeconfig", kubeconfig, "-n", ns, "create", "cluster", "hippo")
	t.Logf("%s", res.Stderr)
	want = "missing permissions: patch deployments.apps, patch persistentvolumeclaims, patch services, patch statefulsets.apps"
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "forbidden: you may not create cluster") || !strings.Contains(res.Stderr, want) {
		t.Errorf("want %q:\n%s", want, res)
	}
	assertNoClusterObjects(t, env, ns)
}

// testForeignCertificates runs pgBackRest in a pod of its own against both
// TLS servers of the cluster: with the cluster's own client certificates it
// works, with certificates of another CA (made like another cluster's,
// with the same names) each server refuses them.
func testForeignCertificates(t *testing.T, env *framework.Env, ns, name string) {
	ctx := context.Background()
	foreign, err := cluster.NewPKI(name, ns, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	own, err := env.Client.CoreV1().Secrets(ns).Get(ctx, cluster.RepoConfigSecretName(name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The client trusts the cluster's CA, so that the TLS handshake
	// reaches the server's check of the client certificate.
	_, err = env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tls-client"},
		Data: map[string][]byte{
			"ca.crt":          own.Data[cluster.KeyCACert],
			"own-db.crt":      own.Data[cluster.KeyDBCert],
			"own-db.key":      own.Data[cluster.KeyDBKey],
			"own-repo.crt":    own.Data[cluster.KeyRepoCert],
			"own-repo.key":    own.Data[cluster.KeyRepoKey],
			"foreign-db.crt":  foreign.DBCert,
			"foreign-db.key":  foreign.DBKey,
			"foreign-rep.crt": foreign.RepoCert,
			"foreign-rep.key": foreign.RepoKey,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Pod(t, ns, "tls-client", nil, []string{"sleep", "3600"}, func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](26)}
		p.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "tls-client", DefaultMode: ptr.To[int32](0o440)}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "tls", MountPath: "/tls"}}
	})
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Pods(ns).Delete(ctx, "tls-client", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		_ = env.Client.CoreV1().Secrets(ns).Delete(ctx, "tls-client", metav1.DeleteOptions{})
	})
	common := []string{"pgbackrest", "--stanza=db", "--log-level-file=off", "--lock-path=/tmp", "--log-path=/tmp"}

	// The repository host's server, as the database side dials it.
	info := func(cert string) repo.Stanza {
		args := append(slices.Clone(common),
			"--repo1-host="+cluster.RepoHostName(name), "--repo1-host-type=tls", "--repo1-host-ca-file=/tls/ca.crt",
			"--repo1-host-cert-file=/tls/"+cert+".crt", "--repo1-host-key-file=/tls/"+cert+".key",
			"--repo1-path="+cluster.DefaultRepoPath(name), "--output=json", "info")
		// info exits 0 even when refused: the status says it.
		return parseStanza(t, clusterExec(t, env, ns, "tls-client", "main", args...))
	}
	if s := info("own-db"); s.Err() != nil {
		t.Fatalf("the cluster's own database certificate is refused by the repository host: %v", s.Err())
	}
	s := info("foreign-db")
	t.Logf("repository host, foreign certificate: %v", s.Err())
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "unknown ca") {
		t.Errorf("the repository host accepted a certificate of another CA, or said something else: %v", s.Err())
	}

	// The database side's server, as the repository host dials it.
	stanzaCreate := func(cert string) (string, error) {
		args := append(slices.Clone(common), "--log-level-console=info",
			"--pg1-host="+cluster.ServiceName(name), "--pg1-host-type=tls", "--pg1-host-ca-file=/tls/ca.crt",
			"--pg1-host-cert-file=/tls/"+cert+".crt", "--pg1-host-key-file=/tls/"+cert+".key",
			"--pg1-path="+cluster.DataDirectory(name), "--repo1-path=/tmp/repo-"+cert, "stanza-create")
		out, stderr, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, "tls-client", "main", args)
		return out + stderr, err
	}
	if out, err := stanzaCreate("own-repo"); err != nil {
		t.Fatalf("the cluster's own repository certificate is refused by the database side: %v\n%s", err, out)
	}
	out, err := stanzaCreate("foreign-rep")
	t.Logf("database side, foreign certificate: %v", err)
	if err == nil || !strings.Contains(out, "unknown ca") {
		t.Errorf("the database side accepted a certificate of another CA, or said something else: %v\n%s", err, out)
	}
}

// limitedKubeconfig makes a ServiceAccount with a Role of rules in ns, and
// a kubeconfig that authenticates as it with a token from the TokenRequest
// API.
func limitedKubeconfig(t *testing.T, env *framework.Env, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := env.Config.CAData
	if len(ca) == 0 && env.Config.CAFile != "" {
		if ca, err = os.ReadFile(env.Config.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	config := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "limited",
		"clusters": []any{map[string]any{"name": "local", "cluster": map[string]any{
			"server": env.Config.Host, "certificate-authority-data": ca}}},
		"users":    []any{map[string]any{"name": name, "user": map[string]any{"token": token.Status.Token}}},
		"contexts": []any{map[string]any{"name": "limited", "context": map[string]any{"cluster": "local", "user": name, "namespace": ns}}},
	}
	data, err := yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runWithoutCluster runs kubectl pgo with no kubeconfig at all: KUBECONFIG
// unset, and an empty HOME.
func runWithoutCluster(t *testing.T, home string, args ...string) framework.Result {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"pgo"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		res.ExitCode = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ (no kubeconfig) kubectl pgo %s -> exit %d", strings.Join(args, " "), res.ExitCode)
	framework.Record(args, res)
	return res
}

func clusterDynamic(t *testing.T, env *framework.Env) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// clusterVersions are the clusterVersions of the cluster's objects
// (those delete looks for, without pods), by resource/name.
func clusterVersions(t *testing.T, env *framework.Env, ns, name string) map[string]string {
	t.Helper()
	dyn := clusterDynamic(t, env)
	out := map[string]string{}
	for _, gvr := range cluster.ManagedResources {
		if gvr.Resource == "pods" {
			continue
		}
		list, err := dyn.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: cluster.ManagedSelector(name).String()})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		for _, item := range list.Items {
			out[gvr.Resource+"/"+item.GetName()] = item.GetResourceVersion()
		}
	}
	return out
}

func assertClusterUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) != 13 {
		t.Errorf("the cluster has %d objects, want 13: %v", len(before), before)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: resourceVersion %s, now %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared", k)
		}
	}
}

// assertNoClusterObjects checks that the namespace holds none of the kinds
// a cluster is made of, beyond what Kubernetes puts in every namespace
// (the test's own ServiceAccounts and RBAC are not looked at). Objects
// being deleted get 30 seconds to go.
func assertNoClusterObjects(t *testing.T, env *framework.Env, ns string) {
	t.Helper()
	dyn := clusterDynamic(t, env)
	var left []string
	_ = kube.WaitFor(context.Background(), time.Second, 30*time.Second, func(ctx context.Context) (bool, error) {
		left = nil
		for _, gvr := range append(slices.Clone(cluster.ManagedResources), schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}) {
			list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, item := range list.Items {
				if gvr.Resource == "configmaps" && item.GetName() == "kube-root-ca.crt" {
					continue
				}
				left = append(left, gvr.Resource+"/"+item.GetName())
			}
		}
		return len(left) == 0, nil
	})
	if len(left) > 0 {
		t.Errorf("left in namespace %s: %v", ns, left)
	}
}

func podNamed(t *testing.T, env *framework.Env, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func repoHostPod(t *testing.T, env *framework.Env, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := kube.FindRunningPod(context.Background(), env.Client, ns, cluster.RepoSelector(name).String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clusterExec runs a command in a container and fails the test if it fails.
func clusterExec(t *testing.T, env *framework.Env, ns, pod, container string, command ...string) string {
	t.Helper()
	out, _ := clusterExecBoth(t, env, ns, pod, container, command...)
	return out
}

func clusterExecBoth(t *testing.T, env *framework.Env, ns, pod, container string, command ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, stderr, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, pod, container, command)
	if err != nil {
		t.Fatalf("exec %v in %s/%s: %v\n%s", command, pod, container, err, out)
	}
	return out, stderr
}

func parseStanza(t *testing.T, out string) repo.Stanza {
	t.Helper()
	stanzas, err := repo.ParseInfo([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s, ok := repo.Find(stanzas, repo.StanzaName)
	if !ok {
		t.Fatalf("pgbackrest info does not list stanza db:\n%s", out)
	}
	return s
}

func versionKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dumpCluster logs the state of the namespace's pods, for a failed create.
func dumpCluster(t *testing.T, env *framework.Env, ns string) {
	t.Helper()
	res := env.Run(t, "kubectl", "-n", ns, "get", "all,pvc,events")
	t.Logf("%s", res.Stdout)
	res = env.Run(t, "kubectl", "-n", ns, "logs", "--all-containers", "--prefix", "-l", "pg-cluster", "--tail=50")
	t.Logf("%s", res.Stdout)
}
