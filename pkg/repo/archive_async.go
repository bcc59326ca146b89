package repo

import "strconv"

// ArchiveAsync is how the database side moves WAL asynchronously
// (pgBackRest's archive-async): archive-push and archive-get hand their
// work to a background process that keeps a queue in SpoolPath and moves
// ProcessMax segments at a time. The zero value is synchronous archiving,
// one segment per call.
type ArchiveAsync struct {
	Enabled bool
	// SpoolPath is where the queues live; on the data volume, so that
	// they survive a restart of the pod.
	SpoolPath string
	// ProcessMax is the number of processes of archive-push and of
	// archive-get; pgBackRest's 1 when zero.
	ProcessMax int
	// PushQueueMax, in bytes, bounds the WAL that waits in pg_wal when
	// the repositories cannot take it: beyond it pgBackRest drops WAL (it
	// tells PostgreSQL it was archived) so that the volume does not fill,
	// and the next backup is needed to close the gap. Zero: no bound.
	PushQueueMax int64
	// GetQueueMax, in bytes, is how much WAL archive-get fetches ahead
	// for a recovery or a replica; pgBackRest's 128 MiB when zero.
	GetQueueMax int64
}

// ArchivePushIOTimeout is the io-timeout, in seconds, of archive-push
// when its queue is bounded.
const ArchivePushIOTimeout = 15

// set writes the options of asynchronous archiving; nothing when it is
// off, so that a synchronous configuration is what it always was.
func (a ArchiveAsync) set(c *Config) {
	if !a.Enabled {
		return
	}
	c.Set("global", "archive-async", "y")
	c.Set("global", "spool-path", a.SpoolPath)
	if a.PushQueueMax > 0 {
		c.Set("global", "archive-push-queue-max", strconv.FormatInt(a.PushQueueMax, 10))
		// The queue's bound is checked when a background push starts, and
		// one that cannot reach the repository waits four times io-timeout
		// before it gives up: four minutes with the default 60 s, during
		// which pg_wal grows past the bound. 15 s makes it a minute. It is
		// a timeout of silence on a connection, not of a whole segment.
		c.Set("global:archive-push", "io-timeout", itoa(ArchivePushIOTimeout))
	}
	if a.GetQueueMax > 0 {
		c.Set("global", "archive-get-queue-max", strconv.FormatInt(a.GetQueueMax, 10))
	}
	if a.ProcessMax > 0 {
		c.Set("global:archive-push", "process-max", itoa(a.ProcessMax))
		c.Set("global:archive-get", "process-max", itoa(a.ProcessMax))
	}
}
