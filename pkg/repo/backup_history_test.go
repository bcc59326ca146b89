package repo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A backup history file as PostgreSQL 15 wrote it at the end of a pgBackRest backup.
const sampleBackupHistory = `START WAL LOCATION: 0/4000028 (file 000000010000000000000004)
STOP WAL LOCATION: 0/4000100 (file 000000010000000000000004)
CHECKPOINT LOCATION: 0/4000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-12-04 10:59:10 UTC
LABEL: pgBackRest backup started at 2026-12-04 10:59:10.52009+00
START TIMELINE: 1
STOP TIME: 2026-12-04 10:59:11 UTC
STOP TIMELINE: 1
`

func TestParseBackupHistory(t *testing.T) {
	b, err := ParseBackupHistory("x.backup", sampleBackupHistory)
	if err != nil {
		t.Fatal(err)
	}
	want := BackupHistory{Name: "x.backup", Start: 0x4000028, Stop: 0x4000100, StartTimeline: 1, StopTimeline: 1,
		StartTime: time.Date(2026, 12, 4, 10, 59, 10, 0, time.UTC), StopTime: time.Date(2026, 12, 4, 10, 59, 11, 0, time.UTC),
		Label: "pgBackRest backup started at 2026-12-04 10:59:10.52009+00"}
	if b != want {
		t.Errorf("got %+v, want %+v", b, want)
	}
	offset := strings.ReplaceAll(sampleBackupHistory, "10:59:10 UTC", "11:59:10 +01")
	if b, err := ParseBackupHistory("x", offset); err != nil || !b.StartTime.Equal(want.StartTime) {
		t.Errorf("numeric offset: %v %v", b.StartTime, err)
	}
	for name, bad := range map[string]string{
		"named zone":   strings.ReplaceAll(sampleBackupHistory, "10:59:10 UTC", "11:59:10 CET"),
		"no stop":      strings.ReplaceAll(sampleBackupHistory, "STOP WAL LOCATION", "X"),
		"bad timeline": strings.ReplaceAll(sampleBackupHistory, "START TIMELINE: 1", "START TIMELINE: 0"),
	} {
		if _, err := ParseBackupHistory("x", bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseBackupHistories(t *testing.T) {
	out := "@@file 0000000100000000/000000010000000000000004.00000028.backup\n" + sampleBackupHistory +
		"@@file 0000000100000000/000000010000000000000002.00000028.backup\n" + strings.ReplaceAll(sampleBackupHistory, "0/40001", "0/20001")
	bs, err := ParseBackupHistories(out)
	if err != nil || len(bs) != 2 || bs[1].Stop != 0x2000100 || !strings.HasSuffix(bs[0].Name, "04.00000028.backup") {
		t.Fatalf("got %+v, %v", bs, err)
	}
	if bs, err := ParseBackupHistories(""); err != nil || len(bs) != 0 {
		t.Errorf("no files: %v %v", bs, err)
	}
	if _, err := ParseBackupHistories("ERROR: [039]: cannot list\n"); err == nil {
		t.Error("stray output read as nothing")
	}
}

// A fork at "reached consistency" names no time: a backup of the live timeline that started after
// the target and stopped before the fork shows the target is in the history; no other backup does.
func TestUnknownForkSettledBy(t *testing.T) {
	ts, err := NewTimelines([]HistoryFile{{Name: "00000002.history", Content: "1\t0/5000100\treached consistency\n", Archived: at("11:00")}})
	if err != nil {
		t.Fatal(err)
	}
	target := at("10:40")
	err = ts.CheckTimeTarget(target, 2)
	var unknown *UnknownForkError
	if !errors.As(err, &unknown) || !errors.Is(err, ErrAbandonedTimeline) || !strings.Contains(err.Error(), "names no time") ||
		!strings.Contains(err.Error(), "--target-timeline=1") {
		t.Fatalf("CheckTimeTarget = %v, want an UnknownForkError", err)
	}
	if unknown.Live != 1 || unknown.Child != 2 || unknown.Fork != 0x5000100 {
		t.Errorf("UnknownForkError = %+v", unknown)
	}
	good := BackupHistory{Start: 0x4000028, Stop: 0x4000100, StartTime: at("10:45"), StartTimeline: 1, StopTimeline: 1}
	tests := []struct {
		name string
		b    BackupHistory
		ok   bool
	}{
		{"started after the target, stopped before the fork", good, true},
		{"stopped at the fork", with(good, func(b *BackupHistory) { b.Stop = 0x5000100 }), true},
		{"stopped after the fork", with(good, func(b *BackupHistory) { b.Stop = 0x5000101 }), false},
		{"started at the target", with(good, func(b *BackupHistory) { b.StartTime = target }), false},
		{"started before the target", with(good, func(b *BackupHistory) { b.StartTime = at("10:30") }), false},
		{"on another timeline", with(good, func(b *BackupHistory) { b.StartTimeline, b.StopTimeline = 2, 2 }), false},
	}
	for _, tc := range tests {
		if _, ok := unknown.SettledBy([]BackupHistory{tc.b}); ok != tc.ok {
			t.Errorf("%s: settled = %v, want %v", tc.name, ok, tc.ok)
		}
	}
	if _, ok := unknown.SettledBy(nil); ok {
		t.Error("settled with no backup")
	}
}

func with(b BackupHistory, f func(*BackupHistory)) BackupHistory {
	f(&b)
	return b
}
