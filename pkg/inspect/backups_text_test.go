package inspect

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// A running backup Job shows its start and how long it has run so far.
func TestWriteBackupsTextRunningJob(t *testing.T) {
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	start := now.Add(-90 * time.Second)
	var b bytes.Buffer
	err := WriteBackupsText(&b, []ClusterBackups{{Cluster: "hippo", Namespace: "pg", Repository: &repo.Summary{Stanza: "db", Status: repo.SummaryNoBackups, Cipher: "none"},
		Jobs: []BackupJobInfo{{Name: "hippo-backup-full-aaaaa", Type: "full", State: jobs.StateRunning, Start: &start}}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "hippo-backup-full-aaaaa   full   Running   2026-11-26 07:58:30 UTC   1m30s") {
		t.Errorf("output:\n%s", b.String())
	}
}
