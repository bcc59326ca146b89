package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// createdCluster is a fake API server holding the objects of cluster
// hippo made by Create with set, visible to both the typed and the
// dynamic client.
func createdCluster(t *testing.T, set func(*cluster.Spec, *Given)) *kubefake.Factory {
	t.Helper()
	f := createdFactory()
	if _, _, err := runCreate(f, newCreate(t, set)); err != nil {
		t.Fatal(err)
	}
	f.MirrorToTyped(t)
	f.ClearActions()
	return f
}

// newUpdate are the options of update cluster hippo with the settings
// set gives, waiting as update does by default; exec fails the test.
func newUpdate(t *testing.T, set func(*cluster.Spec, *Given)) UpdateOptions {
	t.Helper()
	o := UpdateOptions{Request: newCreate(t, set).Request, Exec: func(context.Context, string, string, string, []string) (string, string, error) {
		t.Error("exec was called")
		return "", "", errors.New("no exec in this test")
	}}
	o.Wait = true
	return o
}

// runUpdate runs Update against f, and returns what it wrote to stdout
// and stderr.
func runUpdate(f *kubefake.Factory, o UpdateOptions) (string, string, error) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	o.Out, o.ErrOut = out, errOut
	err := Update(context.Background(), clients(f), o)
	return out.String(), errOut.String(), err
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

func retentionFull(n int) func(*cluster.Spec, *Given) {
	return func(s *cluster.Spec, g *Given) { s.RetentionFull, g.RetentionFull = n, true }
}

// Refusals that need the cluster: each says why, and nothing is written.
func TestUpdateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*cluster.Spec, *Given)
		want []string
	}{
		{"missing cluster", func(s *cluster.Spec, g *Given) { s.Name = "nope"; retentionFull(1)(s, g) },
			[]string{`cluster "nope" not found in namespace "default" (there is no ConfigMap nope-pgo-config)`, "kubectl pgo create cluster nope"}},
		{"immutable size", func(s *cluster.Spec, g *Given) { s.StorageSize, g.StorageSize = "5Gi", true; retentionFull(1)(s, g) },
			[]string{`cluster "hippo" cannot be updated: these settings cannot change; nothing was changed`,
				"the storage size is immutable: the cluster uses 1Gi, the request says 5Gi"}},
		{"request over the stored limit", func(s *cluster.Spec, g *Given) { s.Resources.CPURequest, g.CPU = "4", true },
			[]string{`the new settings of cluster "hippo" are not valid; nothing was changed`, "database CPU request 4 is more than its limit 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := createdCluster(t, func(s *cluster.Spec, g *Given) { s.Resources.CPULimit, g.CPULimit = "2", true })
			_, _, err := runUpdate(f, newUpdate(t, tc.set))
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", err, want)
				}
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("writes despite the refusal: %v", w)
			}
		})
	}
}

func TestUpdateRetention(t *testing.T) {
	f := createdCluster(t, nil)

	// The stored value: nothing to do.
	out, _, err := runUpdate(f, newUpdate(t, retentionFull(2)))
	if err != nil || out != "cluster hippo unchanged: its settings already are those given\n" {
		t.Fatalf("update to the stored retention: %v\n%s", err, out)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Fatalf("writes for no change: %v", w)
	}

	// A client dry run prints the objects that change and writes nothing.
	o := newUpdate(t, retentionFull(1))
	o.DryRun, o.Output, o.Wait = apply.DryRunClient, "yaml", false
	out, errOut, err := runUpdate(f, o)
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
	if w := f.Writes(); len(w) != 0 {
		t.Fatalf("a client dry run wrote: %v", w)
	}

	// The real update applies the same three objects; the database's
	// configuration, and so its pod, stay as they were.
	dbConf := pgbackrestConfig(t, f, cluster.FileDatabaseConf)
	o = newUpdate(t, func(s *cluster.Spec, g *Given) {
		s.RetentionFull, g.RetentionFull = 1, true
		s.RetentionFullType, g.RetentionFullType = "time", true
		s.RetentionDiff, g.RetentionDiff = 3, true
	})
	o.Wait = false
	out, _, err = runUpdate(f, o)
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
	if got := f.Writes(); len(got) != 3 {
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
func TestUpdateResources(t *testing.T) {
	f := createdCluster(t, nil)
	o := newUpdate(t, func(s *cluster.Spec, g *Given) { s.Resources.MemoryLimit, g.MemoryLimit = "1Gi", true })
	o.DryRun, o.Wait = apply.DryRunServer, false
	out, _, err := runUpdate(f, o)
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

// A cluster made by an earlier kubectl-pgo (no CA ConfigMap, a pg_hba.conf
// without TLS, pods made from those files) is brought up to date by update
// without any setting given, and the database pod restarts; then nothing
// is left to do.
func TestUpdateOutdated(t *testing.T) {
	f := createdCluster(t, nil)
	ctx := context.Background()
	cms := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default")
	if err := cms.Delete(ctx, cluster.CAConfigMapName("hippo"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cms.Get(ctx, cluster.PGBackRestConfigMapName("hippo"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Object["data"].(map[string]any)[cluster.FileHBAConf] = "host all all all scram-sha-256\n"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sts := f.Dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}).Namespace("default")
	s, err := sts.Get(ctx, "hippo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(s.Object, "old", "spec", "template", "metadata", "annotations", cluster.AnnotationConfigHash); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.ClearActions()

	o := newUpdate(t, nil)
	o.Wait = false
	out, _, err := runUpdate(f, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"made by an earlier kubectl-pgo, brought up to date: configmap/hippo-ca, configmap/hippo-pgbackrest-config, statefulset.apps/hippo\n",
		"the database pod restarts to read the new configuration\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := f.Writes(); len(got) != 3 {
		t.Errorf("writes = %v, want 3 applies", got)
	}
	if hba := pgbackrestConfig(t, f, cluster.FileHBAConf); !strings.Contains(hba, "hostssl all") {
		t.Errorf("pg_hba.conf was not brought up to date:\n%s", hba)
	}
	if _, err := cms.Get(ctx, cluster.CAConfigMapName("hippo"), metav1.GetOptions{}); err != nil {
		t.Errorf("the CA ConfigMap was not made: %v", err)
	}

	f.ClearActions()
	out, _, err = runUpdate(f, o)
	if err != nil || out != "cluster hippo unchanged: its settings already are those given\n" {
		t.Errorf("a second update: %v\n%s", err, out)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes for no change: %v", w)
	}
}
