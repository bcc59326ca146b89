package repo

import (
	"encoding/json"
	"fmt"
	"time"
)

// Stanza is one element of `pgbackrest info --output=json`.
type Stanza struct {
	Name    string       `json:"name"`
	Cipher  string       `json:"cipher"`
	Status  StanzaStatus `json:"status"`
	DB      []Database   `json:"db"`
	Archive []Archive    `json:"archive"`
	Backup  []Backup     `json:"backup"`
	Repo    []RepoStatus `json:"repo"`
}

// StanzaStatus is the status of a stanza across all its repositories.
type StanzaStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Lock    Lock   `json:"lock"`
}

// Lock tells whether a backup or expire holds the stanza's lock.
type Lock struct {
	Backup struct {
		Held bool `json:"held"`
	} `json:"backup"`
}

// Database is one PostgreSQL system the stanza has seen (a new one
// appears after an upgrade or a stanza-upgrade).
type Database struct {
	ID       int    `json:"id"`
	RepoKey  int    `json:"repo-key"`
	SystemID uint64 `json:"system-id"`
	Version  string `json:"version"`
}

// DatabaseRef points to an element of Stanza.DB.
type DatabaseRef struct {
	ID      int `json:"id"`
	RepoKey int `json:"repo-key"`
}

// Archive is the WAL archive of one database in one repository. Min and
// Max are empty until WAL has been archived.
type Archive struct {
	ID       string      `json:"id"` // e.g. "15-1"
	Min      string      `json:"min"`
	Max      string      `json:"max"`
	Database DatabaseRef `json:"database"`
}

// Backup is one backup set.
type Backup struct {
	Label     string   `json:"label"` // e.g. 20261124-231402F
	Type      string   `json:"type"`  // full, diff or incr
	Prior     string   `json:"prior"` // the backup this one depends on; empty for a full
	Reference []string `json:"reference"`
	// Error is true when a file of the backup failed its checksum.
	Error     bool        `json:"error"`
	Timestamp UnixRange   `json:"timestamp"`
	Archive   WALRange    `json:"archive"`
	LSN       LSNRange    `json:"lsn"`
	Info      BackupInfo  `json:"info"`
	Database  DatabaseRef `json:"database"`
	// Annotation holds the --annotation key/value pairs of the backup.
	Annotation map[string]string `json:"annotation,omitempty"`
	Backrest   struct {
		Format  int    `json:"format"`
		Version string `json:"version"`
	} `json:"backrest"`
}

// UnixRange is a start and a stop time, in Unix seconds.
type UnixRange struct {
	Start int64 `json:"start"`
	Stop  int64 `json:"stop"`
}

// StartTime returns Start as a time in UTC.
func (r UnixRange) StartTime() time.Time { return time.Unix(r.Start, 0).UTC() }

// StopTime returns Stop as a time in UTC.
func (r UnixRange) StopTime() time.Time { return time.Unix(r.Stop, 0).UTC() }

// WALRange is the first and the last WAL segment a backup needs.
type WALRange struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

// LSNRange is the start and stop LSN of a backup, e.g. "0/2000028".
type LSNRange struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

// BackupInfo holds sizes in bytes: Size is the database, Delta what this
// backup copied; Repository the same once compressed in the repository.
type BackupInfo struct {
	Size       int64 `json:"size"`
	Delta      int64 `json:"delta"`
	Repository struct {
		Size  int64 `json:"size"`
		Delta int64 `json:"delta"`
	} `json:"repository"`
}

// RepoStatus is the status of the stanza in one repository.
type RepoStatus struct {
	Key    int        `json:"key"` // N of repoN
	Cipher string     `json:"cipher"`
	Status RepoResult `json:"status"`
}

// RepoResult is a status code and its message.
type RepoResult struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ParseInfo decodes the output of `pgbackrest info --output=json`.
func ParseInfo(data []byte) ([]Stanza, error) {
	var stanzas []Stanza
	if err := json.Unmarshal(jsonControlBytes(data), &stanzas); err != nil {
		return nil, fmt.Errorf("cannot read the output of pgbackrest info: %w", err)
	}
	return stanzas, nil
}

// jsonControlBytes replaces the control bytes that pgBackRest writes
// unescaped into a JSON string with '?': a message that quotes the first
// line of an info file it could not decrypt holds them. It escapes \b,
// \f, \n, \r and \t, so the white space JSON allows between values
// stays.
func jsonControlBytes(data []byte) []byte {
	var out []byte
	for i, b := range data {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			if out == nil {
				out = append([]byte(nil), data...)
			}
			out[i] = '?'
		}
	}
	if out == nil {
		return data
	}
	return out
}

// FindBackup returns the backup with the given label.
func FindBackup(backups []Backup, label string) (Backup, bool) {
	for _, b := range backups {
		if b.Label == label {
			return b, true
		}
	}
	return Backup{}, false
}

// Find returns the stanza with the given name.
func Find(stanzas []Stanza, name string) (Stanza, bool) {
	for _, s := range stanzas {
		if s.Name == name {
			return s, true
		}
	}
	return Stanza{}, false
}

// BackupRunning tells whether a backup or an expire holds the lock.
func (s Stanza) BackupRunning() bool { return s.Status.Lock.Backup.Held }
