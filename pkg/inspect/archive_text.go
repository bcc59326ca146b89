package inspect

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteArchiveText writes the readable view of show archive: a block per
// cluster.
func WriteArchiveText(w io.Writer, results []ArchiveStatus) error {
	var b bytes.Buffer
	line := func(level int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", level))
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\n")
	}
	at := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	}
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		line(0, "cluster: %s (namespace %s)", r.Cluster, r.Namespace)
		if r.Error != "" {
			line(1, "error: %s", r.Error)
		}
		if a := r.Archiver; a != nil {
			line(1, "archive mode: %s, command: %s", a.ArchiveMode, a.ArchiveCommand)
			last := "none yet"
			if a.LastArchivedWAL != "" {
				last = fmt.Sprintf("%s at %s", a.LastArchivedWAL, at(a.LastArchivedTime))
			}
			line(1, "archived: %d, last: %s", a.ArchivedCount, last)
			failed := "none"
			if a.LastFailedWAL != "" {
				failed = fmt.Sprintf("%s at %s", a.LastFailedWAL, at(a.LastFailedTime))
				if a.Failing() {
					failed += " (failing now)"
				} else {
					failed += " (archived since)"
				}
			}
			line(1, "failed: %d, last: %s", a.FailedCount, failed)
			line(1, "waiting to be archived (.ready): %d", a.ReadyCount)
			if a.CurrentWAL != "" {
				line(1, "current WAL segment: %s", a.CurrentWAL)
			}
			if a.StatsReset != nil {
				line(1, "counted since: %s", at(a.StatsReset))
			}
		}
		if c := r.Check; c != nil {
			if c.OK {
				msg := "ok"
				if c.ArchivedWAL != "" {
					msg += fmt.Sprintf(" (WAL segment %s reached the repository)", c.ArchivedWAL)
				}
				line(1, "pgbackrest check: %s", msg)
			} else {
				line(1, "pgbackrest check: failed with exit code %d", c.ExitCode)
				for _, e := range c.Errors {
					line(2, "%s", e)
				}
			}
		}
		if len(r.WALGaps) > 0 {
			line(1, "WAL missing from the archive (dropped when the archive-push queue was full, or lost):")
			for _, g := range r.WALGaps {
				if g.Closed() {
					line(2, "%s: recovery cannot pass it; backup %s, which started after it, and later points are recoverable", g, g.ClosedBy)
				} else {
					line(2, "%s: no point after it can be recovered until a new backup", g)
				}
			}
		}
		status := "ok"
		if !r.Healthy && r.Error == "" {
			status = "failing: " + strings.Join(r.Problems, "; ")
		} else if r.Error != "" {
			status = "unknown"
		}
		line(1, "archiving: %s", status)
	}
	_, err := w.Write(b.Bytes())
	return err
}
