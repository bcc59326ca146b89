// Package jobs owns the Kubernetes Jobs of kubectl-pgo, rendered from
// templates embedded in the binary (templates/*.yaml): the backup Job of
// `kubectl pgo backup` and the restore Job of `kubectl pgo restore`, the
// CronJob of `kubectl pgo create schedule` around the backup Job, and
// what it takes to run them: starting a backup so that two never run at
// once, and following a Job to its end with its pod's log.
//
// # Backups: the Job is the repository host
//
// pgBackRest's backup command must run on the repository host. PGO v4 ran
// it there by exec: its backup Job called the Kubernetes API to exec
// `pgbackrest backup` in the repository pod. kubectl-pgo does not; the
// backup Job's pod runs pgBackRest itself, as a second repository host:
//
//   - It is a copy of the repository host's pod, taken from its Deployment
//     (<c>-backrest-shared-repo) when the Job is created: the same image
//     and security context (Pod Security "restricted"), the same
//     pgbackrest.conf (repo.conf of <c>-pgbackrest-config, at the default
//     path), the same TLS certificate (from <c>-backrest-repo-config), and
//     the same repository PVC (<c>-pgbr-repo).
//   - It reaches the database the way the repository host does: pg1-host
//     is the Service <c>, dialled with TLS, whose pgBackRest server accepts
//     the repository host's certificate. Nothing is looked up by pod name
//     or IP, in the Job or anywhere else.
//   - A required pod affinity (on kubernetes.io/hostname) to the repository
//     host's pod puts the Job on the same node, so a ReadWriteOnce
//     repository PVC can be mounted by both pods on multi-node clusters.
//
// What this buys:
//   - The Job's status is the backup's result, and its pod's log is
//     pgBackRest's progress. With exec, the Job would report whether an
//     exec stream survived, and an SPDY or WebSocket stream can drop during
//     a long backup while the backup goes on without anyone watching.
//   - The Job needs no Kubernetes API at all: no ServiceAccount token is
//     mounted (automountServiceAccountToken: false), and no Role grants
//     pods/exec, which would let its holder run anything in the database
//     and repository pods.
//   - A backup survives the user's laptop going away, like any Job.
//
// What it costs:
//   - pgBackRest's own backup lock is a file in the pod that runs the
//     backup, so by default it cannot see a backup running in another pod.
//     kubectl-pgo keeps backups apart itself: a backup Job is created
//     suspended and resumed only when it is the oldest active backup or
//     restore Job of its cluster (StartBackup); otherwise it is deleted and
//     the request is refused, naming the Job that runs. The Jobs of a
//     schedule (a CronJob, see schedule.go) do not go through that queue,
//     so every backup Job also keeps pgBackRest's lock files on the
//     repository PVC (BackupLockDir), where the lock of one Job's pod is
//     seen by another's. `pgbackrest info` in the
//     repository pod does not report a Job's backup as running; the Job
//     does.
//   - The Job must be created while the repository host's pod runs (the
//     affinity needs it); `kubectl pgo backup` refuses otherwise, before it
//     creates anything.
//
// A backup Job makes one attempt (backoffLimit 0: a failure is reported,
// not retried behind the user's back; pgBackRest resumes a failed backup
// on the next run), is bounded by activeDeadlineSeconds, and is kept for
// a week after it ends (ttlSecondsAfterFinished), so that `kubectl pgo
// show backup` lists recent backups' Jobs and a failure can still be read.
// On failure, the end of pgBackRest's log is also the container's
// termination message (FallbackToLogsOnError), which outlives the log.
package jobs
