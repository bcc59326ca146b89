package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
)

const deleteClusterLong = `Delete a PostgreSQL cluster made by kubectl pgo create cluster: every object
labelled as the cluster's and managed by kubectl-pgo (StatefulSet, Deployment,
Services, PVCs, Secrets, ConfigMaps, backup Jobs and schedules), found by label.

The database is stopped first (its StatefulSet is deleted and its pod is
waited for), then the repository host, so that PostgreSQL can archive its
last WAL while shutting down. The data PVC goes with the cluster; so do the
backups, unless --keep-backups is given, which keeps the repository PVC
NAME-pgbr-repo, the Secret NAME-backrest-repo-config with the certificates
and the settings ConfigMap NAME-pgo-config.

Backups in an S3 bucket stay: delete cluster does not touch the bucket. If
they are encrypted with a generated passphrase, which lives only in
NAME-backrest-repo-config, the delete refuses: it prints the command that
saves a copy of the passphrase into a Secret of yours (found and left alone
by the next delete), or takes --keep-backups, or --discard-passphrase --yes
to make those backups unreadable for good. A passphrase of your own
(create cluster --pgbackrest-repo-cipher-secret) is never deleted. Deleting
the namespace deletes every Secret in it: no command can guard that.

It asks for confirmation, naming what it deletes, unless --yes (or
--no-prompt) is given; without a terminal to ask on, it refuses instead.`

const deleteClusterExample = `  # Delete a cluster and its backups, after confirming
  kubectl pgo delete cluster hippo

  # Delete it without asking, keeping the repository for a later restore
  kubectl pgo delete cluster hippo --keep-backups --yes`

// DeleteClusterOptions holds the flags and clients of `kubectl pgo delete
// cluster`; lifecycle.Find and lifecycle.Delete do the work.
type DeleteClusterOptions struct {
	Name        string
	KeepBackups bool
	// DiscardPassphrase allows, with --yes, a deletion that deletes the
	// only passphrase of encrypted backups that stay in a bucket.
	DiscardPassphrase bool
	Wait              bool
	Timeout           time.Duration
	// confirmation is --yes, and whether stdin is a terminal to ask on.
	confirmation

	namespace    string
	factory      kube.Factory
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewDeleteClusterOptions returns options with the defaults of the flags.
func NewDeleteClusterOptions(streams genericiooptions.IOStreams) *DeleteClusterOptions {
	return &DeleteClusterOptions{Wait: true, Timeout: apply.DefaultWaitTimeout, confirmation: newConfirmation(), pollInterval: time.Second, IOStreams: streams}
}

// NewCmdDeleteCluster returns `kubectl pgo delete cluster NAME`.
func NewCmdDeleteCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDeleteCluster(f, NewDeleteClusterOptions(streams))
}

func newCmdDeleteCluster(f kube.Factory, o *DeleteClusterOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"cluster NAME",
		"Delete a PostgreSQL cluster, and its backups unless --keep-backups",
		deleteClusterLong, deleteClusterExample})
	fl := cmd.Flags()
	fl.BoolVar(&o.KeepBackups, "keep-backups", false, "Keep the repository PVC, its Secret and the cluster's settings, to restore from later.")
	fl.BoolVar(&o.DiscardPassphrase, "discard-passphrase", false, "With --yes: delete the cluster even though this deletes the only passphrase of encrypted backups that stay in its bucket, which then cannot be restored.")
	addYesFlags(fl, &o.Yes)
	fl.BoolVar(&o.Wait, "wait", o.Wait, "Wait until every deleted object is gone.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the database to stop, and with --wait for the objects to go.")
	cmd.ValidArgsFunction = clusterNameCompletion(f)
	return cmd
}

// Complete takes the name and the namespace; it sends no request.
func (o *DeleteClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) (err error) {
	o.factory = f
	o.Name, o.namespace, err = clusterAndNamespace(f, cmd, args)
	return err
}

// Validate checks the name and the flags.
func (o *DeleteClusterOptions) Validate(cmd *cobra.Command) error {
	if err := cluster.ValidateName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := validateTimeout(cmd, o.Timeout); err != nil {
		return err
	}
	return nil
}

// Run deletes the cluster.
func (o *DeleteClusterOptions) Run(ctx context.Context) error {
	ns := o.namespace
	c, err := apiClientsIn(ctx, o.factory, ns)
	if err != nil {
		return err
	}
	doomed, kept, err := o.find(ctx, c)
	if err != nil {
		return err
	}
	if len(doomed) == 0 && len(kept) == 0 {
		return fmt.Errorf("cluster %q not found in namespace %q: no objects labelled %s", o.Name, ns, cluster.ManagedSelector(o.Name))
	}
	if len(doomed) == 0 {
		fmt.Fprintf(o.Out, "cluster %s has nothing left to delete; kept: %s\n", o.Name, refs(kept))
		return nil
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("delete cluster %q", o.Name), lifecycle.DeletePermissions(doomed)); err != nil {
		return err
	}
	if err := o.guardPassphrase(ctx, c); err != nil {
		return err
	}
	if err := o.confirm(doomed, kept); err != nil {
		return err
	}
	err = lifecycle.Delete(ctx, c, lifecycle.DeleteOptions{
		Name: o.Name, Namespace: ns, Wait: o.Wait, Timeout: o.Timeout, Poll: o.pollInterval, Out: o.Out,
	}, doomed)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("cluster %s deleted", o.Name)
	if len(kept) > 0 {
		msg += "; kept its backups: " + refs(kept)
	}
	fmt.Fprintln(o.Out, msg)
	return nil
}

// find lists the cluster's objects, split into those to delete and those
// --keep-backups keeps (restore_drill.go uses it too).
func (o *DeleteClusterOptions) find(ctx context.Context, c *apply.Clients) (doomed, kept []lifecycle.Object, err error) {
	return lifecycle.Find(ctx, c, o.namespace, o.Name, o.KeepBackups)
}

func refs(objs []lifecycle.Object) string { return lifecycle.Refs(objs) }

// guardPassphrase refuses, without --discard-passphrase and --yes, a
// deletion that deletes the only passphrase of backups that stay.
func (o *DeleteClusterOptions) guardPassphrase(ctx context.Context, c *apply.Clients) error {
	risk, err := lifecycle.PassphraseAtRisk(ctx, c, o.namespace, o.Name, o.KeepBackups)
	switch {
	case err != nil && !o.DiscardPassphrase:
		return err
	case risk == nil:
		return nil
	case !o.DiscardPassphrase || !o.Yes:
		return risk.Refusal()
	}
	fmt.Fprintf(o.ErrOut, "Warning: --discard-passphrase: %s", risk.Warning())
	return nil
}

// confirm asks on stdin, naming what goes and what stays.
func (o *DeleteClusterOptions) confirm(doomed, kept []lifecycle.Object) error {
	return o.confirmDelete(o.In, o.Out, func() string { return o.question(doomed, kept) },
		fmt.Errorf("refusing to delete cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete it", o.Name),
		fmt.Errorf("cancelled: cluster %q was not deleted", o.Name))
}

// question names what goes and what stays.
func (o *DeleteClusterOptions) question(doomed, kept []lifecycle.Object) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This deletes cluster %q in namespace %q:\n", o.Name, o.namespace)
	for _, obj := range doomed {
		fmt.Fprintf(&b, "  %s\n", obj.Ref())
	}
	if len(kept) > 0 {
		b.WriteString("and keeps (--keep-backups):\n")
		for _, obj := range kept {
			fmt.Fprintf(&b, "  %s\n", obj.Ref())
		}
	} else {
		b.WriteString("The data and every backup are deleted; this cannot be undone (--keep-backups keeps the backups).\n")
	}
	fmt.Fprintf(&b, "Delete cluster %s? [y/N]: ", o.Name)
	return b.String()
}
