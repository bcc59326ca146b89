package cmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
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

// The result of `kubectl pgo delete backup -o json|yaml`, and one backup
// it removed: those of pkg/backup.
type (
	DeleteBackupResult = backup.DeleteResult
	RemovedBackup      = backup.Removed
)

// DeleteBackupOptions holds the flags and clients of `kubectl pgo delete
// backup`.
type DeleteBackupOptions struct {
	execTarget
	Target string
	Output *printers.OutputFlags
	// confirmation is --yes, and whether stdin is a terminal to ask on.
	confirmation
	// Repo narrows the search for the target to one repository.
	Repo repoFlags

	genericiooptions.IOStreams
}

// NewDeleteBackupOptions returns options with the defaults.
func NewDeleteBackupOptions(streams genericiooptions.IOStreams) *DeleteBackupOptions {
	return &DeleteBackupOptions{Output: printers.NewOutputFlags(printers.DefaultFormats...), confirmation: newConfirmation(), IOStreams: streams}
}

// NewCmdDeleteBackup returns `kubectl pgo delete backup NAME --target=LABEL`.
func NewCmdDeleteBackup(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDeleteBackup(f, NewDeleteBackupOptions(streams))
}

func newCmdDeleteBackup(f kube.Factory, o *DeleteBackupOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"backup NAME --target=LABEL",
		"Delete a pgBackRest backup, and the backups that depend on it",
		deleteBackupLong, deleteBackupExample})
	fl := cmd.Flags()
	o.Repo.AddFlags(cmd, "delete from")
	fl.StringVar(&o.Target, "target", "", "The label of the backup to delete, as show backup lists it (e.g. 20261126-074954F).")
	addYesFlags(fl, &o.Yes)
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc("target", completeBackupLabels(f, o))
	return cmd
}

// Validate checks the name and the flags; it sends no request.
func (o *DeleteBackupOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output, &o.Repo); err != nil {
		return err
	}
	switch {
	case o.Target == "":
		return usageErrorf(cmd, "--target is required: the label of the backup to delete (list them with kubectl pgo show backup %s)", o.Name)
	case !repo.IsBackupLabel(o.Target):
		return usageErrorf(cmd, "invalid --target %q: a backup label is YYYYMMDD-HHMMSSF for a full backup, or YYYYMMDD-HHMMSSF_YYYYMMDD-HHMMSSD|I for a differential or incremental one (e.g. 20261126-074954F)", o.Target)
	}
	return nil
}

// Run deletes the backup: backup.Deletion plans it, the prompt names what
// goes, and Expire deletes it.
func (o *DeleteBackupOptions) Run(ctx context.Context) error {
	client, spec, chosen, err := o.clientSpecAndRepo(ctx, &o.Repo, "cannot delete a backup of cluster "+strconv.Quote(o.Name)+": %w. Nothing was deleted")
	if err != nil {
		return err
	}
	d := backup.Deletion{Cluster: o.Name, Namespace: o.namespace, Spec: spec, Repo: chosen, Target: o.Target,
		Exec: backup.Exec(o.exec), Info: o.info}
	plan, err := d.Plan(ctx, client)
	if err != nil {
		return err
	}
	if err := o.confirm(plan.Target, plan.Dependents, plan.Warnings); err != nil {
		return err
	}
	result, err := d.Expire(ctx, plan)
	if err != nil {
		return err
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

// info runs pgbackrest info with the command's exec.
func (o *DeleteBackupOptions) info(ctx context.Context, ns, pod string, extra ...string) (repo.Stanza, error) {
	return readStanza(ctx, o.exec, ns, pod, extra...)
}

// confirm asks on stdin, naming the backups that go and the warnings.
func (o *DeleteBackupOptions) confirm(target repo.Backup, dependents []repo.Backup, warnings []string) error {
	if o.Yes {
		for _, w := range warnings {
			fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
		}
		return nil
	}
	// The question goes to stderr when stdout carries JSON or YAML.
	out := o.Out
	if o.Output.Format() != printers.FormatTable {
		out = o.ErrOut
	}
	return o.confirmDelete(o.In, out, func() string { return o.question(target, dependents, warnings) },
		fmt.Errorf("refusing to delete backup %s of cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete it. Nothing was deleted", o.Target, o.Name),
		fmt.Errorf("cancelled: backup %s of cluster %q was not deleted", o.Target, o.Name))
}

// question names the backups that go, and the warnings.
func (o *DeleteBackupOptions) question(target repo.Backup, dependents []repo.Backup, warnings []string) string {
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
	return b.String()
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
