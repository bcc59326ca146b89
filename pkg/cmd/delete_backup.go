package cmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const deleteBackupLong = `Delete one pgBackRest backup of a cluster, and the backups that depend on it,
with pgbackrest expire --set run in the repository host's pod.

--target is the backup's label, as kubectl pgo show backup lists it. A
differential or incremental backup needs the backups it references, so
deleting a full backup also deletes the differential and incremental
backups based on it, and deleting a differential backup deletes the
incremental backups based on it; the confirmation names them. It also
warns when the backup is one that the retention policy
(repo1-retention-full, set by create cluster) would still keep, and that
the WAL archived before the oldest remaining backup may be expired with it,
which narrows point-in-time recovery.

pgBackRest keeps at least one full backup: the newest full backup cannot be
deleted while it is the only one. Take another full backup first
(kubectl pgo backup NAME --type=full), or delete the cluster.

While a backup or restore Job of the cluster is active, the command refuses
and names the Job: pgBackRest's lock is local to each pod, so an expire in
the repository host's pod cannot see a backup that runs in a Job's pod.

It asks for confirmation unless --yes (or --no-prompt) is given; without a
terminal to ask on, it refuses instead. After the expire, pgbackrest info
is read again to confirm that the backups are gone.`

const deleteBackupExample = `  # Delete a full backup and the backups based on it, after confirming
  kubectl pgo delete backup hippo --target=20261126-074954F

  # Delete an incremental backup without asking, and print what was removed as JSON
  kubectl pgo delete backup hippo --target=20261126-074954F_20261126-080102I --yes -o json`

// deleteBackupExecTimeout bounds pgbackrest expire, which deletes files.
const deleteBackupExecTimeout = 10 * time.Minute

// DeleteBackupResult is what `kubectl pgo delete backup -o json|yaml`
// prints.
type DeleteBackupResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Target    string `json:"target"`
	// Removed are the backups that went: the target, then its
	// dependents, oldest first.
	Removed []RemovedBackup `json:"removed"`
	// Remaining are the labels of the backups left, oldest first.
	Remaining []string `json:"remaining"`
	Command   string   `json:"command"`
	Warnings  []string `json:"warnings,omitempty"`
}

// RemovedBackup is one backup that delete backup removed.
type RemovedBackup struct {
	Label string    `json:"label"`
	Type  string    `json:"type"`
	Start time.Time `json:"start"`
	// DependsOn is the target, for a backup removed because it needed
	// the target.
	DependsOn string `json:"dependsOn,omitempty"`
}

// DeleteBackupOptions holds the flags and clients of `kubectl pgo delete
// backup`.
type DeleteBackupOptions struct {
	execTarget
	Target string
	Yes    bool
	Output *printers.OutputFlags
	// Repo narrows the search for the target to one repository.
	Repo repoFlags

	isTerminal func(io.Reader) bool
	genericiooptions.IOStreams
}

// NewDeleteBackupOptions returns options with the defaults.
func NewDeleteBackupOptions(streams genericiooptions.IOStreams) *DeleteBackupOptions {
	return &DeleteBackupOptions{
		Output:     printers.NewOutputFlags(printers.DefaultFormats...),
		isTerminal: isTerminal,
		IOStreams:  streams,
	}
}

// NewCmdDeleteBackup returns `kubectl pgo delete backup NAME --target=LABEL`.
func NewCmdDeleteBackup(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDeleteBackup(f, NewDeleteBackupOptions(streams))
}

func newCmdDeleteBackup(f kube.Factory, o *DeleteBackupOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "backup NAME --target=LABEL",
		Short:   "Delete a pgBackRest backup, and the backups that depend on it",
		Long:    deleteBackupLong,
		Example: deleteBackupExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetIn(o.In)
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	fl := cmd.Flags()
	o.Repo.AddFlags(cmd, "delete from")
	fl.StringVar(&o.Target, "target", "", "The label of the backup to delete, as show backup lists it (e.g. 20261126-074954F).")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Delete without asking for confirmation.")
	fl.BoolVar(&o.Yes, "no-prompt", false, "The same as --yes (PGO v4's name).")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc("target", completeBackupLabels(f, o))
	return cmd
}

// Complete takes NAME and the namespace; it sends no request.
func (o *DeleteBackupOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return o.complete(f, cmd, args)
}

// Validate checks the name and the flags; it sends no request.
func (o *DeleteBackupOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	if err := o.Repo.validate(cmd.Flags()); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	switch {
	case o.Target == "":
		return usageErrorf(cmd, "--target is required: the label of the backup to delete (list them with kubectl pgo show backup %s)", o.Name)
	case !repo.IsBackupLabel(o.Target):
		return usageErrorf(cmd, "invalid --target %q: a backup label is YYYYMMDD-HHMMSSF for a full backup, or YYYYMMDD-HHMMSSF_YYYYMMDD-HHMMSSD|I for a differential or incremental one (e.g. 20261126-074954F)", o.Target)
	}
	return nil
}

// Run deletes the backup.
func (o *DeleteBackupOptions) Run(ctx context.Context) error {
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	ns := o.namespace
	spec, err := readClusterSpec(ctx, client, ns, o.Name)
	if err != nil {
		return err
	}
	chosen, err := o.Repo.index(spec)
	if err != nil {
		return fmt.Errorf("cannot delete a backup of cluster %q: %w. Nothing was deleted", o.Name, err)
	}
	pod, err := findPGBackRestPod(ctx, client, ns, o.Name)
	if err != nil {
		return fmt.Errorf("cannot delete a backup of cluster %q: %s %s (%v); check it with kubectl pgo show cluster %s -n %s. Nothing was deleted",
			o.Name, pgbackrestPodName, notRunning(err), err, o.Name, ns)
	}
	if err := o.checkNoJobs(ctx, client); err != nil {
		return err
	}

	stanza, err := o.info(ctx, pod.Name)
	if err != nil {
		return fmt.Errorf("cannot delete a backup of cluster %q: %w. Nothing was deleted", o.Name, err)
	}
	if stanza.BackupRunning() {
		return fmt.Errorf("cannot delete a backup of cluster %q: pgBackRest's backup lock is held in the repository host's pod (a backup or an expire is running); try again when it ends. Nothing was deleted", o.Name)
	}
	backups := repo.SortBackups(stanza.Backup)
	if chosen > 0 {
		backups = backupsIn(backups, chosen)
	}
	target, ok := repo.FindBackup(backups, o.Target)
	if ok {
		// Dependents and the retention are those of the target's repository.
		backups = backupsIn(backups, target.Database.RepoKey)
	}
	if !ok {
		if len(backups) == 0 {
			return fmt.Errorf("backup %q not found: cluster %q has no backups", o.Target, o.Name)
		}
		return fmt.Errorf("backup %q not found in cluster %q; its backups are:\n  %s", o.Target, o.Name, strings.Join(backupLabelsOf(backups), "\n  "))
	}
	if err := onlyFullBackup(backups, target, o.Name, ns); err != nil {
		return fmt.Errorf("cannot delete backup %s of cluster %q: %w. Nothing was deleted", o.Target, o.Name, err)
	}
	dependents := dependentBackups(backups, o.Target)
	warnings := deleteBackupWarnings(backups, target, dependents, spec.RetentionFull)

	if err := o.confirm(target, dependents, warnings); err != nil {
		return err
	}

	command := []string{"pgbackrest", "--stanza=" + repo.StanzaName, "expire", "--set=" + o.Target}
	if k := target.Database.RepoKey; len(spec.StorageType) > 1 && k > 0 {
		// With two repositories, expire --set works in the one that holds the set.
		command = append(command, repoArg(k))
	}
	execCtx, cancel := context.WithTimeout(ctx, deleteBackupExecTimeout)
	defer cancel()
	if _, _, err := o.exec(execCtx, ns, pod.Name, repoContainer, command); err != nil {
		return execError("run pgbackrest expire in the repository pod", ns, pod.Name, err)
	}

	// pgbackrest info again: the target and its dependents must be gone.
	after, err := o.info(ctx, pod.Name)
	if err != nil {
		return fmt.Errorf("pgbackrest expire ran, but pgbackrest info could not confirm the deletion: %w", err)
	}
	left := repo.SortBackups(after.Backup)
	var still []string
	for _, b := range append([]repo.Backup{target}, dependents...) {
		if _, ok := repo.FindBackup(left, b.Label); ok {
			still = append(still, b.Label)
		}
	}
	if len(still) > 0 {
		return fmt.Errorf("pgbackrest expire ran, but pgbackrest info still lists %s", strings.Join(still, ", "))
	}

	result := DeleteBackupResult{
		Cluster:   o.Name,
		Namespace: ns,
		Target:    o.Target,
		Removed:   []RemovedBackup{{Label: target.Label, Type: target.Type, Start: target.Timestamp.StartTime()}},
		Remaining: backupLabelsOf(left),
		Command:   strings.Join(command, " "),
		Warnings:  warnings,
	}
	for _, d := range dependents {
		result.Removed = append(result.Removed, RemovedBackup{Label: d.Label, Type: d.Type, Start: d.Timestamp.StartTime(), DependsOn: o.Target})
	}
	if o.Output.Format() != printers.FormatTable {
		return o.Output.Print(o.Out, nil, result)
	}
	for _, r := range result.Removed {
		if r.DependsOn != "" {
			fmt.Fprintf(o.Out, "backup %s (%s, depended on %s) deleted\n", r.Label, r.Type, r.DependsOn)
		} else {
			fmt.Fprintf(o.Out, "backup %s (%s) deleted\n", r.Label, r.Type)
		}
	}
	remaining := "none"
	if len(result.Remaining) > 0 {
		remaining = strings.Join(result.Remaining, ", ")
	}
	fmt.Fprintf(o.Out, "cluster %s has %d backup(s) left: %s\n", o.Name, len(result.Remaining), remaining)
	return nil
}

// info runs pgbackrest info and fails on an unusable status.
func (o *DeleteBackupOptions) info(ctx context.Context, pod string) (repo.Stanza, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stanza, err := readStanza(ctx, o.exec, o.namespace, pod)
	if err != nil {
		return repo.Stanza{}, err
	}
	if err := stanza.Err(); err != nil {
		return repo.Stanza{}, err
	}
	return stanza, nil
}

// checkNoJobs refuses while a backup or restore Job of the cluster is
// active, naming it.
func (o *DeleteBackupOptions) checkNoJobs(ctx context.Context, client kubernetes.Interface) error {
	active, err := jobs.ActiveJobs(ctx, client, o.namespace, o.Name)
	if err != nil {
		return fmt.Errorf("cannot delete a backup of cluster %q: %w. Nothing was deleted", o.Name, err)
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
		o.Name, what, j.Name, jobs.State(j), j.Name, o.namespace)
}

// confirm asks on stdin, naming the backups that go and the warnings.
func (o *DeleteBackupOptions) confirm(target repo.Backup, dependents []repo.Backup, warnings []string) error {
	if o.Yes {
		for _, w := range warnings {
			fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
		}
		return nil
	}
	if !o.isTerminal(o.In) {
		return fmt.Errorf("refusing to delete backup %s of cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete it. Nothing was deleted", o.Target, o.Name)
	}
	// The question goes to stderr when stdout carries JSON or YAML.
	out := o.Out
	if o.Output.Format() != printers.FormatTable {
		out = o.ErrOut
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This deletes from cluster %q in namespace %q, with pgbackrest expire --set=%s:\n", o.Name, o.namespace, o.Target)
	fmt.Fprintf(&b, "  %s  %s backup, started %s\n", target.Label, target.Type, target.Timestamp.StartTime().Format("2006-01-02 15:04:05 MST"))
	if len(dependents) > 0 {
		fmt.Fprintf(&b, "and the %d backup(s) that depend on it, which cannot be restored without it:\n", len(dependents))
		for _, d := range dependents {
			fmt.Fprintf(&b, "  %s  %s backup, started %s\n", d.Label, d.Type, d.Timestamp.StartTime().Format("2006-01-02 15:04:05 MST"))
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(&b, "Warning: %s\n", w)
	}
	b.WriteString("This cannot be undone.\n")
	fmt.Fprintf(&b, "Delete backup %s? [y/N]: ", o.Target)
	yes, err := askYes(o.In, out, b.String())
	if err != nil {
		return err
	}
	if !yes {
		return fmt.Errorf("cancelled: backup %s of cluster %q was not deleted", o.Target, o.Name)
	}
	return nil
}

// dependentBackups returns the backups that need the target, oldest
// first: those that reference it, or whose chain of prior backups leads
// to it.
func dependentBackups(backups []repo.Backup, target string) []repo.Backup {
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

// deleteBackupWarnings are the consequences the confirmation names
// beside the backups: retention, and point-in-time recovery.
func deleteBackupWarnings(backups []repo.Backup, target repo.Backup, dependents []repo.Backup, retentionFull int) []string {
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

// backupLabelsOf returns the labels of the backups, in their order.
func backupLabelsOf(backups []repo.Backup) []string {
	labels := make([]string, len(backups))
	for i, b := range backups {
		labels[i] = b.Label
	}
	return labels
}

// completeBackupLabels completes --target with the backup labels of the
// cluster named by the first argument, from pgbackrest info. As for
// cluster names, an error yields no suggestions.
func completeBackupLabels(f kube.Factory, o *DeleteBackupOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 || validateClusterName(args[0]) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ns, _, err := f.Namespace()
		if err != nil {
			cobra.CompDebugln("namespace: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		client, err := f.KubernetesClient()
		if err != nil {
			cobra.CompDebugln("client: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		exec := o.exec
		if exec == nil {
			exec = explainedFactoryExec(f)
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		// pgbackrest info takes a moment more than a list.
		ctx, cancel := context.WithTimeout(ctx, 3*completionTimeout)
		defer cancel()
		pod, err := findPGBackRestPod(ctx, client, ns, args[0])
		if err != nil {
			cobra.CompDebugln("repository pod: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		stanza, err := readStanza(ctx, exec, ns, pod.Name)
		if err != nil {
			cobra.CompDebugln("pgbackrest info: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, b := range repo.SortBackups(stanza.Backup) {
			if strings.HasPrefix(b.Label, toComplete) {
				out = append(out, fmt.Sprintf("%s\t%s, %s", b.Label, b.Type, b.Timestamp.StartTime().Format("2006-01-02 15:04:05 MST")))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
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
