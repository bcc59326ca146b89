// Timelines as PostgreSQL reads them: history files, the path from one timeline to another, which
// backup reaches which timeline, and which timeline was live at a time. Over 500 lines because it
// is one model, read best whole: each rule cites the others.

package repo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds what kubectl-pgo knows of PostgreSQL timelines: every
// restore that ends a recovery starts a new timeline, and PostgreSQL
// archives its history file (00000002.history), which lists the timelines
// it descends from and the LSN at which each was left. A backup can start a
// recovery that ends on timeline N only if it was taken on N's history:
// on one of N's ancestors, before the point where N's line left it.

// LSN is a PostgreSQL write-ahead log location.
type LSN uint64

// ParseLSN reads an LSN written as PostgreSQL does: "0/3000028".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		h, err1 := strconv.ParseUint(hi, 16, 32)
		l, err2 := strconv.ParseUint(lo, 16, 32)
		if err1 == nil && err2 == nil {
			return LSN(h<<32 | l), nil
		}
	}
	return 0, fmt.Errorf("%q is not an LSN (such as 0/3000028)", s)
}

// String writes l as PostgreSQL does.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// SegmentTimeline returns the timeline of a WAL segment (or history) file
// name: its first 8 hexadecimal digits.
func SegmentTimeline(name string) (uint32, error) {
	if len(name) < 8 {
		return 0, fmt.Errorf("%q is not a WAL file name", name)
	}
	n, err := strconv.ParseUint(name[:8], 16, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a WAL file name", name)
	}
	return uint32(n), nil
}

// HistoryFileName is the name of timeline id's history file.
func HistoryFileName(id uint32) string { return fmt.Sprintf("%08X.history", id) }

// Ancestor is a line of a history file: a timeline, and the LSN where the
// descendant's line left it (its switch point), with PostgreSQL's reason.
type Ancestor struct {
	Timeline uint32 `json:"timeline"`
	// End is the switch point: the history goes on on the next timeline
	// from here. Points before End on this timeline belong to the history.
	End    LSN    `json:"-"`
	Reason string `json:"reason"`
}

// ParseHistory reads the history file of a timeline.
func ParseHistory(content string) ([]Ancestor, error) {
	var out []Ancestor
	for i, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) < 2 {
			fields = strings.Fields(line)
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d of the history file is not 'timeline<TAB>LSN<TAB>reason': %q", i+1, line)
		}
		tli, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil || tli == 0 {
			return nil, fmt.Errorf("line %d of the history file has no timeline: %q", i+1, line)
		}
		end, err := ParseLSN(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d of the history file: %w", i+1, err)
		}
		a := Ancestor{Timeline: uint32(tli), End: end}
		if len(fields) == 3 {
			a.Reason = strings.TrimSpace(fields[2])
		}
		// A switch point may lie below the one before it: a recovery
		// along timeline 2 that stopped on timeline 1, before 2 forked off,
		// writes "2 <a point on 1>". The history then leaves 1 there (see
		// path).
		if len(out) > 0 && a.Timeline <= out[len(out)-1].Timeline {
			return nil, fmt.Errorf("line %d of the history file names an older timeline after a newer one: %q", i+1, line)
		}
		out = append(out, a)
	}
	return out, nil
}

// Timeline is one timeline of an archive.
type Timeline struct {
	ID uint32 `json:"id"`
	// Parent is the timeline this one forked off at ForkLSN; 0 for
	// timeline 1.
	Parent  uint32 `json:"parent,omitempty"`
	ForkLSN LSN    `json:"-"`
	// Reason is PostgreSQL's word for where the recovery that made this
	// timeline stopped: "before 2026-11-24 12:00:00+00", "no recovery
	// target specified" (the end of the WAL), "reached consistency".
	Reason string `json:"reason,omitempty"`
	// Began is when the timeline was created: when its history file was
	// archived (the promotion that created it, within a second). Zero for
	// timeline 1.
	Began time.Time `json:"began,omitzero"`
	// History is the ancestors, oldest first, from the history file.
	History []Ancestor `json:"-"`
}

// Timelines are the timelines of one archive (one database of a stanza in
// one repository), by id. Timeline 1 is always there.
type Timelines map[uint32]Timeline

// HistoryFile is a history file read from the repository, with the time
// it was stored there.
type HistoryFile struct {
	Name     string
	Content  string
	Archived time.Time
}

// NewTimelines builds the timelines from the history files of an archive.
func NewTimelines(files []HistoryFile) (Timelines, error) {
	ts := Timelines{1: {ID: 1}}
	for _, f := range files {
		id, err := SegmentTimeline(f.Name)
		if err != nil || f.Name != HistoryFileName(id) {
			return nil, fmt.Errorf("%q is not a history file name", f.Name)
		}
		hist, err := ParseHistory(f.Content)
		if err != nil {
			return nil, fmt.Errorf("history file %s: %w", f.Name, err)
		}
		if len(hist) == 0 || hist[len(hist)-1].Timeline >= id {
			return nil, fmt.Errorf("history file %s does not end with an older timeline", f.Name)
		}
		last := hist[len(hist)-1]
		ts[id] = Timeline{ID: id, Parent: last.Timeline, ForkLSN: last.End, Reason: last.Reason, Began: f.Archived.UTC(), History: hist}
		t := ts[id]
		t.Parent = ts.forkedOff(id)
		ts[id] = t
	}
	return ts, nil
}

// Latest is the newest timeline: the one a recovery follows by default
// (recovery_target_timeline 'latest'), and the one a running database is on
// after any restore.
func (ts Timelines) Latest() uint32 {
	var latest uint32 = 1
	for id := range ts {
		latest = max(latest, id)
	}
	return latest
}

// IDs are the timelines, oldest first.
func (ts Timelines) IDs() []uint32 {
	ids := make([]uint32, 0, len(ts))
	for id := range ts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// step is a timeline on the history of another: where that history leaves
// it (End, 0 for the last one), and the line of the history file that says
// so: the timeline that goes on from there (Child) and PostgreSQL's reason.
type step struct {
	Timeline uint32
	End      LSN
	Child    uint32
	Reason   string
}

// path is the history of timeline n, oldest first, ending with n itself.
// PostgreSQL reads a history file newest line first, so a line whose
// switch point is below an earlier line's cuts that earlier timeline's
// part there (and leaves the timelines in between with no part at all).
// Each step's End is that effective end, with the line that set it.
func (ts Timelines) path(n uint32) []step {
	t, ok := ts[n]
	if !ok {
		return nil
	}
	h := t.History
	steps := make([]step, len(h)+1)
	steps[len(h)] = step{Timeline: n}
	var cut step
	for i := len(h) - 1; i >= 0; i-- {
		child := n
		if i+1 < len(h) {
			child = h[i+1].Timeline
		}
		if i == len(h)-1 || h[i].End <= cut.End {
			cut = step{End: h[i].End, Child: child, Reason: h[i].Reason}
		}
		steps[i] = step{Timeline: h[i].Timeline, End: cut.End, Child: cut.Child, Reason: cut.Reason}
	}
	return steps
}

// stepOn returns the step of tli on n's history, and whether tli is on it.
func (ts Timelines) stepOn(n, tli uint32) (step, bool) {
	for _, s := range ts.path(n) {
		if s.Timeline == tli {
			return s, true
		}
	}
	return step{}, false
}

// forkedOff returns the timeline n forked off: the one its switch point
// lies on, which is the parent its history file names unless the recovery
// stopped on an older timeline, before the parent's own fork.
func (ts Timelines) forkedOff(n uint32) uint32 {
	p := ts.path(n)
	var parent uint32
	var begin LSN
	for _, s := range p[:max(len(p)-1, 0)] {
		if s.End > begin || parent == 0 {
			parent = s.Timeline
		}
		begin = max(begin, s.End)
	}
	return parent
}

// BackupTimeline returns the timeline a backup was taken on, from the name
// of its first WAL segment.
func BackupTimeline(b Backup) (uint32, error) {
	tli, err := SegmentTimeline(b.Archive.Start)
	if err != nil {
		return 0, fmt.Errorf("backup %s: cannot tell its timeline: %w", b.Label, err)
	}
	return tli, nil
}

// Reaches tells whether a recovery from backup b can end on timeline n:
// b was taken on n's history, and ended before n's line left its
// timeline. When it cannot, the error says why.
func (ts Timelines) Reaches(b Backup, n uint32) error {
	tli, err := BackupTimeline(b)
	if err != nil {
		return err
	}
	if _, ok := ts[n]; !ok {
		return fmt.Errorf("timeline %d is not in the archive", n)
	}
	st, ok := ts.stepOn(n, tli)
	if !ok {
		return fmt.Errorf("backup %s was taken on timeline %d, which is not in the history of timeline %d", b.Label, tli, n)
	}
	end := st.End
	if tli == n {
		return nil
	}
	stop, err := ParseLSN(b.LSN.Stop)
	if err != nil {
		return fmt.Errorf("backup %s: cannot tell where it ended: %w", b.Label, err)
	}
	if stop > end {
		return fmt.Errorf("backup %s ended at LSN %s on timeline %d, after timeline %d forked off it at %s",
			b.Label, stop, tli, st.Child, end)
	}
	return nil
}

// TargetTimeline is a --target-timeline: a number, "current" (the
// timeline of the backup restored) or "latest"; empty is latest.
type TargetTimeline string

// Target timelines by name.
const (
	TimelineCurrent = "current"
	TimelineLatest  = "latest"
)

// ParseTargetTimeline checks a --target-timeline.
func ParseTargetTimeline(s string) (TargetTimeline, error) {
	switch s {
	case "", TimelineCurrent, TimelineLatest:
		return TargetTimeline(s), nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err != nil || n == 0 {
		return "", fmt.Errorf("%q is not a timeline: use current, latest or a timeline number such as 2", s)
	}
	return TargetTimeline(s), nil
}

// Number returns the timeline's number, when it is one.
func (t TargetTimeline) Number() (uint32, bool) {
	n, err := strconv.ParseUint(string(t), 10, 32)
	return uint32(n), err == nil && n > 0
}

// Resolve returns the number of the target timeline, given the timeline of
// the backup restored (for current).
func (ts Timelines) Resolve(t TargetTimeline, backupTimeline uint32) (uint32, error) {
	switch t {
	case "", TimelineLatest:
		return ts.Latest(), nil
	case TimelineCurrent:
		return backupTimeline, nil
	}
	n, _ := t.Number()
	if _, ok := ts[n]; !ok {
		return 0, ts.unknownTimeline(n)
	}
	return n, nil
}

func (ts Timelines) unknownTimeline(n uint32) error {
	return fmt.Errorf("timeline %d does not exist in the archive; its timelines are %s (see kubectl pgo show backup)", n, ts.describeIDs())
}

func (ts Timelines) describeIDs() string {
	var parts []string
	for _, id := range ts.IDs() {
		parts = append(parts, strconv.FormatUint(uint64(id), 10))
	}
	return strings.Join(parts, ", ")
}

// LiveAt returns the timeline the database was writing at time t: the
// newest one created at or before t. A cluster has one primary, and each
// restore stops it before it starts the next timeline, so the timelines
// were live one after the other.
func (ts Timelines) LiveAt(t time.Time) uint32 {
	var live uint32 = 1
	for id, tl := range ts {
		if !tl.Began.IsZero() && !tl.Began.After(t) && id > live {
			live = id
		}
	}
	return live
}

// recoveryStop is the time where a recovery stopped, read from a history
// file's reason; known is false when the reason names no time.
func recoveryStop(reason string) (at time.Time, inclusive, endOfWAL, known bool) {
	switch {
	case reason == "no recovery target specified":
		return time.Time{}, false, true, true
	case strings.HasPrefix(reason, "before "), strings.HasPrefix(reason, "after "):
		word, rest, _ := strings.Cut(reason, " ")
		t, err := parseStopTime(rest)
		if err != nil {
			return time.Time{}, false, false, false
		}
		return t, word == "after", false, true
	}
	return time.Time{}, false, false, false
}

// stopTimeLayouts are how PostgreSQL writes a timestamptz in a history
// file's reason (timestamptz_to_str, ISO style).
var stopTimeLayouts = []string{
	"2006-01-02 15:04:05.999999-07",
	"2006-01-02 15:04:05.999999-07:00",
	"2006-01-02 15:04:05.999999-07:00:00",
}

var zoneSuffix = regexp.MustCompile(` [A-Z]{2,5}$`)

func parseStopTime(s string) (time.Time, error) {
	s = zoneSuffix.ReplaceAllString(strings.TrimSpace(s), "")
	for _, l := range stopTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// ErrAbandonedTimeline is wrapped by CheckTimeTarget when the time lies on
// a timeline that the target timeline's history left before that time.
var ErrAbandonedTimeline = errors.New("the time lies on an abandoned timeline")

// CheckTimeTarget tells whether a recovery along timeline n's history to
// time t gives the database as it was at t: t must lie on n itself (n was
// live then), or on an ancestor before the point where n's history left
// it. The error names the timeline to give instead.
func (ts Timelines) CheckTimeTarget(t time.Time, n uint32) error {
	live := ts.LiveAt(t)
	if live == n {
		return nil
	}
	if live > n {
		// n was abandoned before t: its archive ends before t.
		return fmt.Errorf("%w: at %s the database was on timeline %d (created %s), and timeline %d had been left behind: "+
			"use --target-timeline=%d to restore the database as it was at that time",
			ErrAbandonedTimeline, FormatTime(t), live, FormatTime(ts[live].Began), n, live)
	}
	st, onPath := ts.stepOn(n, live)
	if !onPath {
		return fmt.Errorf("%w: at %s the database was on timeline %d, which is not in the history of timeline %d: "+
			"add --target-timeline=%d to restore the database as it was at that time",
			ErrAbandonedTimeline, FormatTime(t), live, n, live)
	}
	end, child := st.End, st.Child
	stop, inclusive, endOfWAL, known := recoveryStop(st.Reason)
	switch {
	case endOfWAL:
		// The child was made from all of live's WAL: live's whole life is
		// in n's history.
		return nil
	case known && (t.Before(stop) || (inclusive && t.Equal(stop))):
		return nil
	case known:
		return fmt.Errorf("%w: at %s the database was on timeline %d, and timeline %d forked off it at LSN %s, at an earlier point (%s), "+
			"so timeline %d does not hold that state: add --target-timeline=%d to restore timeline %d as it was at %s",
			ErrAbandonedTimeline, FormatTime(t), live, child, end, st.Reason, n, live, live, FormatTime(t))
	}
	return &UnknownForkError{Time: t, Live: live, Child: child, Target: n, Fork: end, Reason: st.Reason}
}

// RestoreTarget is what a restore aims at, for SelectBackup.
type RestoreTarget struct {
	// Set is the backup the user chose; empty to let SelectBackup choose.
	Set      string
	Timeline TargetTimeline
	// Time is the target of a point-in-time restore; zero otherwise.
	Time time.Time
	// LSN is the target of --type=lsn; zero otherwise.
	LSN LSN
}

// Selection is the backup a restore starts from and the timeline its
// recovery ends on.
type Selection struct {
	Backup   Backup
	Timeline uint32
	// Timelines are those of the backup's archive.
	Timelines Timelines
}

// Reaching returns those of backups, from the selected backup's
// repository, that can start a recovery to the selection's timeline.
func (s Selection) Reaching(backups []Backup) []Backup {
	var out []Backup
	for _, b := range backups {
		if max(b.Database.RepoKey, 1) == max(s.Backup.Database.RepoKey, 1) && s.Timelines.Reaches(b, s.Timeline) == nil {
			out = append(out, b)
		}
	}
	return out
}

// timelinesOf returns the timelines of backup b's repository.
func timelinesOf(byRepo map[int]Timelines, b Backup) Timelines {
	if ts, ok := byRepo[max(b.Database.RepoKey, 1)]; ok {
		return ts
	}
	return Timelines{1: {ID: 1}}
}

// SelectBackup returns the backup to restore (backups oldest first, see
// Stanza.Backups): the chosen set, or the newest backup whose recovery can
// reach the target timeline, and the target. For a time target the backup
// must have ended before the time, for an LSN target at or before it, as
// pgBackRest and PostgreSQL require. A set or a target that no backup can
// reach is refused, with the backups that would work.
func SelectBackup(backups []Backup, byRepo map[int]Timelines, t RestoreTarget) (Selection, error) {
	if len(backups) == 0 {
		return Selection{}, ErrNoBackups
	}
	if n, ok := t.Timeline.Number(); ok {
		known := false
		for _, ts := range byRepo {
			_, in := ts[n]
			known = known || in
		}
		if !known {
			return Selection{}, timelinesOf(byRepo, backups[len(backups)-1]).unknownTimeline(n)
		}
	}
	if t.Set != "" {
		i := slices.IndexFunc(backups, func(b Backup) bool { return b.Label == t.Set })
		if i < 0 {
			return Selection{}, fmt.Errorf("backup %s does not exist", t.Set)
		}
		b := backups[i]
		ts := timelinesOf(byRepo, b)
		tli, err := BackupTimeline(b)
		if err != nil {
			return Selection{}, err
		}
		n, err := ts.Resolve(t.Timeline, tli)
		if err != nil {
			return Selection{}, err
		}
		if err := ts.Reaches(b, n); err != nil {
			return Selection{}, fmt.Errorf("backup %s cannot be restored to timeline %d: %w. Backups that can:\n%s",
				b.Label, n, err, describeUsable(backups, byRepo, t))
		}
		return Selection{Backup: b, Timeline: n, Timelines: ts}, nil
	}
	for i := len(backups) - 1; i >= 0; i-- {
		b := backups[i]
		if cannotStart(b, byRepo, t) == nil {
			ts := timelinesOf(byRepo, b)
			tli, _ := BackupTimeline(b)
			n, _ := ts.Resolve(t.Timeline, tli)
			return Selection{Backup: b, Timeline: n, Timelines: ts}, nil
		}
	}
	var why []string
	for _, b := range backups {
		why = append(why, fmt.Sprintf("  %s (%s, ended %s): %v", b.Label, b.Type, FormatTime(b.Timestamp.StopTime()), cannotStart(b, byRepo, t)))
	}
	return Selection{}, fmt.Errorf("no backup can start this restore:\n%s", strings.Join(why, "\n"))
}

// cannotStart tells why backup b cannot start a restore to target t (nil when
// it can).
func cannotStart(b Backup, byRepo map[int]Timelines, t RestoreTarget) error {
	ts := timelinesOf(byRepo, b)
	tli, err := BackupTimeline(b)
	if err != nil {
		return err
	}
	n, err := ts.Resolve(t.Timeline, tli)
	if err != nil {
		return err
	}
	if err := ts.Reaches(b, n); err != nil {
		return err
	}
	if !t.Time.IsZero() && b.Timestamp.Stop >= t.Time.Unix() {
		return fmt.Errorf("it ended at %s, not before the target %s", FormatTime(b.Timestamp.StopTime()), FormatTime(t.Time))
	}
	if t.LSN > 0 {
		stop, err := ParseLSN(b.LSN.Stop)
		if err != nil {
			return err
		}
		if stop > t.LSN {
			return fmt.Errorf("it ended at LSN %s, after the target %s", stop, t.LSN)
		}
	}
	return nil
}

// describeUsable lists the backups that can start a restore to t (as if
// no set were chosen), one a line.
func describeUsable(backups []Backup, byRepo map[int]Timelines, t RestoreTarget) string {
	t.Set = ""
	var lines []string
	for _, b := range backups {
		if cannotStart(b, byRepo, t) == nil {
			lines = append(lines, fmt.Sprintf("  %s (%s, ended %s)", b.Label, b.Type, FormatTime(b.Timestamp.StopTime())))
		}
	}
	if len(lines) == 0 {
		return "  none"
	}
	return strings.Join(lines, "\n")
}

// walSegmentSize is PostgreSQL's default WAL segment size, which the
// clusters of kubectl pgo use (initdb without --wal-segsize).
const walSegmentSize = 16 << 20

// SegmentOf is the name of the WAL segment file that holds lsn on
// timeline tli.
func SegmentOf(tli uint32, lsn LSN) string {
	n := uint64(lsn) / walSegmentSize
	perID := uint64(0x100000000 / walSegmentSize)
	return fmt.Sprintf("%08X%08X%08X", tli, n/perID, n%perID)
}

// SegmentNumber is the position of a WAL segment file name in the WAL,
// whatever its timeline: later segments have larger numbers.
func SegmentNumber(name string) (uint64, error) {
	if len(name) < 24 {
		return 0, fmt.Errorf("%q is not a WAL segment name", name)
	}
	hi, err1 := strconv.ParseUint(name[8:16], 16, 32)
	lo, err2 := strconv.ParseUint(name[16:24], 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not a WAL segment name", name)
	}
	return hi*(0x100000000/walSegmentSize) + lo, nil
}
