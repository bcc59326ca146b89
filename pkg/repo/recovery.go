package repo

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ErrNoBackups means that the stanza exists but holds no backup to restore
// from.
var ErrNoBackups = errors.New("the repository holds no backups")

// walSegment matches a WAL segment name: timeline, log and segment, 8 hex
// digits each.
var walSegment = regexp.MustCompile(`^[0-9A-F]{24}$`)

// Backups returns the backups that can be restored, oldest first: those of
// the repository key repoKey (every repository when 0), without the ones
// pgBackRest marked with an error.
func (s Stanza) Backups(repoKey int) []Backup {
	var out []Backup
	for _, b := range s.Backup {
		if b.Error || (repoKey != 0 && b.Database.RepoKey != 0 && b.Database.RepoKey != repoKey) {
			continue
		}
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b Backup) int {
		if a.Timestamp.Stop != b.Timestamp.Stop {
			return int(a.Timestamp.Stop - b.Timestamp.Stop)
		}
		return strings.Compare(a.Label, b.Label)
	})
	return out
}

// FindBackup returns the backup with the given label, in any repository.
func (s Stanza) FindBackup(label string) (Backup, bool) {
	for _, b := range s.Backup {
		if b.Label == label {
			return b, true
		}
	}
	return Backup{}, false
}

// CurrentArchive returns the WAL archive that holds the newest WAL: that of
// the newest database (the highest id) in repository repoKey (any when 0)
// that has archived anything. ok is false when no WAL was archived yet.
func (s Stanza) CurrentArchive(repoKey int) (a Archive, ok bool) {
	for _, c := range s.Archive {
		if c.Max == "" || (repoKey != 0 && c.Database.RepoKey != 0 && c.Database.RepoKey != repoKey) {
			continue
		}
		if !ok || c.Database.ID > a.Database.ID || (c.Database.ID == a.Database.ID && c.Max > a.Max) {
			a, ok = c, true
		}
	}
	return a, ok
}

// SegmentPath returns where a WAL segment of archive a is stored in a posix
// repository at repoPath, as a directory and the prefix of the file name:
// pgBackRest appends "-<sha1>" and the compression extension to the name.
func SegmentPath(repoPath, stanza string, a Archive, segment string) (dir, prefix string, err error) {
	if !walSegment.MatchString(segment) {
		return "", "", fmt.Errorf("%q is not a WAL segment name", segment)
	}
	if a.ID == "" || strings.ContainsAny(a.ID, "/ ") {
		return "", "", fmt.Errorf("archive id %q is not valid", a.ID)
	}
	stanza = orDefault(stanza, StanzaName)
	return path.Join(repoPath, "archive", stanza, a.ID, segment[:16]), segment, nil
}

// RecoveryWindow is the range of times a point-in-time restore can reach:
// from the end of the oldest backup, when the database it holds is
// consistent, to the moment the newest archived WAL was stored, after which
// nothing was archived.
type RecoveryWindow struct {
	// Start is the earliest target: the end of the oldest backup, rounded
	// up to the second (pgBackRest records whole seconds).
	Start time.Time
	// End is the latest target: when the newest WAL segment was archived,
	// or the end of the newest backup if that is later.
	End time.Time
	// Oldest and Newest are the first and the last backup.
	Oldest, Newest Backup
	// LastWAL is the newest archived WAL segment ("" when unknown).
	LastWAL string
}

// NewRecoveryWindow returns the recovery window of the backups (see
// Backups; at least one) and the time the newest WAL segment lastWAL was
// archived (zero when unknown).
func NewRecoveryWindow(backups []Backup, lastWAL string, lastArchived time.Time) (RecoveryWindow, error) {
	if len(backups) == 0 {
		return RecoveryWindow{}, ErrNoBackups
	}
	oldest, newest := backups[0], backups[len(backups)-1]
	w := RecoveryWindow{
		Start:   oldest.Timestamp.StopTime().Add(time.Second),
		End:     newest.Timestamp.StopTime().Add(time.Second),
		Oldest:  oldest,
		Newest:  newest,
		LastWAL: lastWAL,
	}
	if lastArchived.After(w.End) {
		w.End = lastArchived.UTC()
	}
	return w, nil
}

// Check refuses a target outside the window, saying why and what the
// window is.
func (w RecoveryWindow) Check(target time.Time) error {
	switch {
	case target.Before(w.Start):
		return fmt.Errorf("target %s is before the end of the oldest backup (%s, which ended at %s): "+
			"the earliest point in time a restore can reach is %s",
			FormatTime(target), w.Oldest.Label, FormatTime(w.Oldest.Timestamp.StopTime()), FormatTime(w.Start))
	case target.After(w.End):
		what := "the newest backup ended"
		if w.LastWAL != "" {
			what = fmt.Sprintf("the newest WAL segment (%s) was archived", w.LastWAL)
		}
		return fmt.Errorf("target %s is after the last archived WAL: %s at %s, so nothing later can be replayed; "+
			"the latest point in time a restore can reach is %s (restore without a target to replay all archived WAL)",
			FormatTime(target), what, FormatTime(w.End), FormatTime(w.End))
	}
	return nil
}

// String is the window as two times.
func (w RecoveryWindow) String() string {
	return FormatTime(w.Start) + " .. " + FormatTime(w.End)
}

// TimeLayout is how FormatTime writes a time, which PostgreSQL and
// pgBackRest read as a timestamp with time zone.
const TimeLayout = "2006-01-02 15:04:05.999999-07"

// FormatTime writes t in UTC with TimeLayout, e.g.
// "2026-11-24 12:00:00.25+00".
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// targetLayouts are the formats ParseTarget accepts: PostgreSQL's
// (a space, and an offset of hours or hours and minutes) and RFC 3339.
// Fractions of a second are accepted after the seconds by every layout.
var targetLayouts = []string{
	"2006-01-02 15:04:05-07",
	"2006-01-02 15:04:05-07:00",
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05-07",
	"2006-01-02T15:04:05-0700",
	time.RFC3339,
}

// TargetExample is a valid target, for error messages.
const TargetExample = "'2026-11-24 12:00:00+00' or 2026-11-24T12:00:00Z"

// ParseTarget reads a point-in-time target. It must name its time zone: an
// offset such as +00 or +05:30, Z, or the suffix UTC.
func ParseTarget(s string) (time.Time, error) {
	v := strings.TrimSpace(s)
	if strings.HasSuffix(v, " UTC") {
		v = strings.TrimSuffix(v, " UTC") + "+00"
	}
	for _, layout := range targetLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	hint := ""
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if _, err := time.Parse(layout, v); err == nil {
			hint = " (it has no time zone: add one, e.g. +00 for UTC)"
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a valid point-in-time target%s: give a date, a time and a time zone, e.g. %s",
		s, hint, TargetExample)
}
