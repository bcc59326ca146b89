package cmd

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
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

func TestDrillName(t *testing.T) {
	long := strings.Repeat("a", cluster.MaxNameLength()-2) + "-b"
	for _, tc := range []struct{ name, want string }{
		{"hippo", "hippo-drill-xyz12"},
		{long, long[:cluster.MaxNameLength()-len("-drill-xyz12")] + "-drill-xyz12"},
		// A shortened name does not end in a dash.
		{strings.Repeat("a", cluster.MaxNameLength()-13) + "-bbbbbb", strings.Repeat("a", cluster.MaxNameLength()-13) + "-drill-xyz12"},
	} {
		got := drillName(tc.name, "xyz12")
		if got != tc.want {
			t.Errorf("drillName(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if err := validateClusterName(got); err != nil {
			t.Errorf("drillName(%q) = %q: %v", tc.name, got, err)
		}
	}
}

// A cluster without backups is refused before anything is created.
func TestRestoreDrillNoBackups(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	info := readTestdata(t, "../repo/testdata/info-empty-stanza.json")
	var calls []execCall
	exec := recordingExec(&calls, func(_, _ string, command []string) (string, string, error) {
		if slices.Contains(command, "info") {
			return info, "", nil
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

// countTables reads the databases and each one's counts; the report
// sums them.
func TestRestoreDrillCountTables(t *testing.T) {
	var calls []execCall
	exec := recordingExec(&calls, func(_, container string, command []string) (string, string, error) {
		if container != databaseContainer {
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
	})
	streams, _, _ := testStreams("")
	o := NewRestoreDrillOptions(streams)
	o.exec, o.namespace, o.drillName = exec, "default", "hippo-drill-abcde"
	report := DrillReport{Cluster: "hippo", Namespace: "default", DrillCluster: o.drillName, Check: DrillCheckCount, Backup: "20261126-101447F", BackupType: "full",
		Target: "the end of the archived WAL (the latest point)", RestoreDuration: "41s", Passed: true, Removed: true}
	if err := o.countTables(context.Background(), cluster.PodName(o.drillName), &report); err != nil {
		t.Fatal(err)
	}
	if report.Tables != 3 || report.Rows != 1335 || len(report.Databases) != 2 || report.Databases[0].Name != "app" || report.Databases[1].Tables[0] != (DrillTable{"public", "t", 1234}) {
		t.Errorf("report = %+v", report)
	}
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
