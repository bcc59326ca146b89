package repo

import (
	"bufio"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pgbackrest verify exits 0 when it finds invalid files: only its report
// says whether the repository is good. VerifyCommand asks for that report
// on stdout (--output=text --verbose, which also lists the valid archives
// and backups) and for the log on stderr at level info, the only place
// that names the files that failed.

// Values of VerifyResult.Status and VerifyBackup.Status.
const (
	VerifyOK    = "ok"
	VerifyError = "error"
)

// VerifyCommand is pgbackrest verify for one repository, with the report
// on stdout and the log (one "LEVEL: message" per line) on stderr.
func VerifyCommand(repoIndex int) []string {
	return []string{"pgbackrest", "--stanza=" + StanzaName, fmt.Sprintf("--repo=%d", repoIndex), "verify",
		"--output=text", "--verbose",
		"--log-level-console=off", "--log-level-stderr=info", "--no-log-timestamp"}
}

// VerifyResult is what pgbackrest verify found in one repository.
type VerifyResult struct {
	// Status is ok or error, as pgbackrest reports it.
	Status   string          `json:"status"`
	Archives []VerifyArchive `json:"archives"`
	Backups  []VerifyBackup  `json:"backups"`
	// Problems are the warnings and errors of the log, and the files it
	// named as invalid.
	Problems []VerifyProblem `json:"problems,omitempty"`
	// Notes are report lines that are neither an archive nor a backup,
	// e.g. "no archives or backups exist in the repo".
	Notes []string `json:"notes,omitempty"`
}

// VerifyCounts are the counts of invalid files of an archive or a backup.
type VerifyCounts struct {
	Missing         int `json:"missing"`
	ChecksumInvalid int `json:"checksumInvalid"`
	SizeInvalid     int `json:"sizeInvalid"`
	Other           int `json:"other"`
}

// Invalid is the sum of the counts.
func (c VerifyCounts) Invalid() int {
	return c.Missing + c.ChecksumInvalid + c.SizeInvalid + c.Other
}

// String names the non-zero counts: "missing: 1, checksum invalid: 2".
func (c VerifyCounts) String() string {
	var parts []string
	for _, p := range []struct {
		name string
		n    int
	}{{"missing", c.Missing}, {"checksum invalid", c.ChecksumInvalid}, {"size invalid", c.SizeInvalid}, {"other", c.Other}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", p.name, p.n))
		}
	}
	return strings.Join(parts, ", ")
}

// VerifyArchive is the WAL of one archive id (e.g. 15-1).
type VerifyArchive struct {
	ID         string `json:"id"`
	WALChecked int    `json:"walChecked"`
	WALValid   int    `json:"walValid"`
	VerifyCounts
}

// VerifyBackup is one backup set.
type VerifyBackup struct {
	Label string `json:"label"`
	// Status is pgBackRest's: valid, invalid, manifest missing, ...
	Status string `json:"status"`
	// Expired is a backup directory without a manifest that backup.info
	// no longer lists (MarkExpired): what expire leaves behind on an
	// object store that keeps empty directories (SeaweedFS does), or a
	// backup expired while verify ran. It is not a problem.
	Expired      bool `json:"expired,omitempty"`
	FilesChecked int  `json:"filesChecked"`
	FilesValid   int  `json:"filesValid"`
	VerifyCounts
}

// VerifyProblem is one line of the log that reports a problem.
type VerifyProblem struct {
	// Level is pgBackRest's log level: INFO (an invalid file), WARN or
	// ERROR.
	Level   string `json:"level"`
	Message string `json:"message"`
	// File is the path the message names, relative to the repository's
	// backup or archive directory, if any.
	File string `json:"file,omitempty"`
}

// OK tells whether the repository verified clean.
func (r VerifyResult) OK() bool {
	if r.Status != VerifyOK {
		return false
	}
	for _, p := range r.Problems {
		if p.Level == "ERROR" {
			return false
		}
	}
	for _, a := range r.Archives {
		if a.WALChecked != a.WALValid || a.Invalid() > 0 {
			return false
		}
	}
	return len(r.InvalidBackups()) == 0
}

// ManifestMissing is pgBackRest's status of a backup directory without a
// manifest ("backup may have expired").
const ManifestMissing = "manifest missing"

// MarkExpired marks the backups whose manifest is missing and that are
// not among current, the labels backup.info lists: they expired. One that
// backup.info lists stays a problem: its manifest is gone.
func (r *VerifyResult) MarkExpired(current []string) {
	for i := range r.Backups {
		b := &r.Backups[i]
		b.Expired = b.Status == ManifestMissing && !slices.Contains(current, b.Label)
	}
}

// ExpiredBackups are the labels MarkExpired marked.
func (r VerifyResult) ExpiredBackups() []string {
	var out []string
	for _, b := range r.Backups {
		if b.Expired {
			out = append(out, b.Label)
		}
	}
	return out
}

// ManifestsMissing tells whether a backup's manifest is missing, so that
// MarkExpired needs the current backups.
func (r VerifyResult) ManifestsMissing() bool {
	for _, b := range r.Backups {
		if b.Status == ManifestMissing {
			return true
		}
	}
	return false
}

// InvalidBackups are the backups that did not verify.
func (r VerifyResult) InvalidBackups() []VerifyBackup {
	var out []VerifyBackup
	for _, b := range r.Backups {
		if !b.Expired && (b.Status != "valid" || b.FilesChecked != b.FilesValid || b.Invalid() > 0) {
			out = append(out, b)
		}
	}
	return out
}

// InvalidArchives are the archive ids with invalid WAL.
func (r VerifyResult) InvalidArchives() []VerifyArchive {
	var out []VerifyArchive
	for _, a := range r.Archives {
		if a.WALChecked != a.WALValid || a.Invalid() > 0 {
			out = append(out, a)
		}
	}
	return out
}

var (
	verifyArchiveLine = regexp.MustCompile(`^archiveId: ([^,]+), total WAL checked: (\d+), total valid WAL: (\d+)$`)
	verifyBackupLine  = regexp.MustCompile(`^backup: ([^,]+), status: ([^,]+), total files checked: (\d+), total valid files: (\d+)$`)
	verifyCountPart   = regexp.MustCompile(`^(missing|checksum invalid|size invalid|other): (\d+)$`)
	verifyLogLine     = regexp.MustCompile(`^(TRACE|DEBUG|DETAIL|INFO|WARN|ERROR): (.*)$`)
	verifyQuoted      = regexp.MustCompile(`'([^']+)'`)
)

// ParseVerify reads the report (stdout) and the log (stderr) of
// VerifyCommand for the stanza.
func ParseVerify(stdout, stderr string) (VerifyResult, error) {
	r := VerifyResult{Archives: []VerifyArchive{}, Backups: []VerifyBackup{}}
	// The counts line follows the archive or backup line it belongs to.
	var counts *VerifyCounts
	sawStanza := false
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if m := verifyArchiveLine.FindStringSubmatch(line); m != nil {
			r.Archives = append(r.Archives, VerifyArchive{ID: m[1], WALChecked: atoi(m[2]), WALValid: atoi(m[3])})
			counts = &r.Archives[len(r.Archives)-1].VerifyCounts
			continue
		}
		if m := verifyBackupLine.FindStringSubmatch(line); m != nil {
			r.Backups = append(r.Backups, VerifyBackup{Label: m[1], Status: m[2], FilesChecked: atoi(m[3]), FilesValid: atoi(m[4])})
			counts = &r.Backups[len(r.Backups)-1].VerifyCounts
			continue
		}
		if c, ok := parseVerifyCounts(line); ok && counts != nil {
			*counts = c
			counts = nil
			continue
		}
		counts = nil
		switch {
		case strings.HasPrefix(line, "stanza: "):
			if name := strings.TrimPrefix(line, "stanza: "); name != StanzaName {
				return r, fmt.Errorf("pgbackrest verify reported stanza %q, not %q", name, StanzaName)
			}
			sawStanza = true
		case strings.HasPrefix(line, "status: "):
			r.Status = strings.TrimPrefix(line, "status: ")
		default:
			r.Notes = append(r.Notes, line)
		}
	}
	if !sawStanza || r.Status == "" {
		return r, fmt.Errorf("cannot read the report of pgbackrest verify: no stanza and status in %q", truncate(stdout, 200))
	}
	r.Problems = ParseVerifyLog(stderr)
	return r, nil
}

// parseVerifyCounts reads "missing: 0, checksum invalid: 1, size
// invalid: 0, other: 0"; pgBackRest may leave out the zero counts.
func parseVerifyCounts(line string) (VerifyCounts, bool) {
	var c VerifyCounts
	for _, part := range strings.Split(line, ", ") {
		m := verifyCountPart.FindStringSubmatch(part)
		if m == nil {
			return VerifyCounts{}, false
		}
		n := atoi(m[2])
		switch m[1] {
		case "missing":
			c.Missing = n
		case "checksum invalid":
			c.ChecksumInvalid = n
		case "size invalid":
			c.SizeInvalid = n
		case "other":
			c.Other = n
		}
	}
	return c, true
}

// ParseVerifyLog returns the problems in pgbackrest's log (stderr, without
// timestamps): every warning and error, and the info lines that name an
// invalid file. The summary and the begin and end lines are left out, and
// so are lines that are not pgBackRest's.
func ParseVerifyLog(stderr string) []VerifyProblem {
	var out []VerifyProblem
	inSummary := false
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		line := sc.Text()
		m := verifyLogLine.FindStringSubmatch(line)
		if m == nil {
			// A continuation of a multi-line message: the summary's,
			// or a problem's.
			indented := strings.HasPrefix(line, " ")
			if indented && !inSummary && len(out) > 0 && strings.TrimSpace(line) != "" {
				out[len(out)-1].Message += " " + strings.TrimSpace(line)
			}
			continue
		}
		level, msg := m[1], strings.TrimSpace(m[2])
		inSummary = strings.HasPrefix(msg, "stanza: ")
		switch {
		case inSummary,
			strings.HasPrefix(msg, "verify command begin"),
			strings.HasPrefix(msg, "verify command end"):
			continue
		case level == "INFO" && !verifyQuoted.MatchString(msg):
			continue
		case level == "TRACE" || level == "DEBUG" || level == "DETAIL":
			continue
		}
		p := VerifyProblem{Level: level, Message: msg}
		if q := verifyQuoted.FindStringSubmatch(msg); q != nil && strings.Contains(q[1], "/") {
			p.File = q[1]
		}
		out = append(out, p)
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
