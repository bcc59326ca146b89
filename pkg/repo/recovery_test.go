package repo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	want := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, in := range []string{
		"2026-11-24 12:00:00+00",
		"2026-11-24 12:00:00+00:00",
		"2026-11-24 13:00:00+0100",
		"2026-11-24 07:00:00-05",
		"2026-11-24 17:30:00+05:30",
		"2026-11-24 12:00:00Z",
		"2026-11-24 12:00:00 UTC",
		" 2026-11-24T12:00:00Z ",
		"2026-11-24T14:00:00+02:00",
		"2026-11-24T12:00:00+00",
	} {
		got, err := ParseTarget(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if !got.Equal(want) {
			t.Errorf("%q = %v, want %v", in, got, want)
		}
	}
	frac, err := ParseTarget("2026-11-24 12:00:00.123456+00")
	if err != nil || frac.Nanosecond() != 123456000 {
		t.Errorf("fractional seconds: %v, %v", frac, err)
	}
	if got := FormatTime(frac); got != "2026-11-24 12:00:00.123456+00" {
		t.Errorf("FormatTime = %q", got)
	}
	if got := FormatTime(time.Date(2026, 11, 24, 13, 0, 0, 0, time.FixedZone("CET", 3600))); got != "2026-11-24 12:00:00+00" {
		t.Errorf("FormatTime of CET = %q", got)
	}

	for in, want := range map[string]string{
		"2026-11-24 12:00:00":   "it has no time zone",
		"2026-11-24T12:00:00":   "it has no time zone",
		"yesterday":             "is not a valid point-in-time target",
		"2026-13-24 12:00:00Z":  "is not a valid point-in-time target",
		"2026-11-24":            "e.g. '2026-11-24 12:00:00+00' or 2026-11-24T12:00:00Z",
		"1732449600":            "give a date, a time and a time zone",
		"2026-11-24 25:00:00+0": "is not a valid",
	} {
		if _, err := ParseTarget(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error = %v, want %q", in, err, want)
		}
	}
}

func backupAt(label string, start, stop int64) Backup {
	b := Backup{Label: label, Type: "full"}
	b.Timestamp.Start, b.Timestamp.Stop = start, stop
	b.Database.RepoKey = 1
	return b
}

func TestRecoveryWindow(t *testing.T) {
	s := readInfo(t, "info-two-repos-incr.json")[0]
	backups := s.Backups(1)
	if len(backups) != 1 || backups[0].Label != "20261126-070213F" {
		t.Fatalf("backups without errors = %+v", backups)
	}
	a, ok := s.CurrentArchive(1)
	if !ok || a.Max != "000000010000000000000009" {
		t.Fatalf("current archive = %+v, %v", a, ok)
	}
	if _, ok := s.CurrentArchive(2); ok {
		t.Errorf("repo2 has archived nothing, but CurrentArchive found something")
	}
	dir, prefix, err := SegmentPath("/backrestrepo/hippo-backrest-shared-repo", "", a, a.Max)
	if err != nil || dir != "/backrestrepo/hippo-backrest-shared-repo/archive/db/15-1/0000000100000000" || prefix != a.Max {
		t.Errorf("SegmentPath = %q %q %v", dir, prefix, err)
	}
	if _, _, err := SegmentPath("/r", "db", a, "../../etc"); err == nil {
		t.Errorf("SegmentPath accepted a bad segment name")
	}

	stop := backups[0].Timestamp.StopTime()
	archived := stop.Add(10 * time.Minute)
	w, err := NewRecoveryWindow(backups, a.Max, archived)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Start.Equal(stop.Add(time.Second)) || !w.End.Equal(archived) {
		t.Errorf("window = %s", w)
	}
	for _, ok := range []time.Time{w.Start, w.End, stop.Add(time.Minute)} {
		if err := w.Check(ok); err != nil {
			t.Errorf("Check(%v): %v", ok, err)
		}
	}
	err = w.Check(stop)
	if err == nil || !strings.Contains(err.Error(), "before the end of the oldest backup (20261126-070213F") ||
		!strings.Contains(err.Error(), "the earliest point in time a restore can reach is 2026-11-26 07:02:17+00") {
		t.Errorf("Check(before) = %v", err)
	}
	err = w.Check(archived.Add(time.Second))
	if err == nil || !strings.Contains(err.Error(), "after the last archived WAL: the newest WAL segment (000000010000000000000009) was archived at 2026-11-26 07:12:16+00") {
		t.Errorf("Check(after) = %v", err)
	}

	// Without the time of the newest WAL, the newest backup bounds it.
	w, err = NewRecoveryWindow(backups, "", time.Time{})
	if err != nil || !w.End.Equal(stop.Add(time.Second)) {
		t.Errorf("window without WAL time = %s, %v", w, err)
	}
	if _, err := NewRecoveryWindow(nil, "", time.Time{}); !errors.Is(err, ErrNoBackups) {
		t.Errorf("no backups: %v", err)
	}
}

// A time target starts from the newest backup that ended before it, in
// whole seconds, as pgBackRest compares them.
func TestSelectBackupForTime(t *testing.T) {
	backups := []Backup{backupAt("A", 100, 110), backupAt("B", 200, 210)}
	for i := range backups {
		backups[i].Archive.Start, backups[i].LSN.Stop = "000000010000000000000002", "0/2000100"
	}
	for _, tc := range []struct {
		at   int64
		nano int
		want string
	}{
		{at: 110, want: ""},
		{at: 110, nano: 900, want: ""},
		{at: 111, want: "A"},
		{at: 210, want: "A"},
		{at: 211, want: "B"},
		{at: 9999, want: "B"},
	} {
		sel, err := SelectBackup(backups, nil, RestoreTarget{Time: time.Unix(tc.at, int64(tc.nano))})
		if sel.Backup.Label != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("at %d.%d: %q %v, want %q", tc.at, tc.nano, sel.Backup.Label, err, tc.want)
		}
	}
}

func TestBackupsSortedAndFound(t *testing.T) {
	s := Stanza{Backup: []Backup{backupAt("B", 200, 210), backupAt("A", 100, 110)}}
	got := s.Backups(0)
	if len(got) != 2 || got[0].Label != "A" || got[1].Label != "B" {
		t.Errorf("Backups = %+v", got)
	}
	if b, ok := s.FindBackup("B"); !ok || b.Timestamp.Stop != 210 {
		t.Errorf("FindBackup(B) = %+v %v", b, ok)
	}
	if _, ok := s.FindBackup("C"); ok {
		t.Errorf("FindBackup(C) found something")
	}
}
