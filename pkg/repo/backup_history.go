package repo

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// UnknownForkError is CheckTimeTarget's error when the fork of a timeline
// on the target's history off the timeline live at the time names no time
// ("reached consistency": a restore that stopped where its backup became
// consistent). The time may lie before the fork or after it; a backup of
// the live timeline can settle it (SettledBy).
type UnknownForkError struct {
	Time time.Time
	// Live is the timeline the database was on at Time; Child forked off
	// it at Fork, on the history of Target.
	Live, Child, Target uint32
	Fork                LSN
	Reason              string
}

func (e *UnknownForkError) Error() string {
	return fmt.Sprintf("%v: at %s the database was on timeline %d, and timeline %d forked off it at LSN %s (%s), which names no time, "+
		"and no backup of timeline %d that started after %s and ended before that LSN tells that the state at that time is in the history of timeline %d: "+
		"add --target-timeline=%d to restore timeline %d as it was at %s",
		ErrAbandonedTimeline, FormatTime(e.Time), e.Live, e.Child, e.Fork, orDefault(e.Reason, "no reason recorded"),
		e.Live, FormatTime(e.Time), e.Target, e.Live, e.Live, FormatTime(e.Time))
}

func (e *UnknownForkError) Unwrap() error { return ErrAbandonedTimeline }

// SettledBy returns a backup that proves the state at e.Time is in the
// target's history: taken on the live timeline, started after e.Time, and
// stopped at or before the fork. Every commit before the backup started
// lies before its stop point, so before the fork.
func (e *UnknownForkError) SettledBy(backups []BackupHistory) (BackupHistory, bool) {
	for _, b := range backups {
		if b.StartTimeline == e.Live && b.StopTimeline == e.Live && b.Stop <= e.Fork && e.Time.Before(b.StartTime) {
			return b, true
		}
	}
	return BackupHistory{}, false
}

// BackupHistory is a backup history file of the archive
// (000000010000000000000004.00000028.backup): PostgreSQL writes one at the
// end of every base backup, pgBackRest's and pg_basebackup's alike, and
// archives it with the WAL.
type BackupHistory struct {
	Name                        string
	Start, Stop                 LSN
	StartTime, StopTime         time.Time
	StartTimeline, StopTimeline uint32
	Label                       string
}

// ParseBackupHistory reads a backup history file. Its times are in the
// server's log time zone; one not in UTC or a numeric offset is refused,
// so that no bound is drawn from a misread time.
func ParseBackupHistory(name, content string) (BackupHistory, error) {
	b := BackupHistory{Name: name}
	fields := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	var err error
	lsn := func(key string) LSN {
		v, _, _ := strings.Cut(fields[key], " ")
		l, e := ParseLSN(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %s: %w", name, key, e)
		}
		return l
	}
	tli := func(key string) uint32 {
		n, e := strconv.ParseUint(fields[key], 10, 32)
		if (e != nil || n == 0) && err == nil {
			err = fmt.Errorf("%s: %s is %q, not a timeline", name, key, fields[key])
		}
		return uint32(n)
	}
	stamp := func(key string) time.Time {
		t, e := parseHistoryTime(fields[key])
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %s: %w", name, key, e)
		}
		return t
	}
	b.Start, b.Stop = lsn("START WAL LOCATION"), lsn("STOP WAL LOCATION")
	b.StartTimeline, b.StopTimeline = tli("START TIMELINE"), tli("STOP TIMELINE")
	b.StartTime, b.StopTime = stamp("START TIME"), stamp("STOP TIME")
	b.Label = fields["LABEL"]
	return b, err
}

var numericZone = regexp.MustCompile(`[+-][0-9]{2}(:?[0-9]{2})?$`)

// parseHistoryTime reads a time as a backup history file writes it:
// "2026-12-04 10:59:10 UTC" (seconds only, in the log time zone).
func parseHistoryTime(s string) (time.Time, error) {
	for _, utc := range []string{" UTC", " GMT"} {
		if v, ok := strings.CutSuffix(s, utc); ok {
			return time.Parse("2006-01-02 15:04:05", v)
		}
	}
	if numericZone.MatchString(s) {
		for _, l := range []string{"2006-01-02 15:04:05 -07", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -07:00"} {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time in UTC or with a numeric offset", s)
}

// backupHistoryScript prints each backup history file of timeline prefix
// $1 in archive $2 (@@file NAME, then its content), with the pgbackrest
// command and options after them.
const backupHistoryScript = `prefix=$1 id=$2; shift 2
ls=$("$@" --output=text --recurse --filter="^$prefix.*\.backup\$" repo-ls "archive/` + StanzaName + `/$id") || exit
for f in $ls; do
  echo "@@file $f"
  "$@" repo-get "archive/` + StanzaName + `/$id/$f" || exit
done`

// BackupHistoryCommand returns the command, run in a pgbackrest
// container, that prints the backup history files of timeline tli in
// archive id (see ParseBackupHistories). args are the pgbackrest command
// and its options: the stanza, the repository, what keeps a repository
// host out of the way.
func BackupHistoryCommand(args []string, id string, tli uint32) []string {
	return append([]string{"sh", "-c", backupHistoryScript, "sh", fmt.Sprintf("%08X", tli), id}, args...)
}

// ParseBackupHistories reads what BackupHistoryCommand printed.
func ParseBackupHistories(out string) ([]BackupHistory, error) {
	var res []BackupHistory
	var name string
	var content strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		b, err := ParseBackupHistory(name, content.String())
		if err != nil {
			return err
		}
		res = append(res, b)
		return nil
	}
	for _, line := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(line, "@@file "); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(f)
			content.Reset()
			continue
		}
		if name == "" && strings.TrimSpace(line) != "" {
			return nil, fmt.Errorf("cannot read the backup history files: %q", line)
		}
		content.WriteString(line + "\n")
	}
	return res, flush()
}
