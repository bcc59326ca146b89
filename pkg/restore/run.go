package restore

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Result is what a restore did, once the database is up.
type Result struct {
	// JobDuration is how long the restore Job ran; BackupSet is the backup
	// pgBackRest restored, from its log ("" if it did not say).
	JobDuration time.Duration
	BackupSet   string
	// Timeline is the one PostgreSQL was promoted on (0 if unknown);
	// Paused tells that it is paused at the target instead
	// (--target-action=pause); RecoveryDuration is how long it took.
	Timeline         int
	Paused           bool
	RecoveryDuration time.Duration
}

// Start changes the cluster, once the plan is confirmed: it archives the
// running database's current WAL first (plan.ArchiveFirst), stops the
// database and creates the restore Job.
func (r *InPlace) Start(ctx context.Context, plan *Plan) (*batchv1.Job, error) {
	if plan.ArchiveFirst {
		if err := r.ArchiveCurrentWAL(ctx, plan); err != nil {
			return nil, err
		}
	}
	if err := r.stopReplicas(ctx, plan); err != nil {
		return nil, err
	}
	if err := r.stopDatabase(ctx, plan); err != nil {
		return nil, err
	}
	return r.startJob(ctx, plan)
}

// Wait follows the restore Job, then starts the database and waits, up to
// Timeout in all, until PostgreSQL has recovered and is promoted.
func (r *InPlace) Wait(ctx context.Context, plan *Plan, job *batchv1.Job) (Result, error) {
	waitCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	ran, err := r.followJob(waitCtx, job)
	if err != nil {
		return Result{}, err
	}
	db, err := r.startDatabase(waitCtx, ctx)
	if err != nil {
		return Result{}, err
	}
	if !plan.Spec.HasLocalRepo() {
		r.waitStanzaChecked(waitCtx)
	}
	if !db.paused {
		r.keepSecretPassword(waitCtx)
	}
	if plan.BaseBackup != nil {
		r.resetRecoverySettings(ctx)
	}
	if len(plan.Spec.ReplicaInstances()) > 0 {
		if db.paused {
			r.progress("The replicas stay stopped while the database is paused at the target: once it is promoted, make them again with kubectl pgo update cluster %s -n %s --replicas=0, then --replicas=%d.",
				r.Name, r.Namespace, plan.Spec.Replicas)
		} else {
			// The backup the primary was restored from is on the new
			// timeline's history; a base backup is not in the repository,
			// so the replicas copy the primary then.
			set := ""
			if plan.BaseBackup == nil {
				set = cmp.Or(ran.backupSet, plan.Backup.Label)
			}
			if err := r.rebuildReplicas(waitCtx, plan, set, db.timeline); err != nil {
				return Result{}, err
			}
		}
	}
	return Result{JobDuration: ran.duration, BackupSet: ran.backupSet,
		Timeline: db.timeline, Paused: db.paused, RecoveryDuration: db.duration}, nil
}

// baseBackupRecoverySettings are what the base backup restore Job put in
// postgresql.auto.conf. Once PostgreSQL is promoted they only get in the
// way: a later pgBackRest restore that sets no target of its own would
// still stop at recovery_target 'immediate'.
var baseBackupRecoverySettings = []string{"restore_command", "recovery_target", "recovery_target_action", "recovery_target_timeline"}

// resetRecoverySettings removes them with ALTER SYSTEM; a failure is only
// reported, with the commands to run by hand.
func (r *InPlace) resetRecoverySettings(ctx context.Context) {
	// One -c each: ALTER SYSTEM cannot run in the transaction of a
	// multi-statement -c.
	cmd := []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1"}
	var hand []string
	for _, s := range baseBackupRecoverySettings {
		cmd = append(cmd, "-c", "ALTER SYSTEM RESET "+s)
		hand = append(hand, fmt.Sprintf("-c 'ALTER SYSTEM RESET %s'", s))
	}
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	if _, stderr, err := r.Exec(execCtx, r.Namespace, r.primaryPod(), databaseContainer, cmd); err != nil {
		r.progress("Warning: the recovery settings of the restore are still in postgresql.auto.conf (%v %s); remove them with:\n  kubectl exec %s -c %s -n %s -- psql %s",
			err, strings.TrimSpace(stderr), r.primaryPod(), databaseContainer, r.Namespace, strings.Join(hand, " "))
		return
	}
	r.progress("Removed the recovery settings of the restore from postgresql.auto.conf (%s).", strings.Join(baseBackupRecoverySettings, ", "))
}

// superuserPasswordScript gives the superuser the password of the
// cluster's Secret (the file the database container mounts) when a login
// with it fails: a restore to a time before kubectl pgo rotate password
// brings the old password back, which the Jobs that read the Secret could
// not log in with. It commits nothing when the password is the Secret's.
var superuserPasswordScript = fmt.Sprintf(`if PGPASSWORD="$(cat %[1]s)" PGCONNECT_TIMEOUT=10 psql -XAtq "host=127.0.0.1 port=%[2]d user=%[3]s dbname=postgres sslmode=require" -c 'SELECT 1' >/dev/null 2>&1; then
  echo unchanged
else
  psql -XAtq -v ON_ERROR_STOP=1 -v superuser=%[3]s -v password="$(cat %[1]s)" <<'SQL' && echo changed
ALTER ROLE :"superuser" PASSWORD :'password';
SQL
fi`, cluster.PasswordFile, cluster.PostgresPort, cluster.Superuser)

// keepSecretPassword runs superuserPasswordScript in the primary once it
// is promoted; a failure is said, not fatal: the data is restored.
func (r *InPlace) keepSecretPassword(ctx context.Context) {
	pod := cluster.InstancePodName(r.primaryInstance())
	stdout, stderr, err := r.Exec(ctx, r.Namespace, pod, cluster.ContainerDatabase, []string{"bash", "-c", superuserPasswordScript})
	switch {
	case err != nil:
		r.progress("Warning: the superuser's password could not be checked against Secret %s: %v %s", cluster.PostgresSecretName(r.Name), err, strings.TrimSpace(stderr))
	case strings.TrimSpace(stdout) == "changed":
		r.progress("The superuser's password was set to that of Secret %s again (the restored data had an older one)", cluster.PostgresSecretName(r.Name))
	}
}
