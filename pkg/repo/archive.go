package repo

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ArchiverQuery is run by psql in the database container: one JSON object
// with pg_stat_archiver, the number of WAL segments waiting to be archived
// (.ready files in pg_wal/archive_status, through
// pg_ls_archive_statusdir(), which needs no shell) and the archiving
// settings. The output is read by ParseArchiverStatus.
const ArchiverQuery = `SELECT json_build_object(
  'archived_count', a.archived_count,
  'last_archived_wal', a.last_archived_wal,
  'last_archived_time', a.last_archived_time,
  'failed_count', a.failed_count,
  'last_failed_wal', a.last_failed_wal,
  'last_failed_time', a.last_failed_time,
  'stats_reset', a.stats_reset,
  'ready_count', (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),
  'archive_mode', current_setting('archive_mode'),
  'archive_command', current_setting('archive_command'),
  'in_recovery', pg_is_in_recovery(),
  'current_wal', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
  'now', now())
FROM pg_stat_archiver a`

// ArchiverCommand is the command line that runs ArchiverQuery in the
// database container, as the postgres user over the local socket.
func ArchiverCommand() []string {
	return []string{"psql", "-X", "--no-psqlrc", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", ArchiverQuery}
}

// ArchiverStatus is PostgreSQL's view of WAL archiving: pg_stat_archiver
// and the archive_status directory. Times are UTC; nil when never.
type ArchiverStatus struct {
	ArchivedCount    int64      `json:"archivedCount"`
	LastArchivedWAL  string     `json:"lastArchivedWAL,omitempty"`
	LastArchivedTime *time.Time `json:"lastArchivedTime,omitempty"`
	FailedCount      int64      `json:"failedCount"`
	LastFailedWAL    string     `json:"lastFailedWAL,omitempty"`
	LastFailedTime   *time.Time `json:"lastFailedTime,omitempty"`
	StatsReset       *time.Time `json:"statsReset,omitempty"`
	// ReadyCount is the number of WAL segments waiting to be archived.
	ReadyCount     int64  `json:"readyCount"`
	ArchiveMode    string `json:"archiveMode"`
	ArchiveCommand string `json:"archiveCommand"`
	InRecovery     bool   `json:"inRecovery"`
	// CurrentWAL is the segment being written now (empty on a standby).
	CurrentWAL string    `json:"currentWAL,omitempty"`
	Now        time.Time `json:"now"`
}

// ParseArchiverStatus reads the output of ArchiverCommand.
func ParseArchiverStatus(out string) (ArchiverStatus, error) {
	var raw struct {
		ArchivedCount    int64   `json:"archived_count"`
		LastArchivedWAL  *string `json:"last_archived_wal"`
		LastArchivedTime *string `json:"last_archived_time"`
		FailedCount      int64   `json:"failed_count"`
		LastFailedWAL    *string `json:"last_failed_wal"`
		LastFailedTime   *string `json:"last_failed_time"`
		StatsReset       *string `json:"stats_reset"`
		ReadyCount       int64   `json:"ready_count"`
		ArchiveMode      string  `json:"archive_mode"`
		ArchiveCommand   string  `json:"archive_command"`
		InRecovery       bool    `json:"in_recovery"`
		CurrentWAL       *string `json:"current_wal"`
		Now              string  `json:"now"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &raw); err != nil {
		return ArchiverStatus{}, fmt.Errorf("cannot read the archiver status from psql: %w (output: %q)", err, truncate(out, 200))
	}
	s := ArchiverStatus{
		ArchivedCount:   raw.ArchivedCount,
		LastArchivedWAL: deref(raw.LastArchivedWAL),
		FailedCount:     raw.FailedCount,
		LastFailedWAL:   deref(raw.LastFailedWAL),
		ReadyCount:      raw.ReadyCount,
		ArchiveMode:     raw.ArchiveMode,
		ArchiveCommand:  raw.ArchiveCommand,
		InRecovery:      raw.InRecovery,
		CurrentWAL:      deref(raw.CurrentWAL),
	}
	var err error
	for _, f := range []struct {
		in  *string
		out **time.Time
	}{{raw.LastArchivedTime, &s.LastArchivedTime}, {raw.LastFailedTime, &s.LastFailedTime}, {raw.StatsReset, &s.StatsReset}} {
		if f.in == nil {
			continue
		}
		t, perr := parsePGTime(*f.in)
		if perr != nil {
			err = perr
			continue
		}
		*f.out = &t
	}
	if raw.Now != "" {
		if t, perr := parsePGTime(raw.Now); perr == nil {
			s.Now = t
		} else {
			err = perr
		}
	}
	return s, err
}

// Failing tells whether the last archive attempt failed: a failure newer
// than the last success. Old failures that were followed by successes are
// history, not a problem.
func (s ArchiverStatus) Failing() bool {
	if s.LastFailedTime == nil {
		return false
	}
	return s.LastArchivedTime == nil || s.LastFailedTime.After(*s.LastArchivedTime)
}

func parsePGTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read the time %q from psql: %w", v, err)
	}
	return t.UTC(), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CheckCommand runs `pgbackrest check` on the database side: it checks
// the configuration of both sides, forces a WAL switch and waits until the
// segment is in the repository.
func CheckCommand() []string {
	return []string{"pgbackrest", "--stanza=" + StanzaName, "--log-level-console=info", "check"}
}

// CheckResult is the outcome of `pgbackrest check`.
type CheckResult struct {
	OK bool `json:"ok"`
	// ExitCode is pgBackRest's exit code (0 when OK).
	ExitCode int `json:"exitCode"`
	// ArchivedWAL is the segment check switched to and saw arrive in the
	// repository.
	ArchivedWAL string `json:"archivedWAL,omitempty"`
	// Errors are pgBackRest's ERROR and WARN lines (with their HINTs).
	Errors []string `json:"errors,omitempty"`
}

var checkArchived = regexp.MustCompile(`WAL segment ([0-9A-F]{24}) successfully archived`)

// ParseCheck reads the output of CheckCommand and its exit code.
func ParseCheck(output string, exitCode int) CheckResult {
	r := CheckResult{OK: exitCode == 0, ExitCode: exitCode}
	if m := checkArchived.FindStringSubmatch(output); m != nil {
		r.ArchivedWAL = m[1]
	}
	r.Errors = ErrorLines(output)
	return r
}

// newBackupLabel matches pgBackRest's "new backup label = 20261126-071946F".
var newBackupLabel = regexp.MustCompile(`new backup label = ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)`)

// BackupLabelFromLog returns the label of the backup that a `pgbackrest
// backup` log reports as made, or "" when it reports none (it failed, or
// logged below the info level).
func BackupLabelFromLog(log string) string {
	if m := newBackupLabel.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// errorLine matches pgBackRest's error and warning lines, with or without
// the timestamp and process prefix of console logging.
var errorLine = regexp.MustCompile(`(?:^|\s)(ERROR|WARN|ASSERT):\s`)

// ErrorLines returns the ERROR, ASSERT and WARN lines of pgBackRest output,
// each with the indented lines that follow it (HINT: ...).
func ErrorLines(output string) []string {
	var out []string
	lines := strings.Split(output, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r ")
		if !errorLine.MatchString(line) {
			continue
		}
		msg := strings.TrimSpace(line[errorLine.FindStringIndex(line)[0]:])
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") && !errorLine.MatchString(lines[i+1]) {
			i++
			msg += " " + strings.TrimSpace(lines[i])
		}
		out = append(out, msg)
	}
	return out
}
