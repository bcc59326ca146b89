package cmd

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
)

const createClusterLong = `Create a PostgreSQL cluster (of --postgres-version, 18 by default) with its own
pgBackRest repository host.

The cluster is a StatefulSet of one PostgreSQL pod (with a pgBackRest TLS
server beside it) on the PVC NAME, the Service NAME, and the repository host:
the Deployment and Service NAME-backrest-shared-repo on the PVC NAME-pgbr-repo.
The database archives its WAL to the repository host over mutual TLS, with a
CA and certificates made for this cluster (Secret NAME-backrest-repo-config).
The superuser's password is in the Secret NAME-postgres-secret. The settings
are stored in the ConfigMap NAME-pgo-config, so later commands need no local
state. Every object is rendered from templates built into the plugin and
applied with server-side apply under the field manager "kubectl-pgo".

Running create again for an existing cluster applies the same objects: with
the same settings nothing changes ("cluster NAME unchanged"). Settings not
given keep their stored values. The image and the CPU and memory may change;
the storage type, the sizes and the storage classes may not, and such a
request is refused before anything is touched.

With --dry-run=client nothing is sent to the API server, not even reads: the
objects are rendered with new certificates and a new password, which a real
create would not use for an existing cluster. With --dry-run=server the API
server validates the objects without storing them. With -o yaml or -o json
the objects are printed (as applied), Secrets included.

With --restore-from, the new cluster's data directory is restored from the
backups of another cluster, running or deleted with --keep-backups, to the
latest point or to --pitr-target; the new cluster then archives into its own
repository. A cluster whose only repositories are in object stores (S3, GCS,
Azure) is read from its bucket or container by a temporary pod
NEW-restore-source. Once that cluster is gone for good (no ConfigMap
OLD-pgo-config), give the new cluster a repository in the same bucket or
container: OLD's backups are looked for there, under
backrestrepo/OLD-backrest-shared-repo, with the new cluster's keys.

The repositories are given by --pgbackrest-storage-type, repo1 first: local,
s3, gcs, azure, or up to four of them such as local,gcs,azure. Each object
store has its flags (--pgbackrest-s3-*, --pgbackrest-gcs-*,
--pgbackrest-azure-*); GCS and Azure keys are only read from Secrets.

With --standby as well, the new cluster is a standby of OLD: it is restored
from OLD's newest backup, then its database replays OLD's WAL from OLD's
repository, read-only, and never writes to that repository. OLD may be in
another namespace or, sharing the bucket, in another Kubernetes cluster.
kubectl pgo promote makes it a primary that archives into its own
repository.`

const createClusterExample = `  # A cluster with a local pgBackRest repository, waiting until it is ready
  kubectl pgo create cluster hippo --wait

  # Bigger volumes on a given storage class, and resources for PostgreSQL
  kubectl pgo create cluster hippo --storage-size=20Gi --storage-class=fast \
    --pgbackrest-pvc-size=50Gi --cpu=500m --memory=1Gi --memory-limit=2Gi

  # Restore an S3-only cluster that was deleted, from its bucket, to a point in time
  kubectl pgo create cluster hippo2 --restore-from=hippo --pitr-target='2026-11-24 12:00:00+00' \
    --pgbackrest-storage-type=s3 --pgbackrest-s3-bucket=backups --pgbackrest-s3-endpoint=s3.example:9000 \
    --pgbackrest-s3-credentials-secret=s3-keys --wait

  # repo1 local, repo2 in GCS (a service-account key), repo3 in Azure Blob (a shared key)
  kubectl pgo create cluster hippo --pgbackrest-storage-type=local,gcs,azure \
    --pgbackrest-gcs-bucket=backups --pgbackrest-gcs-key-secret=gcs-key \
    --pgbackrest-azure-account=pgbackups --pgbackrest-azure-container=backups \
    --pgbackrest-azure-key-secret=azure-key --wait

  # A standby of cluster hippo of namespace prod, for disaster recovery, promoted later
  kubectl pgo create cluster hippo-dr -n dr --restore-from=hippo --restore-from-namespace=prod --standby --wait

  # Print the objects without creating anything (no cluster needed)
  kubectl pgo create cluster hippo --dry-run=client -o yaml`

// CreateClusterOptions holds the flags and clients of `kubectl pgo create
// cluster`; lifecycle.Create does the work.
type CreateClusterOptions struct {
	// clusterApply holds NAME, the setting flags, --wait, --timeout,
	// --dry-run and -o.
	clusterApply

	// RestoreFrom bootstraps the new cluster from another cluster's
	// backups (--restore-from, restore_from.go).
	RestoreFrom RestoreFromOptions

	genericiooptions.IOStreams
}

// NewCreateClusterOptions returns options with the defaults of the flags.
func NewCreateClusterOptions(streams genericiooptions.IOStreams) *CreateClusterOptions {
	return &CreateClusterOptions{clusterApply: newClusterApply(false), IOStreams: streams}
}

// NewCmdCreateCluster returns `kubectl pgo create cluster NAME`.
func NewCmdCreateCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCreateCluster(f, NewCreateClusterOptions(streams))
}

func newCmdCreateCluster(f kube.Factory, o *CreateClusterOptions) *cobra.Command {
	cmd := newClusterCommand(f, o, o.IOStreams, "cluster NAME", "Create a PostgreSQL cluster with a pgBackRest repository host", createClusterLong, createClusterExample)
	o.addFlags(cmd, "Wait until the database and the repository host are ready and the stanza exists, printing progress.",
		`"none", "client" (render and print, contact no server) or "server" (the API server validates, nothing is stored).`,
		"Print the objects as applied, as yaml or json, instead of one line per object.")
	cmd.Flags().IntVar(&o.PostgresVersion, flagPostgresVersion, cluster.DefaultPostgresVersion,
		"PostgreSQL major version: one of "+strings.Join(cluster.PostgresVersionNames(), ", ")+". Cannot change later. --image defaults to the project's image of it.")
	_ = cmd.RegisterFlagCompletionFunc(flagPostgresVersion, fixedCompletions(cluster.PostgresVersionNames()...))
	o.S3.AddFlags(cmd.Flags())
	o.S3.registerCompletions(cmd)
	o.GCS.AddFlags(cmd.Flags())
	o.GCS.registerCompletions(cmd)
	o.Azure.AddFlags(cmd.Flags())
	o.Azure.registerCompletions(cmd)
	o.RestoreFrom.AddFlags(cmd.Flags())
	for _, flag := range []string{flagRepoCipherSecret, "restore-from-cipher-secret"} {
		_ = cmd.RegisterFlagCompletionFunc(flag, passphraseSecretCompletion(f))
	}
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	return cmd
}

// Complete takes the name, records which flags were given, and finds the
// namespace. It reads the kubeconfig but sends no request; with
// --dry-run=client a missing or broken kubeconfig is not an error.
func (o *CreateClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return o.complete(f, cmd, args, o.DryRun == apply.DryRunClient)
}

// Validate checks every flag, and builds the Spec they describe. It sends
// no request.
func (o *CreateClusterOptions) Validate(cmd *cobra.Command) error {
	if err := validateApplyFlags(cmd, o.DryRun, o.Output, o.Timeout); err != nil {
		return err
	}
	if o.Wait && o.DryRun != apply.DryRunNone {
		return usageErrorf(cmd, "--wait cannot be used with --dry-run: nothing would be created to wait for")
	}
	spec, err := o.settingFlags.spec(cmd, o.Name, o.namespace)
	if err != nil {
		return err
	}
	o.spec = spec
	if err := o.RestoreFrom.Validate(o.Name, o.namespace); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	o.spec.Standby = o.RestoreFrom.StandbySpec()
	if o.RestoreFrom.Enabled() && spec.Replicas > 0 {
		return usageErrorf(cmd, "--restore-from cannot be used with --%s yet: restore the cluster first, then add replicas with kubectl pgo update cluster %s --%s=%d",
			flagReplicas, o.Name, flagReplicas, spec.Replicas)
	}
	if o.RestoreFrom.Enabled() && o.DryRun == apply.DryRunServer {
		return usageErrorf(cmd, "--restore-from cannot be used with --dry-run=server: the restore runs a Job; use --dry-run=client to see the objects")
	}
	return nil
}

// Run creates or updates the cluster.
func (o *CreateClusterOptions) Run(ctx context.Context) error {
	opts := lifecycle.CreateOptions{
		Request: o.request(o.Out, o.ErrOut),
		S3Key:   o.S3.Key, S3KeySecret: o.S3.KeySecret,
		Exec: apply.ExecFunc(o.exec),
	}
	if o.RestoreFrom.Enabled() {
		opts.Bootstrap = restoreFrom{options: &o.RestoreFrom, factory: o.factory, streams: o.IOStreams}
	}
	if o.DryRun == apply.DryRunClient {
		return lifecycle.Create(ctx, nil, opts)
	}
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	return lifecycle.Create(ctx, c, opts)
}

// restoreFrom is --restore-from as lifecycle.Create calls it.
type restoreFrom struct {
	options *RestoreFromOptions
	factory kube.Factory
	streams genericiooptions.IOStreams
}

func (r restoreFrom) Prepare(ctx context.Context, existing bool, spec cluster.Spec, m cluster.Material) error {
	return r.options.Prepare(ctx, r.factory, existing, spec, m, r.streams)
}

func (r restoreFrom) AdjustObjects(objects []*unstructured.Unstructured) error {
	return r.options.AdjustObjects(objects)
}

func (r restoreFrom) Restore(ctx context.Context) error { return r.options.Restore(ctx) }

func (r restoreFrom) Cleanup(ctx context.Context) { r.options.Cleanup(ctx) }
