package repo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// WALGap is a run of WAL segments missing from an archive between two
// that it holds: segments that asynchronous archiving dropped when its
// queue exceeded archive-push-queue-max, or that were lost. No recovery can
// pass it; a backup that starts after it is where recovery can start again.
type WALGap struct {
	Repo    int    `json:"repo"`
	Archive string `json:"archive"`
	// First and Last are the first and the last missing segment.
	First string `json:"first"`
	Last  string `json:"last"`
	// Segments is how many are missing.
	Segments int `json:"segments"`
	// Before is the last segment the archive holds before the gap: the
	// furthest a recovery from an older backup can go.
	Before string `json:"before"`
	// ClosedBy is the oldest backup that started after the gap; empty when
	// none did, and then no point after Before can be recovered.
	ClosedBy string `json:"closedBy,omitempty"`
}

// Closed tells whether a backup started after the gap.
func (g WALGap) Closed() bool { return g.ClosedBy != "" }

// String says which segments are missing, from where.
func (g WALGap) String() string {
	what := g.First
	if g.Segments > 1 {
		what = fmt.Sprintf("%s to %s (%d segments)", g.First, g.Last, g.Segments)
	}
	return fmt.Sprintf("repo%d is missing WAL %s after %s", g.Repo, what, g.Before)
}

// segment is a WAL segment's timeline and position on it.
type segment struct {
	timeline uint64
	pos      uint64
}

// parseSegment reads a 24-digit segment name (SegmentTimeline,
// SegmentNumber).
func parseSegment(name string) (segment, bool) {
	tl, err1 := SegmentTimeline(name)
	pos, err2 := SegmentNumber(name)
	if len(name) != 24 || err1 != nil || err2 != nil || SegmentOf(tl, LSN(pos*walSegmentSize)) != name {
		return segment{}, false
	}
	return segment{timeline: uint64(tl), pos: pos}, true
}

func (s segment) name() string { return SegmentOf(uint32(s.timeline), LSN(s.pos*walSegmentSize)) }

// WALGaps returns the gaps in the WAL that InfoOutput listed, by
// repository and archive, oldest first. A timeline's WAL runs without a gap
// from the segment of its fork (the switch point its history file names)
// to the last segment PostgreSQL saw archived; what is missing in between
// was lost. stanza's backups tell which gaps a later backup closed.
//
// acknowledged is the last segment PostgreSQL had seen archived
// (pg_stat_archiver's last_archived_wal) before the listing was made:
// PostgreSQL hands its segments to archive_command in order, so every
// segment up to it was pushed or dropped, while asynchronous archiving
// may still be pushing later ones, several at a time and not in order. A
// gap past it is in flight, not lost, and is left out; segments missing
// up to it after the newest one archived were dropped. With acknowledged
// empty (unknown, or nothing in flight), every gap between two archived
// segments counts.
func (o InfoOutput) WALGaps(stanza Stanza, acknowledged string) []WALGap {
	var keys []ArchiveKey
	for k := range o.WAL {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ArchiveKey) int {
		if a.Repo != b.Repo {
			return a.Repo - b.Repo
		}
		return strings.Compare(a.ID, b.ID)
	})
	ack, known := acknowledgedSegment(acknowledged)
	timelines, _ := o.TimelinesOf(stanza) // without them, only the gaps between two segments
	var gaps []WALGap
	for _, k := range keys {
		var ts Timelines
		if a, ok := stanza.CurrentArchive(k.Repo); ok && a.ID == k.ID {
			ts = timelines[k.Repo]
		}
		for _, r := range missingRuns(o.WAL[k], ts, ack, known) {
			gaps = append(gaps, WALGap{
				Repo: k.Repo, Archive: k.ID, First: r.first.name(), Last: r.last.name(),
				Segments: int(r.last.pos - r.first.pos + 1), Before: r.before.name(),
				ClosedBy: closingBackup(stanza, k, r.last),
			})
		}
	}
	return gaps
}

// run is a run of missing segments, and the segment before it.
type run struct{ first, last, before segment }

// missingRuns finds the runs of segments missing from one archive's
// listing: between two segments of a timeline, from a timeline's fork to
// its first segment (ts, the archive's timelines, when known), and after
// a timeline's last segment up to the acknowledged one (ack, when known).
// A run past ack is in flight and left out.
func missingRuns(names []string, ts Timelines, ack segment, known bool) []run {
	byTimeline := map[uint64][]uint64{}
	for _, name := range names {
		if s, ok := parseSegment(name); ok {
			byTimeline[s.timeline] = append(byTimeline[s.timeline], s.pos)
		}
	}
	// The acknowledged segment bounds the timeline it is on, unless it was
	// a history file (a timeline's start: ack.pos is then the largest).
	tail := known && ack.pos != math.MaxUint64
	// A timeline begins at the segment that holds its fork's LSN; the
	// parent's WAL before it ends in the segment of the LSN before (the
	// one before, when the fork is at a segment's start).
	begins, parents := map[uint64]uint64{}, map[uint64]segment{}
	for id, t := range ts {
		if id > 1 && t.ForkLSN > 0 {
			tl := uint64(id)
			begins[tl] = uint64(t.ForkLSN) / walSegmentSize
			parents[tl] = segment{uint64(t.Parent), (uint64(t.ForkLSN) - 1) / walSegmentSize}
		}
	}
	if _, ok := byTimeline[ack.timeline]; !ok && tail {
		byTimeline[ack.timeline] = nil // begun, and nothing of it archived
	}
	var timelines []uint64
	for tl := range byTimeline {
		timelines = append(timelines, tl)
	}
	slices.Sort(timelines)
	var runs []run
	for _, tl := range timelines {
		pos := byTimeline[tl]
		slices.Sort(pos)
		pos = slices.Compact(pos)
		add := func(from, to uint64, before segment) {
			if from > to || known && (tl > ack.timeline || tl == ack.timeline && to > ack.pos) {
				return // in flight
			}
			runs = append(runs, run{first: segment{tl, from}, last: segment{tl, to}, before: before})
		}
		begin, forked := begins[tl]
		switch {
		case forked && len(pos) > 0 && pos[0] > begin:
			add(begin, pos[0]-1, parents[tl])
		case forked && len(pos) == 0 && tail && tl == ack.timeline:
			add(begin, ack.pos, parents[tl])
		}
		for i := 1; i < len(pos); i++ {
			add(pos[i-1]+1, pos[i]-1, segment{tl, pos[i-1]})
		}
		if tail && tl == ack.timeline && len(pos) > 0 && pos[len(pos)-1] < ack.pos {
			add(pos[len(pos)-1]+1, ack.pos, segment{tl, pos[len(pos)-1]})
		}
	}
	return runs
}

// acknowledgedSegment reads pg_stat_archiver's last archived file: a
// segment, a backup history file (its segment), or a timeline history
// file, which a new timeline archives first: then nothing of that
// timeline is settled yet, and every older timeline is.
func acknowledgedSegment(name string) (segment, bool) {
	if len(name) >= 24 {
		if s, ok := parseSegment(name[:24]); ok {
			return s, true
		}
	}
	if tl, found := strings.CutSuffix(name, ".history"); found && len(tl) == 8 {
		if n, err := strconv.ParseUint(tl, 16, 32); err == nil && n > 1 {
			return segment{timeline: n - 1, pos: math.MaxUint64}, true
		}
	}
	return segment{}, false
}

// closingBackup is the oldest backup of archive k that started after
// segment last: on its timeline past it, or on a later timeline.
func closingBackup(stanza Stanza, k ArchiveKey, last segment) string {
	for _, b := range stanza.Backups(k.Repo) {
		start, ok := parseSegment(b.Archive.Start)
		if !ok || b.Database.ID != 0 && archiveDBID(k.ID) != 0 && b.Database.ID != archiveDBID(k.ID) {
			continue
		}
		if start.timeline > last.timeline || start.timeline == last.timeline && start.pos > last.pos {
			return b.Label
		}
	}
	return ""
}

// archiveDBID is the database id of an archive id ("15-1" is 1).
func archiveDBID(id string) int {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '-' {
			n, _ := strconv.Atoi(id[i+1:])
			return n
		}
	}
	return 0
}

// Blocks tells whether gap g stops a recovery that starts at backup b
// and replays the history of timeline n to its end (a restore to the
// latest point): g lies on a timeline of that history, before the point
// where the history leaves it, and after the backup's first segment.
// PostgreSQL then ends the recovery at the gap without an error, and
// every commit after it is lost.
func (ts Timelines) Blocks(g WALGap, b Backup, n uint32) bool {
	first, ok1 := parseSegment(g.First)
	last, ok2 := parseSegment(g.Last)
	start, ok3 := parseSegment(b.Archive.Start)
	if !ok1 || !ok2 || !ok3 || last.pos < start.pos || first.timeline < start.timeline {
		return false
	}
	if len(ts) == 0 {
		return first.timeline == uint64(n)
	}
	s, on := ts.stepOn(n, uint32(first.timeline))
	return on && (s.End == 0 || LSN(first.pos*walSegmentSize) < s.End)
}

// ArchiverSeparator is the line between ArchiverThenCommand's two parts.
const ArchiverSeparator = "@@archiver-end"

// ArchiverThenCommand runs ArchiverCommand, then the command next, in one
// exec into the database container (whose pgBackRest reaches every
// repository, through the repository host for a local one): what
// PostgreSQL saw archived is read before next lists the archive, as
// WALGaps needs. SplitArchiverThen splits its output.
func ArchiverThenCommand(next []string) []string {
	psql := strings.Join(ArchiverCommand()[:len(ArchiverCommand())-1], " ")
	script := psql + ` "$1" || exit; echo ` + ArchiverSeparator + `; shift; exec "$@"`
	return append([]string{"sh", "-c", script, "sh", ArchiverQuery}, next...)
}

// SplitArchiverThen splits ArchiverThenCommand's output into psql's and
// next's; ok is false when psql did not finish.
func SplitArchiverThen(out string) (archiver, next string, ok bool) {
	archiver, next, ok = strings.Cut(out, "\n"+ArchiverSeparator+"\n")
	return archiver, next, ok
}
