package repo

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Summary is a stanza of `pgbackrest info` in the form kubectl-pgo
// prints: the JSON and YAML of `show backup`, and its text view.
type Summary struct {
	Stanza string `json:"stanza"`
	// Status is "ok", "no backups yet" or "error".
	Status        string `json:"status"`
	StatusCode    int    `json:"statusCode"`
	StatusMessage string `json:"statusMessage"`
	Cipher        string `json:"cipher"`
	// BackupRunning is pgBackRest's backup lock, as seen where info ran.
	BackupRunning bool              `json:"backupRunning,omitempty"`
	Repos         []RepoSummary     `json:"repos"`
	Databases     []DatabaseSummary `json:"databases"`
	Backups       []BackupSummary   `json:"backups"`
	// CurrentTimeline is the newest timeline of the archive, the one the
	// database is on; Timelines are every timeline with where it forked
	// off. Both are absent when the history was not read.
	CurrentTimeline uint32            `json:"currentTimeline,omitempty"`
	Timelines       []TimelineSummary `json:"timelines,omitempty"`
	// Errors are pgBackRest's messages when Status is "error".
	Errors []string `json:"errors,omitempty"`
}

// RepoSummary is the status of the stanza in one repository.
type RepoSummary struct {
	Key     int    `json:"key"`
	Cipher  string `json:"cipher"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// DatabaseSummary is one PostgreSQL system of the stanza and its WAL
// archive in each repository. Current is the one backups are taken of now.
type DatabaseSummary struct {
	ID       int              `json:"id"`
	Version  string           `json:"version"`
	SystemID uint64           `json:"systemID"`
	Current  bool             `json:"current"`
	Archives []ArchiveSummary `json:"archives"`
}

// ArchiveSummary is the WAL archive of a database in a repository: its id
// (e.g. "15-1") and the oldest and newest segment, empty when none.
type ArchiveSummary struct {
	Repo int    `json:"repo"`
	ID   string `json:"id"`
	Min  string `json:"min,omitempty"`
	Max  string `json:"max,omitempty"`
}

// BackupSummary is one backup set. Times are UTC; sizes are bytes.
type BackupSummary struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	// Prior is the backup this one is based on; References are every
	// backup it needs files from (empty for a full backup).
	Prior      string    `json:"prior,omitempty"`
	References []string  `json:"references"`
	Start      time.Time `json:"start"`
	Stop       time.Time `json:"stop"`
	WALStart   string    `json:"walStart"`
	WALStop    string    `json:"walStop"`
	LSNStart   string    `json:"lsnStart"`
	LSNStop    string    `json:"lsnStop"`
	// DatabaseSize is the size of the database; BackupSize what this
	// backup copied of it. RepositorySize and RepositoryBackupSize are the
	// same, compressed, in the repository; RepositorySize is 0 for a
	// bundled backup (repo-bundle, 17 and newer), whose size in the
	// repository pgBackRest does not count.
	DatabaseSize         int64             `json:"databaseSize"`
	BackupSize           int64             `json:"backupSize"`
	RepositorySize       int64             `json:"repositorySize"`
	RepositoryBackupSize int64             `json:"repositoryBackupSize"`
	DatabaseID           int               `json:"databaseID"`
	Repo                 int               `json:"repo"`
	Error                bool              `json:"error"`
	Annotations          map[string]string `json:"annotations,omitempty"`
	PGBackRestVersion    string            `json:"pgbackrestVersion"`
	// Standby is the replica's pod the files were copied from (backup
	// --from-standby); empty when they came from the primary.
	Standby string `json:"standby,omitempty"`
	// Timeline is the timeline the backup was taken on.
	Timeline uint32 `json:"timeline,omitempty"`
	// ReachesCurrentTimeline tells whether a restore of the current
	// timeline (a restore to the latest point, or to a time on it) can
	// start from this backup; TimelineNote says why not.
	ReachesCurrentTimeline *bool  `json:"reachesCurrentTimeline,omitempty"`
	TimelineNote           string `json:"timelineNote,omitempty"`
}

// TimelineSummary is a timeline of the archive: where it forked off its
// parent (LSN, and PostgreSQL's reason), and when it was created.
type TimelineSummary struct {
	ID      uint32     `json:"id"`
	Parent  uint32     `json:"parent,omitempty"`
	ForkLSN string     `json:"forkLSN,omitempty"`
	Reason  string     `json:"reason,omitempty"`
	Created *time.Time `json:"created,omitempty"`
}

// AddTimelines marks each backup with its timeline and whether it can
// start a restore of the current timeline, and lists the timelines (those
// of the lowest repository that has them).
func (s *Summary) AddTimelines(byRepo map[int]Timelines) {
	keys := slices.Sorted(maps.Keys(byRepo))
	if len(keys) == 0 {
		return
	}
	ts := byRepo[keys[0]]
	s.CurrentTimeline = ts.Latest()
	for _, id := range ts.IDs() {
		t := ts[id]
		ls := TimelineSummary{ID: id, Parent: t.Parent, Reason: t.Reason}
		if t.Parent != 0 {
			ls.ForkLSN = t.ForkLSN.String()
		}
		if !t.Began.IsZero() {
			created := t.Began
			ls.Created = &created
		}
		s.Timelines = append(s.Timelines, ls)
	}
	for i := range s.Backups {
		b := &s.Backups[i]
		bts, ok := byRepo[max(b.Repo, 1)]
		if !ok {
			continue
		}
		backup := Backup{Label: b.Label, Archive: WALRange{Start: b.WALStart}, LSN: LSNRange{Stop: b.LSNStop}}
		tli, err := BackupTimeline(backup)
		if err != nil {
			continue
		}
		b.Timeline = tli
		err = bts.Reaches(backup, bts.Latest())
		ok = err == nil
		b.ReachesCurrentTimeline = &ok
		if err != nil {
			b.TimelineNote = err.Error()
		}
	}
}

// Status strings of a Summary.
const (
	SummaryOK        = "ok"
	SummaryNoBackups = "no backups yet"
	SummaryError     = "error"
)

// Summarize turns a stanza of `pgbackrest info` into a Summary: backups
// oldest first, times in UTC, each database with its WAL archive.
func Summarize(s Stanza) Summary {
	sum := Summary{
		Stanza:        s.Name,
		StatusCode:    s.Status.Code,
		StatusMessage: s.Status.Message,
		Cipher:        s.Cipher,
		BackupRunning: s.BackupRunning(),
		Repos:         []RepoSummary{},
		Databases:     []DatabaseSummary{},
		Backups:       []BackupSummary{},
	}
	switch err := s.Err(); {
	case err != nil:
		sum.Status = SummaryError
		sum.Errors = strings.Split(err.Error(), "\n")
	case len(s.Backup) == 0:
		sum.Status = SummaryNoBackups
	default:
		sum.Status = SummaryOK
	}
	for _, r := range s.Repo {
		sum.Repos = append(sum.Repos, RepoSummary{Key: r.Key, Cipher: r.Cipher, Code: r.Status.Code, Message: r.Status.Message})
	}
	current := 0
	for _, db := range s.DB {
		current = max(current, db.ID)
	}
	// pgBackRest lists a database once per repository.
	for _, db := range s.DB {
		if slices.ContainsFunc(sum.Databases, func(d DatabaseSummary) bool { return d.ID == db.ID }) {
			continue
		}
		d := DatabaseSummary{ID: db.ID, Version: db.Version, SystemID: db.SystemID, Current: db.ID == current, Archives: []ArchiveSummary{}}
		for _, a := range s.Archive {
			if a.Database.ID == db.ID {
				d.Archives = append(d.Archives, ArchiveSummary{Repo: a.Database.RepoKey, ID: a.ID, Min: a.Min, Max: a.Max})
			}
		}
		sum.Databases = append(sum.Databases, d)
	}
	for _, b := range SortBackups(s.Backup) {
		refs := b.Reference
		if refs == nil {
			refs = []string{}
		}
		sum.Backups = append(sum.Backups, BackupSummary{
			Label:                b.Label,
			Type:                 b.Type,
			Prior:                b.Prior,
			References:           refs,
			Start:                b.Timestamp.StartTime(),
			Stop:                 b.Timestamp.StopTime(),
			WALStart:             b.Archive.Start,
			WALStop:              b.Archive.Stop,
			LSNStart:             b.LSN.Start,
			LSNStop:              b.LSN.Stop,
			DatabaseSize:         b.Info.Size,
			BackupSize:           b.Info.Delta,
			RepositorySize:       b.Info.Repository.Size,
			RepositoryBackupSize: b.Info.Repository.Delta,
			DatabaseID:           b.Database.ID,
			Repo:                 b.Database.RepoKey,
			Error:                b.Error,
			Annotations:          b.Annotation,
			Standby:              b.Annotation[AnnotationStandby],
			PGBackRestVersion:    b.Backrest.Version,
		})
	}
	return sum
}

// SortBackups returns the backups oldest first: by start time, then by
// label (a label starts with the time of its full backup).
func SortBackups(backups []Backup) []Backup {
	sorted := slices.Clone(backups)
	slices.SortStableFunc(sorted, func(a, b Backup) int {
		return cmp.Or(cmp.Compare(a.Timestamp.Start, b.Timestamp.Start), strings.Compare(a.Label, b.Label))
	})
	return sorted
}

// WriteText writes the readable view of the summary, in the layout of PGO
// v4's `pgo show backup` (4.3 and later), with what it got wrong fixed:
// the real WAL archive min and max, and times in UTC. Every line starts
// with indent.
func (s Summary) WriteText(w io.Writer, indent string) error {
	p := &textWriter{w: w, indent: indent}
	p.line(0, "stanza: %s", s.Stanza)
	status := s.Status
	if s.Status == SummaryError {
		status = fmt.Sprintf("error (%s)", s.StatusMessage)
	}
	if s.BackupRunning {
		status += " (backup/expire running)"
	}
	p.line(1, "status: %s", status)
	p.line(1, "cipher: %s", orNone(s.Cipher))
	for _, e := range s.Errors {
		p.line(1, "error: %s", e)
	}
	if len(s.Repos) > 1 {
		for _, r := range s.Repos {
			p.line(1, "repo%d: %s", r.Key, r.Message)
		}
	}
	// Newest database first, as pgBackRest prints them.
	dbs := slices.Clone(s.Databases)
	slices.SortFunc(dbs, func(a, b DatabaseSummary) int { return cmp.Compare(b.ID, a.ID) })
	for _, db := range dbs {
		p.blank()
		which := "prior"
		if db.Current {
			which = "current"
		}
		p.line(1, "db (%s): PostgreSQL %s, system id %d", which, db.Version, db.SystemID)
		multiRepo := len(s.Repos) > 1
		if len(db.Archives) == 0 {
			p.line(2, "wal archive min/max: none")
		}
		for _, a := range db.Archives {
			where := a.ID
			if multiRepo {
				where = fmt.Sprintf("repo%d, %s", a.Repo, a.ID)
			}
			if a.Min == "" {
				p.line(2, "wal archive min/max (%s): none archived yet", where)
			} else {
				p.line(2, "wal archive min/max (%s): %s / %s", where, a.Min, a.Max)
			}
		}
		if db.Current && len(s.Timelines) > 1 {
			p.line(2, "timelines (current %d):", s.CurrentTimeline)
			for _, t := range s.Timelines {
				if t.Parent == 0 {
					p.line(3, "%d", t.ID)
					continue
				}
				created := ""
				if t.Created != nil {
					created = ", created " + formatTime(*t.Created)
				}
				p.line(3, "%d: forked off %d at %s (%s)%s", t.ID, t.Parent, t.ForkLSN, orNone(t.Reason), created)
			}
		}
		for _, b := range s.Backups {
			if b.DatabaseID != db.ID {
				continue
			}
			p.blank()
			p.line(2, "%s backup: %s", b.Type, b.Label)
			if multiRepo {
				p.line(3, "repository: repo%d", b.Repo)
			}
			p.line(3, "timestamp start/stop: %s / %s", formatTime(b.Start), formatTime(b.Stop))
			p.line(3, "wal start/stop: %s / %s", b.WALStart, b.WALStop)
			switch b.Standby {
			case AnyStandby:
				p.line(3, "copied from: a standby (pgBackRest chose it among the instances)")
			case "":
				p.line(3, "copied from: the primary")
			default:
				p.line(3, "copied from: standby %s", b.Standby)
			}
			if r := b.ReachesCurrentTimeline; r != nil {
				if *r {
					p.line(3, "timeline: %d, restores to the current timeline %d: yes", b.Timeline, s.CurrentTimeline)
				} else {
					p.line(3, "timeline: %d, restores to the current timeline %d: no (%s; use --target-timeline=%d to restore its timeline)",
						b.Timeline, s.CurrentTimeline, strings.TrimPrefix(b.TimelineNote, "backup "+b.Label+" "), b.Timeline)
				}
			}
			p.line(3, "database size: %s, database backup size: %s", FormatBytes(b.DatabaseSize), FormatBytes(b.BackupSize))
			if b.RepositorySize > 0 {
				p.line(3, "repository size: %s, repository backup size: %s", FormatBytes(b.RepositorySize), FormatBytes(b.RepositoryBackupSize))
			} else {
				p.line(3, "repository backup size: %s", FormatBytes(b.RepositoryBackupSize))
			}
			p.line(3, "%s", strings.TrimSpace("backup reference list: "+strings.Join(b.References, ", ")))
			if b.Prior != "" {
				p.line(3, "prior backup: %s", b.Prior)
			}
			if len(b.Annotations) > 0 {
				keys := make([]string, 0, len(b.Annotations))
				for k := range b.Annotations {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for i, k := range keys {
					keys[i] = k + "=" + b.Annotations[k]
				}
				p.line(3, "annotations: %s", strings.Join(keys, ", "))
			}
			if b.Error {
				p.line(3, "error: a file of this backup failed its checksum; restore from another backup")
			}
		}
	}
	if len(s.Backups) == 0 && s.Status != SummaryError {
		p.blank()
		p.line(1, "no backups yet")
	}
	return p.err
}

type textWriter struct {
	w      io.Writer
	indent string
	err    error
}

func (p *textWriter) line(level int, format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, "%s%s%s\n", p.indent, strings.Repeat("    ", level), fmt.Sprintf(format, args...))
}

func (p *textWriter) blank() {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, "\n")
	}
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// FormatBytes writes a size in binary units with one decimal, as PGO v4
// did: 512B, 4.3MiB, 22.1GiB.
func FormatBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%dB", n)
	}
	f := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for (f >= 1024 || f <= -1024) && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f%s", f, units[i])
}
