package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
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

func TestRepoHostConfigCurrent(t *testing.T) {
	conf := "[global]\nrepo1-retention-full=1\n"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cluster.PGBackRestConfigMapName("hippo"), Namespace: "default"},
		Data: map[string]string{cluster.FileRepoConf: conf}}
	pod := func(name string, ready, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: cluster.RepoSelector("hippo")}}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{}
			p.Finalizers = []string{"test"}
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		pods   []*corev1.Pod
		seen   string // what cat prints
		done   bool
		status string
	}{
		{"new file", []*corev1.Pod{pod("new", true, false)}, conf, true, "repository host pod new reads the new /etc/pgbackrest/pgbackrest.conf"},
		{"old file", []*corev1.Pod{pod("new", true, false)}, "[global]\nrepo1-retention-full=2\n", false, "pod new still sees the old"},
		{"not ready yet", []*corev1.Pod{pod("new", false, false)}, conf, false, "no ready repository host pod"},
		{"only the old pod, terminating", []*corev1.Pod{pod("old", true, true)}, conf, false, "no ready repository host pod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(cm)
			for _, p := range tc.pods {
				if err := f.Clientset.Tracker().Add(p); err != nil {
					t.Fatal(err)
				}
			}
			c, err := newAPIClients(f)
			if err != nil {
				t.Fatal(err)
			}
			exec := func(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
				if container != cluster.ContainerPGBackRest || strings.Join(command, " ") != "cat /etc/pgbackrest/pgbackrest.conf" {
					t.Errorf("exec %s %v in %s", container, command, pod)
				}
				return tc.seen, "", nil
			}
			done, status, err := repoHostConfigCurrent(context.Background(), c, exec, "default", "hippo")
			if err != nil || done != tc.done || !strings.Contains(status, tc.status) {
				t.Errorf("got %v %q %v, want %v %q", done, status, err, tc.done, tc.status)
			}
		})
	}
}
