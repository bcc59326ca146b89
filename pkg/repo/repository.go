package repo

import "fmt"

const (
	// StanzaName is the one stanza of every cluster, as in PGO v4, so that
	// repositories written by v4 stay readable.
	StanzaName = "db"

	// ServerPort is the port of `pgbackrest server` (TLS) on both sides.
	ServerPort = 8432
)

// Type is a pgBackRest repository type (the repoN-type option).
type Type string

const (
	// Posix is a repository on a file system: the PVC of the repository host.
	Posix Type = "posix"
	// S3 is a repository in an S3 bucket. It cannot be rendered yet.
	S3 Type = "s3"
)

// Repository is one pgBackRest repository of a cluster.
type Repository struct {
	// Index is N in repoN-*: 1 for the first repository.
	Index int
	Type  Type
	// Path is repoN-path: a directory on the repository host for Posix,
	// the prefix inside the bucket for S3.
	Path string
	// RetentionFull is repoN-retention-full: how many full backups to
	// keep (count), or for how many days (time). Zero leaves it unset, and
	// pgBackRest then warns and keeps everything.
	RetentionFull int
	// RetentionFullType is repoN-retention-full-type; RetentionCount when
	// empty.
	RetentionFullType RetentionType
	// RetentionDiff is repoN-retention-diff: how many differential
	// backups to keep. Zero leaves it unset: they go with their full
	// backup.
	RetentionDiff int
}

// RetentionType is how repoN-retention-full counts: backups or days.
type RetentionType string

const (
	// RetentionCount keeps the last N full backups.
	RetentionCount RetentionType = "count"
	// RetentionTime keeps the full backups of the last N days, and the
	// newest one older than that, so that the whole window can be restored.
	RetentionTime RetentionType = "time"
)

// RetentionTypes are the values of repoN-retention-full-type.
var RetentionTypes = []RetentionType{RetentionCount, RetentionTime}

// MaxRetention is the largest retention pgBackRest accepts.
const MaxRetention = 9999999

// option is the name of a repository option, e.g. option("path") is
// "repo1-path" for repo1.
func (r Repository) option(name string) string {
	return fmt.Sprintf("repo%d-%s", r.Index, name)
}

// validate refuses what this package cannot render.
func (r Repository) validate() error {
	if r.Index < 1 {
		return fmt.Errorf("repository index %d: must be 1 or more", r.Index)
	}
	if r.Path == "" {
		return fmt.Errorf("repo%d: a path is required", r.Index)
	}
	if r.RetentionFull < 0 || r.RetentionFull > MaxRetention || r.RetentionDiff < 0 || r.RetentionDiff > MaxRetention {
		return fmt.Errorf("repo%d: a retention must be between 1 and %d (0 leaves it unset)", r.Index, MaxRetention)
	}
	if t := r.RetentionFullType; t != "" && t != RetentionCount && t != RetentionTime {
		return fmt.Errorf("repo%d: unknown retention type %q (allowed: %s, %s)", r.Index, t, RetentionCount, RetentionTime)
	}
	switch r.Type {
	case Posix:
		return nil
	case S3:
		return fmt.Errorf("repo%d: S3 repositories are not supported yet", r.Index)
	default:
		return fmt.Errorf("repo%d: unknown repository type %q (allowed: %s)", r.Index, r.Type, Posix)
	}
}

// validateRepositories checks every repository, and that the indexes are
// unique.
func validateRepositories(repos []Repository) error {
	if len(repos) == 0 {
		return fmt.Errorf("at least one repository is required")
	}
	seen := map[int]bool{}
	for _, r := range repos {
		if err := r.validate(); err != nil {
			return err
		}
		if seen[r.Index] {
			return fmt.Errorf("repo%d is defined twice", r.Index)
		}
		seen[r.Index] = true
	}
	return nil
}
