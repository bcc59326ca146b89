package restore

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
)

func TestDrillName(t *testing.T) {
	long := strings.Repeat("a", cluster.MaxNameLength()-2) + "-b"
	for _, tc := range []struct{ name, want string }{
		{"hippo", "hippo-drill-xyz12"},
		{long, long[:cluster.MaxNameLength()-len("-drill-xyz12")] + "-drill-xyz12"},
		// A shortened name does not end in a dash.
		{strings.Repeat("a", cluster.MaxNameLength()-13) + "-bbbbbb", strings.Repeat("a", cluster.MaxNameLength()-13) + "-drill-xyz12"},
	} {
		got := DrillName(tc.name, "xyz12")
		if got != tc.want {
			t.Errorf("DrillName(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if err := cluster.ValidateName(got); err != nil {
			t.Errorf("DrillName(%q) = %q: %v", tc.name, got, err)
		}
	}
}

// A cluster without backups is refused before anything is created.
func TestDrillNoBackups(t *testing.T) {
	fx := fakecluster.New(t)
	info, err := os.ReadFile("../repo/testdata/info-empty-stanza.json")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(_ context.Context, _, _, _ string, command []string) (string, string, error) {
		if slices.Contains(command, "info") {
			return string(info), "", nil
		}
		if command[0] == "psql" { // what the source's database saw archived
			return fakecluster.ArchiverOK, "", nil
		}
		t.Errorf("unexpected exec %q", command)
		return "", "", nil
	}
	src := cluster.Spec{Name: "hippo", Namespace: "pgo"}
	src = fakecluster.Defaulted(src)
	var progress bytes.Buffer
	d := &Drill{
		Clients: &apply.Clients{Config: fx.Factory.Config, Client: fx.Factory.Clientset, Dynamic: fx.Factory.Dynamic, Mapper: fx.Factory.Mapper},
		Exec:    exec, Progress: &progress,
		Name: "hippo", Namespace: "pgo", DrillName: "hippo-drill-abcde",
		Source: src, Spec: DrillSpec("hippo-drill-abcde", "pgo", &src),
		Database: "postgres", Timeout: time.Minute, PollInterval: time.Millisecond,
	}
	report, err := d.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `cluster "hippo" has no backups`) || !strings.Contains(err.Error(), "kubectl pgo backup hippo") ||
		!strings.Contains(err.Error(), "Nothing was created") {
		t.Fatalf("error = %v", err)
	}
	if report != nil {
		t.Errorf("a report without a drill: %+v", report)
	}
	for _, a := range append(fx.Factory.Clientset.Actions(), fx.Factory.Dynamic.Actions()...) {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("a refused drill sent %s %s", v, a.GetResource().Resource)
		}
	}
}

// countTables reads the databases and each one's counts; the report
// sums them.
func TestDrillCountTables(t *testing.T) {
	exec := func(_ context.Context, _, _, container string, command []string) (string, string, error) {
		if container != cluster.ContainerDatabase {
			t.Errorf("exec in container %s", container)
		}
		switch {
		case slices.Contains(command, "--command="+drillDatabasesQuery):
			return `["app", "postgres"]` + "\n", "", nil
		case slices.Contains(command, "--dbname=app"):
			return `[{"schema" : "public", "table" : "odd name", "rows" : 1}, {"schema" : "s", "table" : "p", "rows" : 100}]` + "\n", "", nil
		case slices.Contains(command, "--dbname=postgres"):
			return `[{"schema" : "public", "table" : "t", "rows" : 1234}]` + "\n", "", nil
		}
		t.Errorf("unexpected exec %q", command)
		return "", "", nil
	}
	d := &Drill{Exec: exec, Namespace: "default", DrillName: "hippo-drill-abcde"}
	var report DrillReport
	if err := d.countTables(context.Background(), cluster.PodName(d.DrillName), &report); err != nil {
		t.Fatal(err)
	}
	if report.Tables != 3 || report.Rows != 1335 || len(report.Databases) != 2 || report.Databases[0].Name != "app" || report.Databases[1].Tables[0] != (DrillTable{"public", "t", 1234}) {
		t.Errorf("report = %+v", report)
	}
	want := []DrillDatabase{
		{Name: "app", Tables: []DrillTable{{"public", "odd name", 1}, {"s", "p", 100}}},
		{Name: "postgres", Tables: []DrillTable{{"public", "t", 1234}}},
	}
	if !slices.EqualFunc(report.Databases, want, func(a, b DrillDatabase) bool { return a.Name == b.Name && slices.Equal(a.Tables, b.Tables) }) {
		t.Errorf("databases = %+v, want %+v", report.Databases, want)
	}
}

// The temporary cluster goes as delete cluster --yes deletes it, its
// progress on Progress; what is not the drill's stays.
func TestDrillCleanup(t *testing.T) {
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "pgo", Labels: cluster.Labels("hippo-drill-abcde", component), UID: types.UID("uid-" + name)}
	}
	f := kubefake.NewFactory(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pgo"}},
		&corev1.Service{ObjectMeta: meta("hippo-drill-abcde", cluster.ComponentDatabase)},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("hippo-drill-abcde", cluster.ComponentDatabase)},
		&corev1.ConfigMap{ObjectMeta: meta("hippo-drill-abcde-pgo-config", cluster.ComponentConfig)},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "pgo", Labels: cluster.Labels("hippo", cluster.ComponentDatabase)}},
	)
	f.AllowAccess()
	var progress bytes.Buffer
	c := &apply.Clients{Config: f.Config, Client: f.Clientset, Dynamic: f.Dynamic, Mapper: f.Mapper}
	d := &Drill{Clients: c, Progress: &progress, Name: "hippo", Namespace: "pgo", DrillName: "hippo-drill-abcde"}
	if err := d.cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"service/hippo-drill-abcde deleted", "persistentvolumeclaim/hippo-drill-abcde deleted",
		"configmap/hippo-drill-abcde-pgo-config deleted", "cluster hippo-drill-abcde deleted"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if doomed, _, err := lifecycle.Find(context.Background(), c, "pgo", "hippo-drill-abcde", false); err != nil || len(doomed) != 0 {
		t.Errorf("left: %v %v", lifecycle.Refs(doomed), err)
	}
	if _, err := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace("pgo").Get(context.Background(), "hippo", metav1.GetOptions{}); err != nil {
		t.Errorf("the source's Service: %v", err)
	}
}
