package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// executeUpdate runs update cluster with args against f.
func executeUpdate(t *testing.T, f *kubefake.Factory, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewUpdateClusterOptions(streams)
	o.exec = func(context.Context, string, string, string, []string) (string, string, error) {
		t.Error("exec was called")
		return "", "", errors.New("no exec in this test")
	}
	cmd := newCmdUpdateCluster(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// createdCluster is a fake factory holding the objects of create cluster
// hippo (args), visible to both the typed and the dynamic client.
func createdCluster(t *testing.T, args ...string) *kubefake.Factory {
	t.Helper()
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	if _, _, err := executeCreate(t, f, append([]string{"hippo"}, args...)...); err != nil {
		t.Fatal(err)
	}
	mirrorToTyped(t, f)
	f.Clientset.ClearActions()
	f.Dynamic.ClearActions()
	return f
}

// pgbackrestConfig is a file of the pgBackRest ConfigMap, as stored.
func pgbackrestConfig(t *testing.T, f *kubefake.Factory, file string) string {
	t.Helper()
	cm, err := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").
		Get(context.Background(), cluster.PGBackRestConfigMapName("hippo"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := cm.Object["data"].(map[string]any)
	s, _ := data[file].(string)
	return s
}

func TestUpdateClusterRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--pgbackrest-repo-retention-full=1"}, "a cluster name is required"},
		{"two names", []string{"a", "b", "--pgbackrest-repo-retention-full=1"}, "takes one cluster name, got 2 arguments"},
		{"nothing to change", []string{"hippo"}, "nothing to update: give at least one setting"},
		{"only wait", []string{"hippo", "--wait=false"}, "nothing to update"},
		{"zero retention", []string{"hippo", "--pgbackrest-repo-retention-full=0"}, "--pgbackrest-repo-retention-full=0 is not valid: keep at least 1 full backup"},
		{"negative retention", []string{"hippo", "--pgbackrest-repo-retention-full=-1"}, "--pgbackrest-repo-retention-full=-1 is not valid"},
		{"negative diff retention", []string{"hippo", "--pgbackrest-repo-retention-diff=-3"}, "--pgbackrest-repo-retention-diff=-3 is not valid"},
		{"unknown retention type", []string{"hippo", "--pgbackrest-repo-retention-full-type=weekly"}, `full backup retention type "weekly" is not known`},
		{"bad cpu", []string{"hippo", "--cpu=lots"}, `database CPU request "lots" is not valid`},
		{"bad dry run", []string{"hippo", "--cpu=1", "--dry-run=yes"}, `invalid --dry-run value "yes"`},
		{"bad output", []string{"hippo", "--cpu=1", "-o", "wide"}, `invalid output format "wide"`},
		{"wait with dry run", []string{"hippo", "--cpu=1", "--wait", "--dry-run=client"}, "--wait cannot be used with --dry-run"},
		{"zero timeout", []string{"hippo", "--cpu=1", "--timeout=0s"}, "invalid --timeout 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory()
			_, _, err := executeUpdate(t, f, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			assertNoRequests(t, f)
		})
	}
}

// Refusals that need the cluster: each says why, and nothing is written.
func TestUpdateClusterRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing cluster", []string{"nope", "--pgbackrest-repo-retention-full=1"},
			[]string{`cluster "nope" not found in namespace "default" (there is no ConfigMap nope-pgo-config)`, "kubectl pgo create cluster nope"}},
		{"immutable size", []string{"hippo", "--storage-size=5Gi", "--pgbackrest-repo-retention-full=1"},
			[]string{`cluster "hippo" cannot be updated: these settings cannot change; nothing was changed`,
				"the storage size is immutable: the cluster uses 1Gi, the request says 5Gi"}},
		{"immutable storage type", []string{"hippo", "--pgbackrest-storage-type=gcs"}, []string{`storage type "gcs" is not known`}},
		{"request over the stored limit", []string{"hippo", "--cpu=4"},
			[]string{`the new settings of cluster "hippo" are not valid; nothing was changed`, "database CPU request 4 is more than its limit 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := createdCluster(t, "--cpu-limit=2")
			_, _, err := executeUpdate(t, f, tc.args...)
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", err, want)
				}
			}
			if w := writes(f); len(w) != 0 {
				t.Errorf("writes despite the refusal: %v", w)
			}
		})
	}
}

func TestUpdateClusterRetention(t *testing.T) {
	f := createdCluster(t)

	// The stored value: nothing to do.
	out, _, err := executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-full=2")
	if err != nil || out != "cluster hippo unchanged: its settings already are those given\n" {
		t.Fatalf("update to the stored retention: %v\n%s", err, out)
	}
	if w := writes(f); len(w) != 0 {
		t.Fatalf("writes for no change: %v", w)
	}

	// A client dry run prints the objects that change and writes nothing.
	out, errOut, err := executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-full=1", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: hippo-pgo-config\n", "name: hippo-pgbackrest-config\n", "name: hippo-backrest-shared-repo\n", "repo1-retention-full=1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run's objects lack %q", want)
		}
	}
	if n := strings.Count(out, "---\n"); n != 3 {
		t.Errorf("the dry run printed %d objects, want the 3 that change:\n%s", n, out)
	}
	if !strings.Contains(errOut, "retentionFull: 2 -> 1\n") {
		t.Errorf("the dry run does not say what changes:\n%s", errOut)
	}
	if w := writes(f); len(w) != 0 {
		t.Fatalf("a client dry run wrote: %v", w)
	}

	// The real update applies the same three objects; the database's
	// configuration, and so its pod, stay as they were.
	dbConf := pgbackrestConfig(t, f, cluster.FileDatabaseConf)
	out, _, err = executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-full=1", "--pgbackrest-repo-retention-full-type=time",
		"--pgbackrest-repo-retention-diff=3", "--wait=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"retentionDiff: (none) -> 3\n", "retentionFull: 2 -> 1\n", "retentionFullType: count -> time\n",
		"the repository host restarts to read the new configuration\n",
		"configmap/hippo-pgo-config configured\n", "configmap/hippo-pgbackrest-config configured\n",
		"deployment.apps/hippo-backrest-shared-repo configured\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "statefulset") || strings.Contains(out, "database pod") {
		t.Errorf("a retention change touched the database:\n%s", out)
	}
	if got := writes(f); len(got) != 3 {
		t.Errorf("writes = %v, want 3 applies", got)
	}
	repoConf := pgbackrestConfig(t, f, cluster.FileRepoConf)
	for _, want := range []string{"repo1-retention-full=1\n", "repo1-retention-full-type=time\n", "repo1-retention-diff=3\n"} {
		if !strings.Contains(repoConf, want) {
			t.Errorf("repo.conf lacks %q:\n%s", want, repoConf)
		}
	}
	if got := pgbackrestConfig(t, f, cluster.FileDatabaseConf); got != dbConf {
		t.Errorf("db.conf changed:\n%s", got)
	}
}

// A resource change restarts the database pod, not the repository host.
func TestUpdateClusterResources(t *testing.T) {
	f := createdCluster(t)
	out, _, err := executeUpdate(t, f, "hippo", "--memory-limit=1Gi", "--dry-run=server")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resources.memoryLimit: (none) -> 1Gi\n", "the database pod restarts", "statefulset.apps/hippo configured (server dry run)\n", "cluster hippo updated (server dry run)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "deployment") {
		t.Errorf("a database resource change touched the repository host:\n%s", out)
	}
}
