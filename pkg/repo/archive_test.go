package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readText(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseArchiverStatus(t *testing.T) {
	a, err := ParseArchiverStatus(readText(t, "archiver-ok.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ArchivedCount != 20 || a.LastArchivedWAL != "000000010000000000000010" || a.FailedCount != 0 ||
		a.LastFailedWAL != "" || a.LastFailedTime != nil || a.ReadyCount != 0 || a.ArchiveMode != "on" ||
		a.InRecovery || a.CurrentWAL != "000000010000000000000010" {
		t.Errorf("status = %+v", a)
	}
	if want := time.Date(2026, 11, 26, 7, 40, 41, 540652000, time.UTC); a.LastArchivedTime == nil || !a.LastArchivedTime.Equal(want) || a.LastArchivedTime.Location() != time.UTC {
		t.Errorf("last archived time = %v, want %v", a.LastArchivedTime, want)
	}
	if a.Failing() {
		t.Error("Failing() = true without failures")
	}
}

func TestParseArchiverStatusFailing(t *testing.T) {
	a, err := ParseArchiverStatus(readText(t, "archiver-failing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.FailedCount == 0 || a.LastFailedWAL == "" || a.ReadyCount == 0 || !a.Failing() {
		t.Errorf("a failing archiver reads as %+v (Failing %v)", a, a.Failing())
	}
}

func TestArchiverFailingIsOnlyTheLastAttempt(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	for _, tc := range []struct {
		archived, failed *time.Time
		want             bool
	}{
		{nil, nil, false},
		{&t1, nil, false},
		{nil, &t1, true},
		{&t1, &t2, true},
		{&t2, &t1, false}, // failed once, archived since
	} {
		a := ArchiverStatus{LastArchivedTime: tc.archived, LastFailedTime: tc.failed}
		if a.Failing() != tc.want {
			t.Errorf("archived %v failed %v: Failing() = %v, want %v", tc.archived, tc.failed, !tc.want, tc.want)
		}
	}
}

func TestParseArchiverStatusGarbage(t *testing.T) {
	for _, out := range []string{"", "psql: error: connection to server failed", `{"archived_count": "x"}`} {
		if _, err := ParseArchiverStatus(out); err == nil {
			t.Errorf("ParseArchiverStatus(%q) accepted it", out)
		}
	}
}

func TestArchiverCommand(t *testing.T) {
	cmd := ArchiverCommand()
	if cmd[0] != "psql" || cmd[len(cmd)-1] != ArchiverQuery || !strings.Contains(strings.Join(cmd, " "), "ON_ERROR_STOP=1") {
		t.Errorf("command = %q", cmd)
	}
}

func TestParseCheck(t *testing.T) {
	ok := ParseCheck(readText(t, "check-ok.txt"), 0)
	if !ok.OK || ok.ArchivedWAL != "00000001000000000000000F" || len(ok.Errors) != 0 {
		t.Errorf("check ok = %+v", ok)
	}
	down := ParseCheck(readText(t, "check-repo-down.txt"), 49)
	if down.OK || down.ExitCode != 49 || down.ArchivedWAL != "" ||
		strings.Join(down.Errors, "|") != "ERROR: [049]: timeout connecting to 'hippo-backrest-shared-repo:8432'" {
		t.Errorf("check with the repository down = %+v", down)
	}
}

func TestBackupLabelFromLog(t *testing.T) {
	if got := BackupLabelFromLog(readText(t, "backup-full.log")); got != "20261126-073849F" {
		t.Errorf("label = %q", got)
	}
	if got := BackupLabelFromLog("P00   INFO: new backup label = 20261126-071946F_20261126-072010I\n"); got != "20261126-071946F_20261126-072010I" {
		t.Errorf("incr label = %q", got)
	}
	if got := BackupLabelFromLog(readText(t, "backup-database-down.log")); got != "" {
		t.Errorf("a failed backup has label %q", got)
	}
}

func TestErrorLines(t *testing.T) {
	got := ErrorLines(readText(t, "backup-database-down.log"))
	want := []string{
		"WARN: unable to check pg1: [HostConnectError] timeout connecting to 'hippo:8432'",
		"ERROR: [056]: unable to find primary cluster - cannot proceed HINT: are all available clusters in recovery?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ErrorLines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := ErrorLines(readText(t, "backup-full.log")); len(got) != 0 {
		t.Errorf("a clean log has errors %q", got)
	}
	if got := ErrorLines("2026-11-26 07:38:49.584 P00  ERROR: [082]: WAL segment never arrived\n"); len(got) != 1 || got[0] != "ERROR: [082]: WAL segment never arrived" {
		t.Errorf("timestamped error = %q", got)
	}
}
