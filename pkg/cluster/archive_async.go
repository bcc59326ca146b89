package cluster

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ArchiveAsyncSpec are the settings of asynchronous archiving.
type ArchiveAsyncSpec struct {
	// PushQueueMax bounds the WAL waiting in pg_wal while the repositories
	// cannot take it (a quantity, e.g. 512Mi); beyond it WAL is dropped,
	// and the next backup closes the gap. Empty: no bound, the database
	// stops when its volume is full.
	PushQueueMax string `json:"pushQueueMax,omitempty"`
	// GetQueueMax is how much WAL is fetched ahead during a recovery;
	// empty for pgBackRest's 128Mi.
	GetQueueMax string `json:"getQueueMax,omitempty"`
}

// spoolPath is where asynchronous archiving keeps its queues: on the data
// volume, beside the data directory, so that a restart keeps them and a
// restore (--delta on the data directory) leaves them alone.
const spoolPath = pgdataMountPath + "/pgbackrest-spool"

// validateArchiveAsync checks the queue sizes.
func (s Spec) validateArchiveAsync() error {
	a := s.ArchiveAsync
	if a == nil {
		return nil
	}
	var errs []error
	for what, v := range map[string]string{"archive-push queue": a.PushQueueMax, "archive-get queue": a.GetQueueMax} {
		if v == "" {
			continue
		}
		if q, err := resource.ParseQuantity(v); err != nil {
			errs = append(errs, fmt.Errorf("the %s size %q is not a quantity: give one such as 512Mi", what, v))
		} else if q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("the %s size %q must be more than zero", what, v))
		}
	}
	return errors.Join(errs...)
}

// archiveAsync is the database side's asynchronous archiving: as many
// processes as a backup, from the database container's CPU limit.
func archiveAsync(spec Spec) repo.ArchiveAsync {
	a := spec.ArchiveAsync
	if a == nil {
		return repo.ArchiveAsync{}
	}
	return repo.ArchiveAsync{
		Enabled: true, SpoolPath: spoolPath, ProcessMax: processMax(Resources{}, spec.Resources),
		PushQueueMax: quantityBytes(a.PushQueueMax), GetQueueMax: quantityBytes(a.GetQueueMax),
	}
}

// quantityBytes is a validated quantity in bytes; 0 when empty.
func quantityBytes(v string) int64 {
	if v == "" {
		return 0
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0
	}
	return q.Value()
}
