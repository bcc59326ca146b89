// Package backup owns what kubectl pgo does with backups, apart from
// cobra, flags, prompts and printing (those stay in pkg/cmd):
//
//   - pgBackRest backups: the Job's template and start (start.go), following
//     it to its end and confirming the new backup with pgbackrest info
//     (wait.go), the explanation of a failed Job (failed.go) and whether the
//     repository volume is full (repofull.go);
//   - deleting a pgBackRest backup: its dependents, what pgBackRest refuses,
//     the warnings, and the expire (expire.go);
//   - pg_dump and pg_basebackup: their options (dump_options.go), their
//     PVC and Job (dump_start.go), the list of dumps and base backups from
//     the Jobs that made them (dump.go), and the restore of a dump
//     (dump_restore.go);
//   - schedules: the CronJob and the Job of each run, applied; the CronJobs
//     listed and described (schedule.go).
//
// The functions take a Kubernetes client, an Exec (or an Info, for
// pgbackrest info) and io.Writers, so that tests run them with the fake
// clientset and a fake exec.
package backup
