package repo

import (
	"strings"
	"testing"
)

// Both queries read pg_stat_archiver once, with the segment's condition;
// the progress query prints t or f, then the last archived segment.
func TestArchivedQueries(t *testing.T) {
	seg := "000000010000000000000003"
	for _, q := range []string{ArchivedQuery(seg), ArchiveProgressQuery(seg)} {
		if strings.Count(q, "FROM pg_stat_archiver") != 1 || strings.Count(q, "SELECT") != 1 || !strings.Contains(q, "archive_status/"+seg+".done") {
			t.Errorf("query %q", q)
		}
	}
	if q := ArchiveProgressQuery(seg); !strings.Contains(q, "THEN 't' ELSE 'f' END || '|' || coalesce(last_archived_wal, '')") {
		t.Errorf("progress query %q", q)
	}
}
