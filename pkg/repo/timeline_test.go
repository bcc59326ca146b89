package repo

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// backupOn is a backup taken on timeline tli from LSN start to stop, that
// ended at the given time.
func backupOn(label string, tli uint32, start, stop string, ended time.Time) Backup {
	seg := func(lsn string) string {
		l, err := ParseLSN(lsn)
		if err != nil {
			panic(err)
		}
		return segmentOf(tli, l)
	}
	b := Backup{Label: label, Type: "full"}
	if strings.Contains(label, "_") {
		b.Type = "incr"
	}
	b.Archive.Start, b.Archive.Stop = seg(start), seg(stop)
	b.LSN.Start, b.LSN.Stop = start, stop
	b.Timestamp.Start, b.Timestamp.Stop = ended.Unix()-2, ended.Unix()
	b.Database = DatabaseRef{ID: 1, RepoKey: 1}
	return b
}

func segmentOf(tli uint32, l LSN) string {
	return strings.ToUpper(fmt.Sprintf("%08X%08X%08X", tli, uint64(l)>>32, (uint64(l)&0xFFFFFFFF)>>24))
}

var at = func(hhmm string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2026-12-04 "+hhmm)
	if err != nil {
		panic(err)
	}
	return t
}

// The drill of issue 16: a full backup and an incremental on timeline 1;
// a PITR to 10:30, between them, made timeline 2 at 11:00; a later restore
// to the latest point made timeline 3 at 11:30.
func issueTimelines(t *testing.T) (Timelines, []Backup) {
	t.Helper()
	ts, err := NewTimelines([]HistoryFile{
		{Name: "00000002.history", Content: "1\t0/5000100\tbefore 2026-12-04 10:30:00+00\n", Archived: at("11:00")},
		{Name: "00000003.history", Content: "1\t0/5000100\tbefore 2026-12-04 10:30:00+00\n\n2\t0/7000000\tno recovery target specified\n", Archived: at("11:30")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts, []Backup{
		backupOn("20261204-100000F", 1, "0/2000028", "0/2000100", at("10:00")),
		backupOn("20261204-100000F_20261204-104500I", 1, "0/6000028", "0/6000100", at("10:45")),
		backupOn("20261204-111000F", 2, "0/6800028", "0/6800100", at("11:10")),
	}
}

func TestParseHistory(t *testing.T) {
	h, err := ParseHistory("1\t0/3000090\tno recovery target specified\n\n2\t1/A0000000\tbefore 2026-12-04 10:30:00.5+00\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Timeline != 1 || h[0].End.String() != "0/3000090" || h[1].End != LSN(1<<32|0xA0000000) || h[1].Reason != "before 2026-12-04 10:30:00.5+00" {
		t.Errorf("history = %+v", h)
	}
	for _, bad := range []string{"x\t0/1\n", "1\tnope\n", "2\t0/5\n1\t0/6\n", "1\n"} {
		if _, err := ParseHistory(bad); err == nil {
			t.Errorf("ParseHistory(%q) accepted it", bad)
		}
	}
}

func TestReaches(t *testing.T) {
	ts, b := issueTimelines(t)
	tests := []struct {
		backup Backup
		tl     uint32
		want   string
	}{
		{b[0], 1, ""},
		{b[0], 2, ""},
		{b[0], 3, ""},
		{b[1], 1, ""},
		{b[1], 2, "ended at LSN 0/6000100 on timeline 1, after timeline 2 forked off it at 0/5000100"},
		{b[1], 3, "after timeline 2 forked off it at 0/5000100"},
		{b[2], 2, ""},
		{b[2], 3, ""},
		{b[2], 1, "taken on timeline 2, which is not in the history of timeline 1"},
		{b[0], 9, "timeline 9 is not in the archive"},
	}
	for _, tc := range tests {
		err := ts.Reaches(tc.backup, tc.tl)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Reaches(%s, %d) = %v, want %q", tc.backup.Label, tc.tl, err, tc.want)
		}
	}
}

func TestSelectBackup(t *testing.T) {
	ts, b := issueTimelines(t)
	byRepo := map[int]Timelines{1: ts}
	tests := []struct {
		name   string
		target RestoreTarget
		want   string
		tl     uint32
		err    string
	}{
		// pgBackRest alone would take the incremental: the defect of the issue.
		{name: "latest", target: RestoreTarget{}, want: "20261204-111000F", tl: 3},
		{name: "time before the timeline 2 backup", target: RestoreTarget{Time: at("11:05")}, want: "20261204-100000F", tl: 3},
		{name: "abandoned timeline", target: RestoreTarget{Timeline: "1"}, want: "20261204-100000F_20261204-104500I", tl: 1},
		{name: "current", target: RestoreTarget{Timeline: "current"}, want: "20261204-111000F", tl: 2},
		{name: "lsn", target: RestoreTarget{LSN: 0x6000000}, want: "20261204-100000F", tl: 3},
		{name: "set off the history", target: RestoreTarget{Set: "20261204-100000F_20261204-104500I"},
			err: "backup 20261204-100000F_20261204-104500I cannot be restored to timeline 3: backup 20261204-100000F_20261204-104500I ended at LSN 0/6000100 on timeline 1, after timeline 2 forked off it at 0/5000100. Backups that can:\n  20261204-100000F (full, ended 2026-12-04 10:00:00+00)\n  20261204-111000F"},
		{name: "set with its timeline", target: RestoreTarget{Set: "20261204-100000F_20261204-104500I", Timeline: "1"}, want: "20261204-100000F_20261204-104500I", tl: 1},
		{name: "set current", target: RestoreTarget{Set: "20261204-100000F_20261204-104500I", Timeline: "current"}, want: "20261204-100000F_20261204-104500I", tl: 1},
		{name: "unknown timeline", target: RestoreTarget{Timeline: "7"}, err: "timeline 7 does not exist in the archive; its timelines are 1, 2, 3"},
		{name: "nothing before the time", target: RestoreTarget{Time: at("09:00")}, err: "no backup can start this restore:\n  20261204-100000F (full, ended 2026-12-04 10:00:00+00): it ended at 2026-12-04 10:00:00+00, not before the target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := SelectBackup(b, byRepo, tc.target)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sel.Backup.Label != tc.want || sel.Timeline != tc.tl {
				t.Errorf("selected %s on timeline %d, want %s on %d", sel.Backup.Label, sel.Timeline, tc.want, tc.tl)
			}
		})
	}
}

func TestCheckTimeTarget(t *testing.T) {
	ts, _ := issueTimelines(t)
	tests := []struct {
		time time.Time
		tl   uint32
		err  string
	}{
		{at("10:15"), 3, ""}, // timeline 1 before the fork at 10:30: on 3's history
		{at("10:15"), 1, ""}, // and on 1's own
		{at("10:40"), 1, ""}, // timeline 1 after the fork, asked for by number
		{at("10:40"), 3, "add --target-timeline=1 to restore timeline 1 as it was at 2026-12-04 10:40:00+00"},
		{at("10:40"), 2, "timeline 2 forked off it at LSN 0/5000100, at an earlier point (before 2026-12-04 10:30:00+00)"},
		{at("11:10"), 3, ""}, // timeline 2 was left at its end: all of it is in 3
		{at("11:10"), 2, ""}, // timeline 2's own time
		{at("11:40"), 3, ""}, // timeline 3
		{at("11:40"), 2, "at 2026-12-04 11:40:00+00 the database was on timeline 3"},
		{at("11:40"), 1, "use --target-timeline=3"},
	}
	for _, tc := range tests {
		err := ts.CheckTimeTarget(tc.time, tc.tl)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckTimeTarget(%s, %d) = %v, want %q", FormatTime(tc.time), tc.tl, err, tc.err)
		}
	}
	// A fork whose reason names no time: only the explicit timeline.
	other, err := NewTimelines([]HistoryFile{{Name: "00000002.history", Content: "1\t0/5000100\treached consistency\n", Archived: at("11:00")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.CheckTimeTarget(at("10:40"), 2); err == nil || !strings.Contains(err.Error(), "names no time") {
		t.Errorf("unknown fork time: %v", err)
	}
}

func TestParseTargetTimeline(t *testing.T) {
	for _, ok := range []string{"", "current", "latest", "1", "12"} {
		if _, err := ParseTargetTimeline(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"0", "-1", "two", "0x2", "Latest"} {
		if _, err := ParseTargetTimeline(bad); err == nil || !strings.Contains(err.Error(), "use current, latest or a timeline number") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A point-in-time restore along timeline 2 to a time before 2 forked off
// timeline 1 stops on timeline 1: PostgreSQL writes "2 <a point on 1>",
// below the switch point before it (the soak's finding 1).
func TestHistoryCutBelowAnEarlierFork(t *testing.T) {
	ts, err := NewTimelines([]HistoryFile{
		{Name: "00000002.history", Content: "1\t0/4000000\tno recovery target specified\n", Archived: at("11:00")},
		{Name: "00000003.history", Content: "1\t0/4000000\tno recovery target specified\n2\t0/3002170\tbefore 2026-12-04 10:30:00+00\n", Archived: at("11:30")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ts[3].Parent != 1 || ts[3].ForkLSN.String() != "0/3002170" || ts[2].Parent != 1 {
		t.Errorf("timeline 3 = %+v, 2 = %+v", ts[3], ts[2])
	}
	early := backupOn("20261204-100000F", 1, "0/2000028", "0/2000100", at("10:00"))
	late := backupOn("20261204-100000F_20261204-104500I", 1, "0/3500028", "0/3500100", at("10:45"))
	onTwo := backupOn("20261204-110500F", 2, "0/4800028", "0/4800100", at("11:05"))
	for _, tc := range []struct {
		b    Backup
		want string
	}{
		{early, ""},
		{late, "ended at LSN 0/3500100 on timeline 1, after timeline 3 forked off it at 0/3002170"},
		{onTwo, "ended at LSN 0/4800100 on timeline 2, after timeline 3 forked off it at 0/3002170"},
	} {
		err := ts.Reaches(tc.b, 3)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Reaches(%s, 3) = %v, want %q", tc.b.Label, err, tc.want)
		}
	}
	if sel, err := SelectBackup([]Backup{early, late, onTwo}, map[int]Timelines{1: ts}, RestoreTarget{}); err != nil || sel.Backup.Label != early.Label {
		t.Errorf("latest: %v, %v", sel.Backup.Label, err)
	}
	for _, tc := range []struct {
		time time.Time
		err  string
	}{
		{at("10:15"), ""},
		{at("10:40"), "add --target-timeline=1"},
		{at("11:10"), "add --target-timeline=2"},
		{at("11:40"), ""},
	} {
		err := ts.CheckTimeTarget(tc.time, 3)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckTimeTarget(%s, 3) = %v, want %q", FormatTime(tc.time), err, tc.err)
		}
	}
}

func TestSegmentOfAndNumber(t *testing.T) {
	for _, tc := range []struct {
		tli  uint32
		lsn  string
		want string
		num  uint64
	}{
		{1, "0/401DB48", "000000010000000000000004", 4},
		{2, "0/5000000", "000000020000000000000005", 5},
		{3, "1/FF000028", "0000000300000001000000FF", 511},
		{1, "2/0", "000000010000000200000000", 512},
	} {
		lsn, err := ParseLSN(tc.lsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := SegmentOf(tc.tli, lsn); got != tc.want {
			t.Errorf("SegmentOf(%d, %s) = %s, want %s", tc.tli, tc.lsn, got, tc.want)
		}
		if n, err := SegmentNumber(tc.want); err != nil || n != tc.num {
			t.Errorf("SegmentNumber(%s) = %d, %v; want %d", tc.want, n, err, tc.num)
		}
	}
	if _, err := SegmentNumber("00000001.history"); err == nil {
		t.Error("SegmentNumber of a history file name: no error")
	}
}
