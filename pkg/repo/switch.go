package repo

import "fmt"

// SwitchWALQuery ends the current WAL segment of a primary and returns its
// name; a database in recovery returns nothing.
const SwitchWALQuery = `SELECT CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_switch_wal()) END`

// ArchivedQuery tells whether segment seg (a checked segment name) is
// archived: its .done status file, or the archiver's last segment at or
// past it.
func ArchivedQuery(seg string) string {
	return fmt.Sprintf(`SELECT %s FROM pg_stat_archiver`, archivedExpr(seg))
}

// archivedExpr is ArchivedQuery's condition, on pg_stat_archiver.
func archivedExpr(seg string) string {
	return fmt.Sprintf(`(pg_stat_file('pg_wal/archive_status/%[1]s.done', true)).size IS NOT NULL
  OR coalesce(last_archived_wal ~ '^[0-9A-F]{24}$' AND last_archived_wal >= '%[1]s', false)`, seg)
}

// ArchiveProgressQuery prints whether segment seg is archived
// (ArchivedQuery, "t" or "f"), then "|" and the archiver's last archived
// segment: a wait for seg goes on as long as that moves.
func ArchiveProgressQuery(seg string) string {
	return fmt.Sprintf(`SELECT CASE WHEN %s THEN 't' ELSE 'f' END || '|' || coalesce(last_archived_wal, '') FROM pg_stat_archiver`, archivedExpr(seg))
}
