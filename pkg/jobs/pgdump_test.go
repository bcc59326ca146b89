package jobs

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Set KPGO_UPDATE_GOLDEN=1 to rewrite the golden files.

var update = flag.Bool("update", false, "rewrite testdata/*.yaml with the rendered objects")

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rendered object:\n%s", path, got)
	}
}

func TestPGDumpJobGolden(t *testing.T) {
	job := PGDumpJob{
		Cluster: "hippo", Namespace: "pgo", Image: "ghcr.io/kubectl-pgo/postgres:15", Database: "app",
		Options: []string{"--table=orders", "--no-owner"}, PVC: "backup-hippo-pgdump-pvc",
		Time: time.Date(2026, 11, 24, 12, 0, 5, 0, time.UTC), Suffix: "x7k2p",
	}.Render()
	checkGolden(t, "pgdump-job.yaml", job)
	if got := job.Annotations[AnnotationPGDumpPath]; got != "/pgdump/hippo-backups/2026-11-24-12-00-05/app.dump" {
		t.Errorf("path = %q", got)
	}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "PGPASSWORD" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "hippo-postgres-secret") {
			t.Errorf("PGPASSWORD does not come from the Secret: %+v", e)
		}
	}
	if strings.Contains(strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "), "password") {
		t.Error("the command line mentions a password")
	}
	if job.Spec.TTLSecondsAfterFinished != nil {
		t.Error("a pgdump Job must be kept: it records the dump")
	}
}

func TestPGDumpAllAndRestoreGolden(t *testing.T) {
	all := PGDumpJob{Cluster: "hippo", Namespace: "pgo", Image: "img", Database: "postgres", All: true, PVC: "p",
		Time: time.Date(2026, 11, 24, 12, 0, 5, 0, time.UTC), Suffix: "abcde"}.Render()
	if got := all.Annotations[AnnotationPGDumpPath]; got != "/pgdump/hippo-backups/2026-11-24-12-00-05/all.sql" {
		t.Errorf("path = %q", got)
	}
	restore := PGDumpRestoreJob{Cluster: "hippo", Namespace: "pgo", Image: "ghcr.io/kubectl-pgo/postgres:15", Database: "app",
		Path: "/pgdump/hippo-backups/2026-11-24-12-00-05/app.dump", PVC: "backup-hippo-pgdump-pvc", Suffix: "x7k2p"}.Render()
	checkGolden(t, "pgdump-restore-job.yaml", restore)
	psql := PGDumpRestoreJob{Cluster: "hippo", Database: "postgres", Path: "/pgdump/a/all.sql", All: true}.Command()
	if script := strings.Join(psql, " "); !strings.Contains(script, "| psql -X") || !strings.Contains(script, "/pgdump/a/all.sql postgres") {
		t.Errorf("a dump-all is restored with psql, got %q", psql)
	}
}

// A base backup Job runs beside the database, so that its PVC, when node-local, is on the node
// of the data PVC, and a restore can mount both.
func TestPGBaseBackupJobBesideDatabase(t *testing.T) {
	job := PGBaseBackupJob{Cluster: "hippo", Namespace: "pgo", Image: "img", PVC: "p"}.Render()
	a := job.Spec.Template.Spec.Affinity
	if a == nil || a.PodAffinity == nil || len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity = %+v, want one required pod affinity term", a)
	}
	term := a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" || !reflect.DeepEqual(term.LabelSelector.MatchLabels, map[string]string(cluster.DatabaseSelector("hippo"))) {
		t.Errorf("affinity term = %+v, want the database pod of hippo on the same host", term)
	}
}
