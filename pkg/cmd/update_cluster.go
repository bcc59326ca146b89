package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
)

const updateClusterLong = `Change the settings of an existing cluster that may change: the retention of
its pgBackRest repositories, the image, and the CPU and memory of PostgreSQL.

update reads the settings that create stored (ConfigMap NAME-pgo-config),
applies only the flags given on the command line (the others keep their stored
values), checks the result, prints each setting that changes, and applies with
server-side apply the objects whose rendering changes. A setting that cannot
change (the storage type, the sizes and the storage classes) is refused with
the reason before anything is touched.

pgBackRest reads its configuration when a command starts. The retention is
rendered, for every repository, into the repository host's pgbackrest.conf
(ConfigMap NAME-pgbackrest-config); the new file changes the config hash on the
repository host's pod template, so the repository host restarts (a few
seconds; WAL archiving retries meanwhile). The database does not restart for a
retention change; a new image, CPU or memory restarts it. Unless --wait=false,
update waits until the restarted pods are ready and the repository host reads
the new pgbackrest.conf: from then on every backup (its Job mounts the same
file) and every expire (after each backup, and delete backup) uses the new
retention. Nothing is expired by update itself: the next backup does it. A
backup that is already running keeps the retention it started with.

Without any setting, update applies what this version of kubectl-pgo renders
otherwise than the cluster has, which a cluster made by an earlier version may
lack: e.g. the CA ConfigMap NAME-ca and a pg_hba.conf that takes only TLS from
the network. The objects brought up to date are named, and the database pods
restart when their files changed; "cluster NAME unchanged" when nothing differs.

With --dry-run=client nothing is written, but unlike create the cluster must
exist: its stored settings and Secrets are read to render the objects. With -o
yaml or -o json the objects that change are printed.`

const updateClusterExample = `  # Keep one full backup instead of two; the next backup expires the older ones
  kubectl pgo update cluster hippo --pgbackrest-repo-retention-full=1

  # Keep the full backups of the last 14 days, and 3 differential backups
  kubectl pgo update cluster hippo --pgbackrest-repo-retention-full=14 \
    --pgbackrest-repo-retention-full-type=time --pgbackrest-repo-retention-diff=3

  # Bring a cluster made by an earlier kubectl-pgo up to date (PostgreSQL then
  # takes only TLS connections from the network); the database pods restart
  kubectl pgo update cluster hippo

  # Print the objects a change would apply, changing nothing
  kubectl pgo update cluster hippo --memory-limit=2Gi --dry-run=client -o yaml`

// UpdateClusterOptions holds the flags and clients of `kubectl pgo update
// cluster`; lifecycle.Update does the work.
type UpdateClusterOptions struct {
	// clusterApply holds NAME, the setting flags, as create cluster has
	// them (without S3), --wait, --timeout, --dry-run and -o.
	clusterApply
	genericiooptions.IOStreams
}

// NewUpdateClusterOptions returns options with the defaults of the flags.
func NewUpdateClusterOptions(streams genericiooptions.IOStreams) *UpdateClusterOptions {
	return &UpdateClusterOptions{clusterApply: newClusterApply(true), IOStreams: streams}
}

// NewCmdUpdate returns `kubectl pgo update`, the parent of commands that
// change existing things (update cluster).
func NewCmdUpdate(streams genericiooptions.IOStreams) *cobra.Command {
	return newGroup(streams, "update", "Change the settings of a PostgreSQL cluster")
}

// NewCmdUpdateCluster returns `kubectl pgo update cluster NAME`.
func NewCmdUpdateCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdUpdateCluster(f, NewUpdateClusterOptions(streams))
}

func newCmdUpdateCluster(f kube.Factory, o *UpdateClusterOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"cluster NAME",
		"Change the retention, image or resources of a cluster",
		updateClusterLong, updateClusterExample})
	o.addFlags(cmd, "Wait until the restarted pods are ready and read the new configuration, printing progress.",
		`"none", "client" (read the cluster, render and print, write nothing) or "server" (the API server validates, nothing is stored).`,
		"Print the objects that change, as applied, as yaml or json.")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Complete takes the name, records which flags were given, and finds the
// namespace. Even with --dry-run=client a usable kubeconfig is needed: the
// stored settings are read.
func (o *UpdateClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return o.complete(f, cmd, args, false)
}

// Validate checks every flag. It sends no request.
func (o *UpdateClusterOptions) Validate(cmd *cobra.Command) error {
	if err := validateApplyFlags(cmd, o.DryRun, o.Output, o.Timeout); err != nil {
		return err
	}
	if o.DryRun != apply.DryRunNone {
		if cmd.Flags().Changed("wait") && o.Wait {
			return usageErrorf(cmd, "--wait cannot be used with --dry-run: nothing would change to wait for")
		}
		o.Wait = false
	}
	spec, err := o.settingFlags.spec(cmd, o.Name, o.namespace)
	if err != nil {
		return err
	}
	o.spec = spec
	return nil
}

// Run updates the cluster.
func (o *UpdateClusterOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	return lifecycle.Update(ctx, c, lifecycle.UpdateOptions{Request: o.request(o.Out, o.ErrOut), Exec: apply.ExecFunc(o.exec)})
}
