package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The listing of an archive with a gap on timeline 1 (A3 to A5 dropped), a
// backup history file, and timeline 2 after a partial segment of
// timeline 1.
const walListing = `0000000100000000
0000000100000000/0000000100000000000000A1-5b5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
0000000100000000/0000000100000000000000A2-6b5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
0000000100000000/0000000100000000000000A2.00000028.backup
0000000100000000/0000000100000000000000A6-7b5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
0000000100000000/0000000100000000000000A7.partial-8b5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
00000002.history
0000000200000000
0000000200000000/0000000200000000000000A7-9b5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
0000000200000000/0000000200000000000000A8-ab5ef6e8b2b5f7a0e2b4e1f8e0e7c8b9d6f1a2b3.zst
`

func TestInfoWithWALCommandListsSegments(t *testing.T) {
	script := strings.Replace(fakePGBackRest, `  *) echo "unexpected`, `  *"--repo=1 --output=text --recurse repo-ls archive/db/15-1") printf '%s' '`+walListing+`' ;;
  *"--repo=2 --output=text --recurse repo-ls archive/db/15-1") ;;
  *) echo "unexpected`, 1)
	out, _ := runFake(t, script, InfoWithWALCommand([]string{"--stanza=db"}, 0, nil))
	res, err := ParseInfoOutput(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := strings.Join(res.WAL[ArchiveKey{Repo: 1, ID: "15-1"}], " ")
	want := "0000000100000000000000A1 0000000100000000000000A2 0000000100000000000000A6 0000000100000000000000A7 0000000200000000000000A7 0000000200000000000000A8"
	if got != want {
		t.Errorf("repo1 WAL = %q, want %q", got, want)
	}
	if w, ok := res.WAL[ArchiveKey{Repo: 2, ID: "15-1"}]; !ok || len(w) != 0 {
		t.Errorf("repo2 WAL = %q, %v: want an empty listing", w, ok)
	}
	if len(res.History[ArchiveKey{Repo: 1, ID: "15-1"}]) != 2 {
		t.Errorf("the history files are still read: %+v", res.History)
	}
	// InfoCommand lists no WAL.
	out, calls := runFake(t, script, InfoCommand([]string{"--stanza=db"}, 0, nil))
	if strings.Contains(calls, "--recurse") || strings.Contains(out, "@@wal") {
		t.Errorf("InfoCommand listed the WAL:\n%s", calls)
	}
}

func TestWALGaps(t *testing.T) {
	wal := []string{"0000000100000000000000A1", "0000000100000000000000A2",
		"0000000100000000000000FF", "000000010000000100000000", "000000010000000100000002",
		"0000000200000001000000A7", "0000000200000001000000A8"}
	o := InfoOutput{WAL: map[ArchiveKey][]string{{Repo: 1, ID: "15-1"}: wal}}
	backup := func(label, start string) Backup {
		return Backup{Label: label, Archive: WALRange{Start: start}, Database: DatabaseRef{ID: 1, RepoKey: 1}}
	}
	stanza := Stanza{Backup: []Backup{
		backup("20261204-100000F", "0000000100000000000000A1"),
		backup("20261204-110000F", "0000000100000000000000FF"),
	}}
	// PostgreSQL saw 1/00 archived: the 1/01 that is missing after it may
	// still be on its way.
	gaps := o.WALGaps(stanza, "000000010000000100000000")
	want := []WALGap{
		{Repo: 1, Archive: "15-1", First: "0000000100000000000000A3", Last: "0000000100000000000000FE", Segments: 92, Before: "0000000100000000000000A2", ClosedBy: "20261204-110000F"},
	}
	if len(gaps) != len(want) {
		t.Fatalf("gaps = %+v, want %+v", gaps, want)
	}
	for i := range want {
		if gaps[i] != want[i] {
			t.Errorf("gap %d = %+v, want %+v", i, gaps[i], want[i])
		}
	}
	if s := gaps[0].String(); s != "repo1 is missing WAL 0000000100000000000000A3 to 0000000100000000000000FE (92 segments) after 0000000100000000000000A2" {
		t.Errorf("String() = %q", s)
	}
	// Once PostgreSQL saw 1/02 archived, 1/01 is lost (and a segment
	// acknowledged on timeline 2 settles timeline 1); it is open until a
	// backup starts after it, here on a later timeline.
	for _, ack := range []string{"000000010000000100000002", "0000000200000001000000A7", ""} {
		if gaps = o.WALGaps(stanza, ack); len(gaps) != 2 || gaps[1].First != "000000010000000100000001" || gaps[1].Closed() {
			t.Errorf("acknowledged %q: gaps = %+v", ack, gaps)
		}
	}
	// A history file acknowledged: its timeline has only begun, older ones are settled; a
	// backup history file stands for its segment.
	if gaps = o.WALGaps(stanza, "00000002.history"); len(gaps) != 2 {
		t.Errorf("acknowledged 00000002.history: gaps = %+v", gaps)
	}
	if gaps = o.WALGaps(stanza, "00000001.history"); len(gaps) != 2 {
		t.Errorf("acknowledged 00000001.history, which does not exist (unknown: every gap counts): gaps = %+v", gaps)
	}
	if gaps = o.WALGaps(stanza, "000000010000000100000000.00000028.backup"); len(gaps) != 1 {
		t.Errorf("acknowledged a backup history file of 1/00: gaps = %+v, want the first only", gaps)
	}
	stanza.Backup = append(stanza.Backup, backup("20261204-120000F", "0000000200000001000000A8"))
	if gaps = o.WALGaps(stanza, ""); len(gaps) != 2 || gaps[1].ClosedBy != "20261204-120000F" {
		t.Errorf("gaps = %+v", gaps)
	}
	if gaps := (InfoOutput{WAL: map[ArchiveKey][]string{{Repo: 1, ID: "15-1"}: wal[:2]}}).WALGaps(stanza, ""); len(gaps) != 0 {
		t.Errorf("a run without a hole has gaps: %+v", gaps)
	}
}

func TestTimelinesBlocks(t *testing.T) {
	// Timeline 2 forked off 1 at 0/A5000100; 3 off 2 at 0/C0000000.
	ts, err := NewTimelines([]HistoryFile{
		{Name: "00000002.history", Content: "1\t0/A5000100\tbefore 2026-12-04 10:30:00+00\n"},
		{Name: "00000003.history", Content: "1\t0/A5000100\tbefore 2026-12-04 10:30:00+00\n2\t0/C0000000\tno recovery target specified\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := Backup{Label: "20261204-100000F", Archive: WALRange{Start: "0000000100000000000000A1"}}
	gap := func(first, last string) WALGap { return WALGap{Repo: 1, First: first, Last: last} }
	for _, tc := range []struct {
		name string
		g    WALGap
		n    uint32
		want bool
	}{
		{"on timeline 1 after the backup, before the fork", gap("0000000100000000000000A3", "0000000100000000000000A4"), 3, true},
		{"on timeline 1 past the fork: the history left it", gap("0000000100000000000000A6", "0000000100000000000000A7"), 3, false},
		{"the fork's own segment on timeline 1", gap("0000000100000000000000A5", "0000000100000000000000A5"), 3, true},
		{"on timeline 2, before its end", gap("0000000200000000000000B0", "0000000200000000000000B0"), 3, true},
		{"on timeline 2 past the fork to 3", gap("0000000200000000000000C1", "0000000200000000000000C1"), 3, false},
		{"on timeline 3, the last one", gap("0000000300000000000000D0", "0000000300000000000000D1"), 3, true},
		{"on timeline 3, not on timeline 2's history", gap("0000000300000000000000D0", "0000000300000000000000D1"), 2, false},
		{"before the backup", gap("00000001000000000000009A", "00000001000000000000009F"), 3, false},
	} {
		if got := ts.Blocks(tc.g, b, tc.n); got != tc.want {
			t.Errorf("%s: Blocks = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !(Timelines{}).Blocks(gap("0000000100000000000000A3", "0000000100000000000000A3"), b, 1) {
		t.Error("without history files, a gap on timeline 1 after the backup does not block a recovery on timeline 1")
	}
}

// A timeline begins at the segment of its fork; what is missing from there
// to its first archived segment, and after its last up to the segment
// PostgreSQL saw archived, was dropped too.
func TestWALGapsAtTheEdgesOfATimeline(t *testing.T) {
	key := ArchiveKey{Repo: 1, ID: "15-1"}
	stanza := Stanza{Archive: []Archive{{ID: "15-1", Max: "0000000200000000000000A9", Database: DatabaseRef{ID: 1, RepoKey: 1}}},
		Backup: []Backup{{Label: "20261204-100000F", Archive: WALRange{Start: "0000000100000000000000A1"}, Database: DatabaseRef{ID: 1, RepoKey: 1}}}}
	history := map[ArchiveKey][]HistoryFile{key: {{Name: "00000002.history", Content: "1\t0/A5000100\tno recovery target specified\n"}}}
	output := func(wal ...string) InfoOutput {
		return InfoOutput{HistoryRead: true, History: history, WAL: map[ArchiveKey][]string{key: wal}}
	}
	names := func(gaps []WALGap) string {
		var out []string
		for _, g := range gaps {
			out = append(out, g.First+".."+g.Last+" after "+g.Before)
		}
		return strings.Join(out, "; ")
	}
	timeline1 := []string{"0000000100000000000000A1", "0000000100000000000000A2", "0000000100000000000000A3", "0000000100000000000000A4", "0000000100000000000000A5"}
	for _, tc := range []struct {
		name, ack string
		wal       []string
		want      string
	}{
		{"the fork's segments dropped", "0000000200000000000000A9",
			append(timeline1, "0000000200000000000000A9"),
			"0000000200000000000000A5..0000000200000000000000A8 after 0000000100000000000000A5"},
		{"the tail dropped", "0000000200000000000000AC",
			append(timeline1, "0000000200000000000000A5", "0000000200000000000000A6"),
			"0000000200000000000000A7..0000000200000000000000AC after 0000000200000000000000A6"},
		{"nothing of the new timeline archived", "0000000200000000000000A7",
			timeline1,
			"0000000200000000000000A5..0000000200000000000000A7 after 0000000100000000000000A5"},
		{"the tail in flight", "0000000200000000000000A6",
			append(timeline1, "0000000200000000000000A5", "0000000200000000000000A6"), ""},
		{"only the history file acknowledged", "00000002.history", timeline1, ""},
		{"unknown: the start of a timeline still counts", "",
			append(timeline1, "0000000200000000000000A9"),
			"0000000200000000000000A5..0000000200000000000000A8 after 0000000100000000000000A5"},
	} {
		if got := names(output(tc.wal...).WALGaps(stanza, tc.ack)); got != tc.want {
			t.Errorf("%s: gaps %q, want %q", tc.name, got, tc.want)
		}
	}
	// A fork at a segment's start: the new timeline begins with that segment, the parent's
	// WAL ends in the one before.
	atStart := Stanza{Archive: stanza.Archive, Backup: stanza.Backup}
	boundary := InfoOutput{HistoryRead: true, WAL: map[ArchiveKey][]string{key: append(timeline1[:4:4], "0000000200000000000000A9")},
		History: map[ArchiveKey][]HistoryFile{key: {{Name: "00000002.history", Content: "1\t0/A5000000\tbefore 2026-12-04 10:30:00+00\n"}}}}
	if got := names(boundary.WALGaps(atStart, "")); got != "0000000200000000000000A5..0000000200000000000000A8 after 0000000100000000000000A4" {
		t.Errorf("a fork at 0/A5000000: gaps %q", got)
	}
	// The start of timeline 2 stops a recovery to the latest point from the backup on timeline 1.
	ts, err := output().TimelinesOf(stanza)
	if err != nil {
		t.Fatal(err)
	}
	gaps := output(append(timeline1, "0000000200000000000000A9")...).WALGaps(stanza, "")
	if len(gaps) != 1 || !ts[1].Blocks(gaps[0], stanza.Backup[0], 2) {
		t.Errorf("the dropped start of timeline 2 does not block a recovery to its end: %+v", gaps)
	}
}

// The archiver's part comes first, then the command after it, whose
// arguments arrive untouched.
func TestArchiverThenCommand(t *testing.T) {
	dir := t.TempDir()
	psql := "#!/bin/sh\nfor last; do :; done\ncase \"$last\" in *pg_stat_archiver*) echo '{\"archived_count\": 3}' ;; *) exit 3 ;; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "psql"), []byte(psql), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := ArchiverThenCommand([]string{"printf", "%s|", "a b", "$c", "'d'"})
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	archiver, next, ok := SplitArchiverThen(string(out))
	if !ok || archiver != `{"archived_count": 3}` || next != "a b|$c|'d'|" {
		t.Errorf("split %q into %q, %q, %v", out, archiver, next, ok)
	}
	if _, _, ok := SplitArchiverThen(`{"archived_count": 3}`); ok {
		t.Error("output without the separator split")
	}
}
