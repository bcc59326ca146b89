package cmd

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/restore"
)

// confirm asks before anything is stopped, unless --yes; it names what
// the checks of r found in plan.
func (o *RestoreOptions) confirm(r *restore.InPlace, plan *restore.Plan) error {
	var b strings.Builder
	ns, name := o.namespace, o.Name
	fmt.Fprintf(&b, "This restores cluster %q in namespace %q in place:\n", name, ns)
	if plan.Replicas > 0 {
		fmt.Fprintf(&b, "  - The database is stopped: StatefulSet %s is scaled to 0 (pod %s), and is down until the restore and the recovery are done.\n",
			plan.StatefulSet.Name, cluster.PodName(name))
	} else {
		fmt.Fprintf(&b, "  - The database is already stopped (StatefulSet %s has 0 replicas).\n", plan.StatefulSet.Name)
	}
	if bb := plan.BaseBackup; bb != nil {
		fmt.Fprintf(&b, "  - Its data directory %s on PVC %s is emptied, and base backup %s (taken %s, %s on PVC %s) is extracted into it.\n",
			cluster.DataDirectory(name), cluster.DataPVCName(name), bb.Name, repo.FormatTime(bb.Time), bb.Path, bb.PVC)
		fmt.Fprintf(&b, "  - PostgreSQL then replays %s, and is promoted on a new timeline.\n", r.ReplayDescription())
		b.WriteString("  - Every change made after the base backup is lost.\n")
	} else {
		fmt.Fprintf(&b, "  - Its data directory %s on PVC %s is overwritten with backup %s (%s, ended %s).\n",
			cluster.DataDirectory(name), cluster.DataPVCName(name), plan.Backup.Label, plan.Backup.Type,
			repo.FormatTime(plan.Backup.Timestamp.StopTime()))
		fmt.Fprintf(&b, "  - PostgreSQL then replays %s.\n", r.ReplayDescription())
	}
	switch {
	case plan.BaseBackup != nil:
	case r.Options.Type == repo.RecoveryDefault:
		b.WriteString("  - Changes that were not archived yet are lost.\n")
	default:
		b.WriteString("  - Changes after that point are lost.\n")
	}
	if len(r.Options.DBInclude) > 0 {
		fmt.Fprintf(&b, "  - Only the databases %s are restored; the others become unusable and must be dropped.\n", strings.Join(r.Options.DBInclude, ", "))
	}
	if o.Yes {
		fmt.Fprintln(o.ErrOut, strings.TrimSuffix(b.String(), "\n"))
		return nil
	}
	if !o.isTerminal(o.In) {
		return fmt.Errorf("restore needs a confirmation, and stdin is not a terminal: pass --yes to restore cluster %q without the question; nothing was changed", name)
	}
	b.WriteString(`Type "yes" to restore: `)
	fmt.Fprint(o.ErrOut, b.String())
	answer, err := bufio.NewReader(o.In).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	if err != nil && answer == "" {
		fmt.Fprintln(o.ErrOut)
	}
	if answer != "yes" && answer != "y" {
		return fmt.Errorf("restore of cluster %q cancelled: the answer was %q, not yes; nothing was changed", name, answer)
	}
	return nil
}

// printNoWait tells how to go on after --wait=false.
func (o *RestoreOptions) printNoWait(job *batchv1.Job) {
	ns := o.namespace
	fmt.Fprintf(o.Out, "Restore Job %s created in namespace %s; the database is stopped until it has succeeded.\n", job.Name, ns)
	fmt.Fprintf(o.Out, "Follow it with:\n  kubectl logs -f job/%s -n %s\n", job.Name, ns)
	fmt.Fprintf(o.Out, "When it has succeeded, start the database:\n  kubectl scale statefulset %s --replicas=1 -n %s\n", cluster.StatefulSetName(o.Name), ns)
	fmt.Fprintf(o.Out, "If it fails, fix the cause and run %s again.\n", o.restoreCommand())
}

// restoreCommand is the command that runs this restore again.
func (o *RestoreOptions) restoreCommand() string {
	c := fmt.Sprintf("kubectl pgo restore %s -n %s", o.Name, o.namespace)
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		c += " --backup-type=" + o.BackupType
		if o.BackupName != "" {
			c += " --backup-name=" + o.BackupName
		}
		if o.BackupPVC != jobs.DefaultPGBaseBackupPVCName(o.Name) {
			c += " --backup-pvc=" + o.BackupPVC
		}
	}
	return c
}

// printSummary prints what was restored.
func (o *RestoreOptions) printSummary(r *restore.InPlace, plan *restore.Plan, res restore.Result, total time.Duration) {
	jobTook, dbTook := res.JobDuration.Round(100*time.Millisecond), res.RecoveryDuration.Round(100*time.Millisecond)
	if bb := plan.BaseBackup; bb != nil {
		fmt.Fprintf(o.Out, "Cluster %q restored in namespace %q from base backup %s (%s on PVC %s), in %s.\n",
			o.Name, o.namespace, bb.Name, bb.Path, bb.PVC, total.Round(time.Second))
		fmt.Fprintf(o.Out, "  restore Job %s (extract the base backup): %s\n", jobs.RestoreJobName(o.Name), jobTook)
		fmt.Fprintf(o.Out, "  PostgreSQL recovered to the end of the base backup and was promoted on timeline %d after %s; it archives its WAL there.\n", res.Timeline, dbTook)
		fmt.Fprintf(o.Out, "A new backup makes later restores of this timeline faster: kubectl pgo backup %s -n %s\n", o.Name, o.namespace)
		return
	}
	set := res.BackupSet
	if set == "" {
		set = plan.Backup.Label
	}
	fmt.Fprintf(o.Out, "Cluster %q restored in namespace %q from backup %s, to %s, in %s.\n",
		o.Name, o.namespace, set, r.Options.Describe(), total.Round(time.Second))
	fmt.Fprintf(o.Out, "  restore Job %s (pgbackrest restore --delta): %s\n", jobs.RestoreJobName(o.Name), jobTook)
	if res.Paused {
		fmt.Fprintf(o.Out, "  PostgreSQL is paused at the target, still in recovery and read-only (after %s).\n", dbTook)
		fmt.Fprintf(o.Out, "Inspect it; to promote it and end the recovery:\n  kubectl exec %s -c %s -n %s -- psql -c 'SELECT pg_wal_replay_resume()'\n",
			cluster.PodName(o.Name), databaseContainer, o.namespace)
		return
	}
	tl := ""
	if res.Timeline > 0 {
		tl = fmt.Sprintf(" on timeline %d", res.Timeline)
	}
	fmt.Fprintf(o.Out, "  PostgreSQL recovered and was promoted%s after %s; it archives its WAL there.\n", tl, dbTook)
	fmt.Fprintf(o.Out, "A new backup makes later restores of this timeline faster: kubectl pgo backup %s -n %s\n", o.Name, o.namespace)
}
