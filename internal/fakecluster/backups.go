package fakecluster

import (
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Labels of two backup chains: full A with a diff and an incr on it, then
// full B with an incr.
const (
	FullA = "20261120-010000F"
	DiffA = "20261120-010000F_20261121-010000D"
	IncrA = "20261120-010000F_20261122-010000I"
	FullB = "20261123-010000F"
	IncrB = "20261123-010000F_20261124-010000I"
)

// Backup is the backup label of type typ on prior, referencing refs; it
// started at the time its label names and took 10 seconds.
func Backup(label, typ, prior string, refs ...string) repo.Backup {
	b := repo.Backup{Label: label, Type: typ, Prior: prior, Reference: refs}
	stamp := label
	if i := strings.IndexByte(label, '_'); i > 0 {
		stamp = label[i+1:]
	}
	start, err := time.Parse("20060102-150405", stamp[:15])
	if err != nil {
		panic(err)
	}
	b.Timestamp = repo.UnixRange{Start: start.Unix(), Stop: start.Unix() + 10}
	b.Database = repo.DatabaseRef{ID: 1, RepoKey: 1}
	return b
}

// BackupChains are the backups FullA to IncrB, oldest first.
func BackupChains() []repo.Backup {
	return []repo.Backup{
		Backup(FullA, "full", ""),
		Backup(DiffA, "diff", FullA, FullA),
		Backup(IncrA, "incr", DiffA, FullA, DiffA),
		Backup(FullB, "full", ""),
		Backup(IncrB, "incr", FullB, FullB),
	}
}
