package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const showBackupLong = `Show the pgBackRest backups of a cluster, from pgbackrest info run in its
repository host's pod: the stanza's status and cipher, the WAL archive's
oldest and newest segment, and each backup, oldest first, with its type,
label, start and stop (UTC), WAL start and stop, sizes, and the backups it
references. Recent backup Jobs are listed too (they are kept a week).

With -A or --selector, the clusters are queried in parallel; one that
cannot be read is reported without hiding the others, and the command then
exits non-zero.

The archive status (pg_stat_archiver, WAL waiting to be archived, and
pgbackrest check) is shown by kubectl pgo show archive.

With --backup-type=pgdump, it lists every pg_dump backup of the cluster,
oldest first, from the pgdump Jobs that made them (they are kept, with no
TTL): its name (the UTC timestamp), time, database, size (from the end of
the Job's log), PVC, path, Job and the Job's status. With -A or
--selector, the rows of every cluster, with its namespace and name.
--backup-type=pgbasebackup lists the pg_basebackup backups the same way.`

const showBackupExample = `  # The backups of one cluster
  kubectl pgo show backup hippo

  # Every cluster's backups, in every namespace, as JSON
  kubectl pgo show backup -A -o json

  # The clusters labelled env=prod in the current namespace
  kubectl pgo show backup --selector env=prod

  # Every pg_dump backup of a cluster, as JSON
  kubectl pgo show backup hippo --backup-type=pgdump -o json

  # The pg_basebackup backups of every cluster, in every namespace
  kubectl pgo show backup -A --backup-type=pgbasebackup`

// The types of show backup -o json|yaml.
type (
	ClusterBackups     = inspect.ClusterBackups
	BackupJobInfo      = inspect.BackupJobInfo
	ClusterBackupsList = inspect.ClusterBackupsList
)

// ShowBackupOptions holds the flags and clients of `kubectl pgo show
// backup`.
type ShowBackupOptions struct {
	clusterScope
	Output *printers.OutputFlags
	// BackupType is pgbackrest, or pgdump to list the pg_dump backups.
	BackupType string
	// Repo narrows the listing to one repository.
	Repo repoFlags

	exec execFunc
	now  func() time.Time
	genericiooptions.IOStreams
}

// NewShowBackupOptions returns options with the defaults.
func NewShowBackupOptions(streams genericiooptions.IOStreams) *ShowBackupOptions {
	return &ShowBackupOptions{Output: printers.NewOutputFlags(printers.DefaultFormats...), BackupType: jobs.BackupTypePGBackRest, now: time.Now, IOStreams: streams}
}

// NewCmdShowBackup returns `kubectl pgo show backup`.
func NewCmdShowBackup(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdShowBackup(f, NewShowBackupOptions(streams))
}

func newCmdShowBackup(f kube.Factory, o *ShowBackupOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"backup [NAME | -A | --selector SELECTOR]",
		"Show a cluster's pgBackRest backups",
		showBackupLong, showBackupExample})
	fl := cmd.Flags()
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	o.addFlags(cmd)
	o.Output.AddFlags(cmd)
	o.Repo.AddFlags(cmd, "show")
	fl.StringVar(&o.BackupType, "backup-type", o.BackupType, "pgbackrest; pgdump or pgbasebackup: every pg_dump or pg_basebackup backup of the cluster (time, database, size, PVC, path, Job status).")
	_ = cmd.RegisterFlagCompletionFunc("backup-type", cobra.FixedCompletions([]string{jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete takes NAME or the scope, and the namespace; it sends no request.
func (o *ShowBackupOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return o.completeShow(f, cmd, args, &o.exec)
}

// Validate checks -o, the scope, the repository and --backup-type; it
// sends no request.
func (o *ShowBackupOptions) Validate(cmd *cobra.Command) error {
	if err := o.validateShow(cmd, o.Output); err != nil {
		return err
	}
	if err := o.Repo.validate(cmd.Flags()); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	switch o.BackupType {
	case jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup:
		return nil
	}
	return usageErrorf(cmd, "unknown --backup-type %q: use %s, %s or %s", o.BackupType, jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup)
}

// Run reads the backups and prints them: those of pgBackRest, or the
// pg_dump or pg_basebackup backups (pgdump.go).
func (o *ShowBackupOptions) Run(ctx context.Context) error {
	if o.BackupType != jobs.BackupTypePGBackRest {
		return o.runPGDump(ctx)
	}
	return o.runPGBackRest(ctx)
}

// runPGBackRest reads the clusters' pgBackRest backups and prints them.
func (o *ShowBackupOptions) runPGBackRest(ctx context.Context) error {
	client, targets, err := o.findTargets(ctx, o.Output, o.IOStreams, ClusterBackupsList{Items: []ClusterBackups{}})
	if err != nil || len(targets) == 0 {
		return err
	}

	// The backup Jobs of every target, in one request, while the
	// repositories are read.
	var jobsByCluster map[clusterTarget][]BackupJobInfo
	var jobsErr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		jobsByCluster, jobsErr = inspect.BackupJobs(ctx, client, targets)
	}()
	// Several clusters: their repository pods in one request too.
	var repoPods *corev1.PodList
	if o.multi() {
		if repoPods, err = inspect.RepoPods(ctx, client, targets); err != nil {
			return err
		}
	}
	results := forEachCluster(targets, func(t clusterTarget) ClusterBackups {
		r := ClusterBackups{Cluster: t.Name, Namespace: t.Namespace}
		sum, err := o.readRepository(ctx, client, t, repoPods)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Repository = &sum
		}
		return r
	})
	<-listed
	for i := range results {
		r := &results[i]
		r.Jobs = jobsByCluster[clusterTarget{Name: r.Cluster, Namespace: r.Namespace}]
		if r.Jobs == nil {
			r.Jobs = []BackupJobInfo{}
		}
		if jobsErr != nil && r.Error == "" {
			r.Error = jobsErr.Error()
		}
	}

	if !o.multi() && results[0].Error != "" {
		if err := o.missing(ctx, client); err != nil {
			return err
		}
		return fmt.Errorf("cannot show the backups of cluster %q: %s", o.Name, results[0].Error)
	}
	if err := o.print(results); err != nil {
		return err
	}
	return clustersNotRead(results, func(r ClusterBackups) (string, string, string) { return r.Namespace, r.Cluster, r.Error })
}

// readRepository runs pgbackrest info in the cluster's repository pod,
// found among pods when they were listed already.
func (o *ShowBackupOptions) readRepository(ctx context.Context, client kubernetes.Interface, t clusterTarget, pods *corev1.PodList) (repo.Summary, error) {
	selector := cluster.PGBackRestPodSelector(t.Name)
	var pod *corev1.Pod
	var err error
	if pods != nil {
		pod, err = kube.PickRunningPod(pods.Items, t.Namespace, selector)
	} else {
		pod, err = kube.FindRunningPod(ctx, client, t.Namespace, selector)
	}
	if err != nil {
		return repo.Summary{}, fmt.Errorf("%s %s: %w%s", pgbackrestPodName, notRunning(err), err, unreachableHint(err))
	}
	spec := cluster.Spec{Name: t.Name, Namespace: t.Namespace, StorageType: o.storageTypes[t]}
	if (o.Repo.StorageType != "" || o.Repo.Repo > 0) && spec.StorageType == nil {
		// The chosen repository is checked against the settings (a NAME
		// is otherwise shown without reading them).
		if spec, err = readClusterSpec(ctx, client, t.Namespace, t.Name); err != nil {
			return repo.Summary{}, err
		}
	}
	n, err := o.Repo.index(spec)
	if err != nil {
		return repo.Summary{}, err
	}
	return inspect.Repository(ctx, o.exec, t.Namespace, pod.Name, n)
}

func (o *ShowBackupOptions) print(results []ClusterBackups) error {
	switch o.Output.Format() {
	case printers.FormatTable:
		return inspect.WriteBackupsText(o.Out, results, o.now())
	default:
		if o.multi() {
			return o.Output.Print(o.Out, nil, ClusterBackupsList{Items: results})
		}
		return o.Output.Print(o.Out, nil, results[0])
	}
}
