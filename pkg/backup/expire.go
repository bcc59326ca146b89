package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// expireTimeout bounds pgbackrest expire, which deletes files.
const expireTimeout = 10 * time.Minute

// PGBackRestPodName names, in messages, the pod that runs pgBackRest's
// commands for a cluster (FindPGBackRestPod).
const PGBackRestPodName = "the repository host (or, for an S3-only cluster, the database pod)"

// FindPGBackRestPod finds the running pod whose pgbackrest container runs
// pgBackRest commands for the cluster: the repository host's, or for a
// cluster without one (S3 only) the database pod.
func FindPGBackRestPod(ctx context.Context, client kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	return kube.FindRunningPod(ctx, client, ns, cluster.PGBackRestPodSelector(name))
}

// DeleteResult is what `kubectl pgo delete backup -o json|yaml` prints.
type DeleteResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Target    string `json:"target"`
	// Removed are the backups that went: the target, then its
	// dependents, oldest first.
	Removed []Removed `json:"removed"`
	// Remaining are the labels of the backups left, oldest first.
	Remaining []string `json:"remaining"`
	Command   string   `json:"command"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Removed is one backup that delete backup removed.
type Removed struct {
	Label string    `json:"label"`
	Type  string    `json:"type"`
	Start time.Time `json:"start"`
	// DependsOn is the target, for a backup removed because it needed
	// the target.
	DependsOn string `json:"dependsOn,omitempty"`
}

// Deletion is the deletion of one pgBackRest backup (the target) and of
// the backups that depend on it, with pgbackrest expire --set.
type Deletion struct {
	Cluster   string
	Namespace string
	Spec      cluster.Spec
	// Repo narrows the search for the target to one repository (0: all).
	Repo   int
	Target string
	// Info runs pgbackrest info; Exec runs pgbackrest expire.
	Info Info
	Exec Exec
}

// Plan is what a Deletion removes, and what it warns of, before it asks.
type Plan struct {
	Pod        string
	Target     repo.Backup
	Dependents []repo.Backup
	Warnings   []string
}

// Plan checks that the target can go: no backup or restore Job of the
// cluster is active, pgBackRest's backup lock is free, the target exists
// and is not a full backup that pgBackRest keeps. Nothing is deleted.
func (d Deletion) Plan(ctx context.Context, client kubernetes.Interface) (Plan, error) {
	name, ns := d.Cluster, d.Namespace
	pod, err := FindPGBackRestPod(ctx, client, ns, name)
	if err != nil {
		return Plan{}, fmt.Errorf("cannot delete a backup of cluster %q: %s %s (%v); check it with kubectl pgo show cluster %s -n %s. Nothing was deleted",
			name, PGBackRestPodName, kube.NotRunning(err), err, name, ns)
	}
	if err := d.checkNoJobs(ctx, client); err != nil {
		return Plan{}, err
	}
	stanza, err := d.info(ctx, pod.Name)
	if err != nil {
		return Plan{}, fmt.Errorf("cannot delete a backup of cluster %q: %w. Nothing was deleted", name, err)
	}
	if stanza.BackupRunning() {
		return Plan{}, fmt.Errorf("cannot delete a backup of cluster %q: pgBackRest's backup lock is held in the repository host's pod (a backup or an expire is running); try again when it ends. Nothing was deleted", name)
	}
	backups := repo.SortBackups(stanza.Backup)
	if d.Repo > 0 {
		backups = backupsIn(backups, d.Repo)
	}
	target, ok := repo.FindBackup(backups, d.Target)
	if !ok {
		if len(backups) == 0 {
			return Plan{}, fmt.Errorf("backup %q not found: cluster %q has no backups", d.Target, name)
		}
		return Plan{}, fmt.Errorf("backup %q not found in cluster %q; its backups are:\n  %s", d.Target, name, strings.Join(Labels(backups), "\n  "))
	}
	// Dependents and the retention are those of the target's repository.
	backups = backupsIn(backups, target.Database.RepoKey)
	if err := onlyFullBackup(backups, target, name, ns); err != nil {
		return Plan{}, fmt.Errorf("cannot delete backup %s of cluster %q: %w. Nothing was deleted", d.Target, name, err)
	}
	dependents := Dependents(backups, d.Target)
	return Plan{Pod: pod.Name, Target: target, Dependents: dependents,
		Warnings: deleteWarnings(backups, target, dependents, d.Spec.RetentionFull)}, nil
}

// Expire runs pgbackrest expire --set in the pod of the plan, then reads
// pgbackrest info again to confirm that the backups are gone.
func (d Deletion) Expire(ctx context.Context, p Plan) (DeleteResult, error) {
	command := []string{"pgbackrest", "--stanza=" + repo.StanzaName, "expire", "--set=" + d.Target}
	if k := p.Target.Database.RepoKey; len(d.Spec.StorageType) > 1 && k > 0 {
		// With two repositories, expire --set works in the one that holds the set.
		command = append(command, fmt.Sprintf("--repo=%d", k))
	}
	execCtx, cancel := context.WithTimeout(ctx, expireTimeout)
	defer cancel()
	if _, _, err := d.Exec(execCtx, d.Namespace, p.Pod, cluster.ContainerPGBackRest, command); err != nil {
		return DeleteResult{}, kube.ExplainExec("run pgbackrest expire in the repository pod", d.Namespace, p.Pod, err)
	}

	// pgbackrest info again: the target and its dependents must be gone.
	after, err := d.info(ctx, p.Pod)
	if err != nil {
		return DeleteResult{}, fmt.Errorf("pgbackrest expire ran, but pgbackrest info could not confirm the deletion: %w", err)
	}
	left := repo.SortBackups(after.Backup)
	var still []string
	for _, b := range append([]repo.Backup{p.Target}, p.Dependents...) {
		if _, ok := repo.FindBackup(left, b.Label); ok {
			still = append(still, b.Label)
		}
	}
	if len(still) > 0 {
		return DeleteResult{}, fmt.Errorf("pgbackrest expire ran, but pgbackrest info still lists %s", strings.Join(still, ", "))
	}
	t := p.Target
	result := DeleteResult{
		Cluster:   d.Cluster,
		Namespace: d.Namespace,
		Target:    d.Target,
		Removed:   []Removed{{Label: t.Label, Type: t.Type, Start: t.Timestamp.StartTime()}},
		Remaining: Labels(left),
		Command:   strings.Join(command, " "),
		Warnings:  p.Warnings,
	}
	for _, b := range p.Dependents {
		result.Removed = append(result.Removed, Removed{Label: b.Label, Type: b.Type, Start: b.Timestamp.StartTime(), DependsOn: d.Target})
	}
	return result, nil
}

// info runs pgbackrest info and fails on an unusable status.
func (d Deletion) info(ctx context.Context, pod string) (repo.Stanza, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stanza, err := d.Info(ctx, d.Namespace, pod)
	if err != nil {
		return repo.Stanza{}, err
	}
	if err := stanza.Err(); err != nil {
		return repo.Stanza{}, err
	}
	return stanza, nil
}

// checkNoJobs refuses while a backup or restore Job of the cluster is
// active, naming it: pgBackRest's lock is local to each pod.
func (d Deletion) checkNoJobs(ctx context.Context, client kubernetes.Interface) error {
	active, err := jobs.ActiveJobs(ctx, client, d.Namespace, d.Cluster)
	if err != nil {
		return fmt.Errorf("cannot delete a backup of cluster %q: %w. Nothing was deleted", d.Cluster, err)
	}
	if len(active) == 0 {
		return nil
	}
	j := &active[0]
	what := "backup"
	if j.Labels[cluster.LabelComponent] == jobs.ComponentRestore {
		what = "restore"
	}
	return fmt.Errorf("cannot delete a backup of cluster %q while its %s Job %s is active (%s): pgBackRest's lock is local to each pod, so an expire here would not see it. Wait for it to end (kubectl get job %s -n %s), then try again. Nothing was deleted",
		d.Cluster, what, j.Name, jobs.State(j), j.Name, d.Namespace)
}

// Dependents returns the backups that need the target, oldest first:
// those that reference it, or whose chain of prior backups leads to it.
func Dependents(backups []repo.Backup, target string) []repo.Backup {
	byLabel := map[string]repo.Backup{}
	for _, b := range backups {
		byLabel[b.Label] = b
	}
	var out []repo.Backup
	for _, b := range backups {
		if b.Label == target {
			continue
		}
		depends := slices.Contains(b.Reference, target)
		seen := map[string]bool{}
		for prior := b.Prior; !depends && prior != "" && !seen[prior]; prior = byLabel[prior].Prior {
			seen[prior] = true
			depends = prior == target
		}
		if depends {
			out = append(out, b)
		}
	}
	return out
}

// onlyFullBackup refuses what pgBackRest refuses: the newest full backup
// when no older full backup of the same database exists.
func onlyFullBackup(backups []repo.Backup, target repo.Backup, name, ns string) error {
	if target.Type != repo.BackupFull {
		return nil
	}
	var fulls []repo.Backup
	for _, b := range backups {
		if b.Type == repo.BackupFull {
			fulls = append(fulls, b)
		}
	}
	newest := fulls[len(fulls)-1]
	if newest.Label != target.Label {
		return nil
	}
	if len(fulls) == 1 {
		return fmt.Errorf("it is the only full backup, and pgBackRest keeps at least one: no backup would remain and the cluster could not be restored, nor recovered to a point in time. Take another full backup first (kubectl pgo backup %s -n %s --type=full --wait), then delete this one", name, ns)
	}
	if prev := fulls[len(fulls)-2]; prev.Database.ID != target.Database.ID {
		return fmt.Errorf("it is the newest full backup, and the older full backup %s is of another database (before a stanza upgrade); pgBackRest keeps it until another full backup is taken", prev.Label)
	}
	return nil
}

// deleteWarnings are the consequences the confirmation names beside the
// backups: retention, and point-in-time recovery.
func deleteWarnings(backups []repo.Backup, target repo.Backup, dependents []repo.Backup, retentionFull int) []string {
	var warnings []string
	var fullsNewestFirst []string
	for _, b := range slices.Backward(backups) {
		if b.Type == repo.BackupFull {
			fullsNewestFirst = append(fullsNewestFirst, b.Label)
		}
	}
	full := target.Label
	if i := strings.IndexByte(full, '_'); i > 0 {
		full = full[:i]
	}
	if retentionFull > 0 {
		if i := slices.Index(fullsNewestFirst, full); i >= 0 && i < retentionFull {
			if target.Type == repo.BackupFull {
				warnings = append(warnings, fmt.Sprintf("backup %s is not due to expire: the retention policy keeps the %d newest full backups (repo1-retention-full=%d); %d full backup(s) remain after this, so the repository keeps fewer than the policy asks for",
					target.Label, retentionFull, retentionFull, len(fullsNewestFirst)-1))
			} else {
				warnings = append(warnings, fmt.Sprintf("backup %s is not due to expire: the retention policy (repo1-retention-full=%d) keeps it as long as its full backup %s", target.Label, retentionFull, full))
			}
		}
	}
	latest := backups[len(backups)-1].Label
	if latest == target.Label || slices.ContainsFunc(dependents, func(b repo.Backup) bool { return b.Label == latest }) {
		warnings = append(warnings, fmt.Sprintf("the newest backup, %s, goes: a restore to the end of the WAL then starts from an older backup and replays more WAL", latest))
	}
	if target.Type == repo.BackupFull && fullsNewestFirst[len(fullsNewestFirst)-1] == target.Label {
		warnings = append(warnings, "it is the oldest full backup: the WAL archived before the next oldest backup may be expired with it, and point-in-time recovery to a time before that backup becomes impossible")
	}
	return warnings
}

// Labels returns the labels of the backups, in their order.
func Labels(backups []repo.Backup) []string {
	labels := make([]string, len(backups))
	for i, b := range backups {
		labels[i] = b.Label
	}
	return labels
}

// backupsIn are the backups of repository n (all of them when pgBackRest
// does not say).
func backupsIn(backups []repo.Backup, n int) []repo.Backup {
	var out []repo.Backup
	for _, b := range backups {
		if b.Database.RepoKey == n || b.Database.RepoKey == 0 {
			out = append(out, b)
		}
	}
	return out
}
