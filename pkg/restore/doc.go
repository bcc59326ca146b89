// Package restore restores a cluster from its pgBackRest repository,
// without cobra: what `kubectl pgo restore`, `create cluster
// --restore-from` and `restore-drill` do once their flags are parsed.
//
//   - InPlace is the in-place restore (inplace.go): the checks before
//     anything changes, reading the repository and choosing the backup on
//     the target timeline's history; archiving the running database's WAL
//     first (wal.go); stopping the database, the restore Job and following
//     it (job.go); starting the database and waiting for its recovery and
//     promotion, or explaining why it failed (database.go). A restore of a
//     pg_basebackup backup takes the same steps with another Job.
//   - From is restore-from (from.go): a new cluster's data directory from
//     another cluster's repository, read through a temporary repository
//     host or reader pod and a temporary Secret with the source's access
//     (source.go).
//   - Drill is restore-drill (drill.go): a From into a temporary cluster
//     that lifecycle.Create makes and waits for, the count of its tables
//     or a check of the user's, its removal (lifecycle.Find and Delete),
//     and the report.
//
// Each works over a kubernetes.Interface (Drill over *apply.Clients), an
// Exec function (kube.ExecCapture, or a fake in tests) and an io.Writer
// for progress. The prompt and the printing of the result stay with the
// command, in pkg/cmd.
package restore
