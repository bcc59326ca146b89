package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// -update rewrites the golden files. It is registered in init, only if no
// other test file of the package has registered it already (package
// variables are initialized before init functions run).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite testdata/*.golden with the current output")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updatingGolden() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// The captures of real pgBackRest 2.45 in testdata, through Summarize
// and WriteText.
func TestSummaryText(t *testing.T) {
	for _, name := range []string{
		"info-empty-stanza",
		"info-one-full",
		"info-full-diff-incr",
		"info-error-host-connect",
		"info-set-not-found",
		"info-two-repos-incr",
		"info-unknown-ca",
	} {
		t.Run(name, func(t *testing.T) {
			stanzas := readInfo(t, name+".json")
			if len(stanzas) != 1 {
				t.Fatalf("%d stanzas", len(stanzas))
			}
			var b bytes.Buffer
			if err := Summarize(stanzas[0]).WriteText(&b, ""); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden", b.Bytes())
		})
	}
}

func TestSummarizeEmptyStanza(t *testing.T) {
	s := Summarize(readInfo(t, "info-empty-stanza.json")[0])
	if s.Status != SummaryNoBackups || len(s.Backups) != 0 || s.Backups == nil || len(s.Errors) != 0 {
		t.Errorf("summary = %+v", s)
	}
	if len(s.Databases) != 1 || len(s.Databases[0].Archives) != 1 || s.Databases[0].Archives[0].ID != "15-1" ||
		s.Databases[0].Archives[0].Min != "" || !s.Databases[0].Current {
		t.Errorf("databases = %+v", s.Databases)
	}
	var b bytes.Buffer
	_ = s.WriteText(&b, "")
	if !strings.Contains(b.String(), "\n    no backups yet\n") || !strings.Contains(b.String(), "status: no backups yet") {
		t.Errorf("an empty stanza does not say so plainly:\n%s", b.String())
	}
}

func TestSummarizeFullDiffIncr(t *testing.T) {
	stanza := readInfo(t, "info-full-diff-incr.json")[0]
	if err := stanza.Err(); err != nil {
		t.Fatal(err)
	}
	// Summarize sorts: give it the backups newest first.
	for i, j := 0, len(stanza.Backup)-1; i < j; i, j = i+1, j-1 {
		stanza.Backup[i], stanza.Backup[j] = stanza.Backup[j], stanza.Backup[i]
	}
	s := Summarize(stanza)
	if s.Status != SummaryOK || len(s.Backups) != 3 {
		t.Fatalf("summary = %+v", s)
	}
	full, diff, incr := s.Backups[0], s.Backups[1], s.Backups[2]
	if full.Type != BackupFull || diff.Type != BackupDiff || incr.Type != BackupIncr {
		t.Fatalf("order = %s, %s, %s; want full, diff, incr", full.Type, diff.Type, incr.Type)
	}
	if len(full.References) != 0 || full.Prior != "" {
		t.Errorf("full = %+v", full)
	}
	if diff.Prior != full.Label || strings.Join(diff.References, ",") != full.Label {
		t.Errorf("diff prior %q references %q, want %s", diff.Prior, diff.References, full.Label)
	}
	if incr.Prior != diff.Label || strings.Join(incr.References, ",") != full.Label+","+diff.Label {
		t.Errorf("incr prior %q references %q", incr.Prior, incr.References)
	}
	if !full.Start.Equal(time.Date(2026, 11, 26, 7, 19, 46, 0, time.UTC)) || full.Start.Location() != time.UTC {
		t.Errorf("full start = %v, want 2026-11-26 07:19:46 UTC", full.Start)
	}
	if diff.DatabaseSize != 30094794 || diff.BackupSize != 8708361 || diff.RepositorySize != 8909820 || diff.RepositoryBackupSize != 4732041 {
		t.Errorf("diff sizes = %+v", diff)
	}
	a := s.Databases[0].Archives[0]
	if a.Min != "000000010000000000000001" || a.Max != "000000010000000000000006" || a.Repo != 1 {
		t.Errorf("archive = %+v", a)
	}

	// The structured form survives JSON.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Backups) != 3 || back.Backups[2].Label != incr.Label || !back.Backups[0].Stop.Equal(full.Stop) {
		t.Errorf("JSON round trip lost data: %s", data)
	}
}

func TestSummarizeErrors(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"info-error-host-connect.json", "repo1: pgbackrest info status 99: [HostConnectError] timeout connecting to 'hippo-backrest-shared-repo:8432'"},
		{"info-set-not-found.json", "repo1: pgbackrest info status 6: requested backup not found"},
		{"info-missing-stanza.json", "repo1: pgbackrest info status 1: missing stanza path"},
	}
	for _, tc := range tests {
		stanza := readInfo(t, tc.file)[0]
		s := Summarize(stanza)
		if s.Status != SummaryError || len(s.Errors) != 1 || s.Errors[0] != tc.want {
			t.Errorf("%s: status %q errors %q, want error %q", tc.file, s.Status, s.Errors, tc.want)
		}
	}
	// A missing stanza is recognizable.
	if err := readInfo(t, "info-missing-stanza.json")[0].Err(); !errors.Is(err, ErrStanzaMissing) {
		t.Errorf("missing stanza: %v", err)
	}
}

func TestParseInfoSet(t *testing.T) {
	stanza := readInfo(t, "info-set-diff.json")[0]
	if err := stanza.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stanza.Backup) != 1 || stanza.Backup[0].Label != "20261126-071946F_20261126-072003D" || stanza.Backup[0].Type != BackupDiff {
		t.Errorf("info --set = %+v", stanza.Backup)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 4557712: "4.3MiB", 23213515: "22.1MiB", 5 << 30: "5.0GiB", 3 << 40: "3.0TiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// A backup's standby annotation says where its files were copied from, in the JSON and the text:
// a named standby, a standby pgBackRest chose (a schedule), or the primary.
func TestSummaryCopiedFrom(t *testing.T) {
	stanzas := readInfo(t, "info-full-diff-incr.json")
	s := stanzas[0]
	s.Backup[0].Annotation = map[string]string{AnnotationStandby: "hippo-r1-0"}
	s.Backup[1].Annotation = map[string]string{AnnotationStandby: AnyStandby, "note": "weekly"}
	sum := Summarize(s)
	if sum.Backups[0].Standby != "hippo-r1-0" || sum.Backups[1].Standby != AnyStandby || sum.Backups[2].Standby != "" {
		t.Errorf("standbys: %q, %q, %q", sum.Backups[0].Standby, sum.Backups[1].Standby, sum.Backups[2].Standby)
	}
	var b bytes.Buffer
	if err := sum.WriteText(&b, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"copied from: standby hippo-r1-0", "copied from: a standby (pgBackRest chose it among the instances)", "copied from: the primary"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, b.String())
		}
	}
}
