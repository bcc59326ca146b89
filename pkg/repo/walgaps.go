package repo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// segmentsPerLog is the number of WAL segments in a log file (the middle
// eight digits of a segment name) for the 16 MiB segments kubectl-pgo's
// databases are made with.
const segmentsPerLog = 0x100

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

// parseSegment reads a 24-digit segment name.
func parseSegment(name string) (segment, bool) {
	if len(name) != 24 {
		return segment{}, false
	}
	tl, err1 := strconv.ParseUint(name[:8], 16, 32)
	log, err2 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err3 := strconv.ParseUint(name[16:], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || seg >= segmentsPerLog {
		return segment{}, false
	}
	return segment{timeline: tl, pos: log*segmentsPerLog + seg}, true
}

func (s segment) name() string {
	return fmt.Sprintf("%08X%08X%08X", s.timeline, s.pos/segmentsPerLog, s.pos%segmentsPerLog)
}

// WALGaps returns the gaps in the WAL that InfoOutput listed, by
// repository and archive, oldest first. A timeline's WAL runs without a gap
// from its first segment to its last; one that does not lost what is
// missing. stanza's backups tell which gaps a later backup closed.
//
// acknowledged is the last segment PostgreSQL had seen archived
// (pg_stat_archiver's last_archived_wal) before the listing was made:
// PostgreSQL hands its segments to archive_command in order, so every
// segment up to it was pushed or dropped, while asynchronous archiving
// may still be pushing later ones, several at a time and not in order. A
// gap past it is in flight, not lost, and is left out. With acknowledged
// empty (unknown), every gap counts.
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
	var gaps []WALGap
	for _, k := range keys {
		byTimeline := map[uint64][]uint64{}
		for _, name := range o.WAL[k] {
			if s, ok := parseSegment(name); ok {
				byTimeline[s.timeline] = append(byTimeline[s.timeline], s.pos)
			}
		}
		var timelines []uint64
		for tl := range byTimeline {
			timelines = append(timelines, tl)
		}
		slices.Sort(timelines)
		for _, tl := range timelines {
			pos := byTimeline[tl]
			slices.Sort(pos)
			pos = slices.Compact(pos)
			for i := 1; i < len(pos); i++ {
				if pos[i] == pos[i-1]+1 {
					continue
				}
				first, last := segment{tl, pos[i-1] + 1}, segment{tl, pos[i] - 1}
				if known && (tl > ack.timeline || tl == ack.timeline && last.pos > ack.pos) {
					continue
				}
				gaps = append(gaps, WALGap{
					Repo: k.Repo, Archive: k.ID, First: first.name(), Last: last.name(),
					Segments: int(pos[i] - pos[i-1] - 1), Before: segment{tl, pos[i-1]}.name(),
					ClosedBy: closingBackup(stanza, k, last),
				})
			}
		}
	}
	return gaps
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

// segmentBytes is the size of a WAL segment: 16 MiB.
const segmentBytes = 1 << 24

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
	return on && (s.End == 0 || LSN(first.pos*segmentBytes) < s.End)
}
