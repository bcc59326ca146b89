package cmd

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/restore"
)

// runRestoreDrill runs `restore-drill` with args against f.
func runRestoreDrill(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewRestoreDrillOptions(streams)
	o.exec = exec
	o.suffix = func() string { return "abcde" }
	err := runCommand(newCmdRestoreDrill(f, o), args...)
	return out.String(), errOut.String(), err
}

// Bad input is refused before any request.
func TestRestoreDrillBadInputSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", nil, "a cluster name is required: restore-drill NAME"},
		{"two names", []string{"a", "b"}, "restore-drill takes one cluster name, got 2 arguments"},
		{"bad name", []string{"Hippo_1"}, `cluster name "Hippo_1" is not valid`},
		{"bad target", []string{"hippo", "--target=yesterday"}, `invalid --target "yesterday": a backup label is YYYYMMDD-HHMMSSF`},
		{"bad backup name", []string{"hippo", "--backup-name=latest"}, `invalid --target "latest"`},
		{"bad pitr target", []string{"hippo", "--pitr-target=noon"}, "invalid --pitr-target"},
		{"pitr target without zone", []string{"hippo", "--pitr-target=2026-11-24 12:00:00"}, "invalid --pitr-target"},
		{"empty check-sql", []string{"hippo", "--check-sql= "}, "--check-sql is empty"},
		{"database without check-sql", []string{"hippo", "--database=app"}, "--database is the database --check-sql runs in: give --check-sql too"},
		{"empty database", []string{"hippo", "--check-sql=SELECT 1", "--database="}, `invalid --database ""`},
		{"zero timeout", []string{"hippo", "--timeout=0s"}, "invalid --timeout 0s"},
		{"bad output", []string{"hippo", "-o", "wide"}, `invalid output format "wide"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			_, _, err := runRestoreDrill(t, f, noExec(t), tc.args...)
			checkRefused(t, f, err, tc.want)
		})
	}
}

// A cluster without backups is refused before anything is created.
func TestRestoreDrillNoBackups(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	info := fakecluster.RepoTestdata(t, "info-empty-stanza.json")
	var calls []fakecluster.ExecCall
	exec := fakecluster.RecordingExec(&calls, func(_, _ string, command []string) (string, string, error) {
		if slices.Contains(command, "info") {
			return info, "", nil
		}
		if command[0] == "psql" { // what the source's database saw archived
			return fakecluster.ArchiverOK, "", nil
		}
		t.Errorf("unexpected exec %q", command)
		return "", "", nil
	})
	out, _, err := runRestoreDrill(t, f, exec, "hippo")
	if err == nil || !strings.Contains(err.Error(), `cluster "hippo" has no backups`) || !strings.Contains(err.Error(), "kubectl pgo backup hippo") ||
		!strings.Contains(err.Error(), "Nothing was created") {
		t.Fatalf("error = %v", err)
	}
	if out != "" {
		t.Errorf("printed a report without a drill:\n%s", out)
	}
	for _, a := range append(f.Clientset.Actions(), f.Dynamic.Actions()...) {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("a refused drill sent %s %s", v, a.GetResource().Resource)
		}
	}
}

// The readable report of a drill that counted every table (the report
// is the one restore.Drill's countTables makes in pkg/restore's test).
func TestWriteDrillReport(t *testing.T) {
	report := DrillReport{Cluster: "hippo", Namespace: "default", DrillCluster: "hippo-drill-abcde", Check: DrillCheckCount, Backup: "20261126-101447F", BackupType: "full",
		Target: "the end of the archived WAL (the latest point)", RestoreDuration: "41s", Passed: true, Removed: true,
		Databases: []restore.DrillDatabase{
			{Name: "app", Tables: []restore.DrillTable{{Schema: "public", Name: "odd name", Rows: 1}, {Schema: "s", Name: "p", Rows: 100}}},
			{Name: "postgres", Tables: []restore.DrillTable{{Schema: "public", Name: "t", Rows: 1234}}},
		},
		Tables: 3, Rows: 1335}
	var b bytes.Buffer
	if err := writeDrillReport(&b, report); err != nil {
		t.Fatal(err)
	}
	want := `Restore drill of cluster hippo (namespace default): PASSED
  backup:          20261126-101447F (full), restored to the end of the archived WAL (the latest point)
  drill cluster:   hippo-drill-abcde, removed
  restore:         41s (cluster created, backup restored, database started)
  check:           every table counted: 2 database(s), 3 table(s), 1335 row(s)

DATABASE   SCHEMA   TABLE      ROWS
app        public   odd name   1
app        s        p          100
postgres   public   t          1234
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}
