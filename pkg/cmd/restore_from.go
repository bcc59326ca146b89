package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/restore"
)

// RestoreFromOptions are the flags of `kubectl pgo create cluster NEW
// --restore-from=OLD`, which bootstraps the data directory of the new
// cluster from OLD's pgBackRest repository: restore.From does the work
// (see there what it reads, starts and removes).
//
// create cluster calls, in order: AddFlags when it builds its flags;
// Validate with its own checks (no request); Prepare before it applies
// anything, once it knows whether the cluster exists; AdjustObjects on the
// rendered objects; Restore after it has applied them and before it waits.
type RestoreFromOptions struct {
	Source          string
	SourceNamespace string
	PITRTarget      string
	TargetTimeline  string
	RestoreOpts     string
	// Standby leaves the new cluster a standby of the source (--standby).
	Standby bool
	// S3CredentialsSecret holds the keys that read the source's bucket,
	// CipherSecret the passphrase of its repositories.
	S3CredentialsSecret, CipherSecret string
	// StandbyHost is the source's database a standby streams from, and
	// StandbyHostSecret what it streams with.
	StandbyHost, StandbyHostSecret string
	// Timeout bounds the restore Job.
	Timeout time.Duration

	// from is the restore, filled in by Validate and Prepare.
	from restore.From
	// backup is the backup that Prepare chose.
	backup repo.Backup

	// exec and pollInterval replace the defaults in unit tests.
	exec         func(ctx context.Context, namespace, pod, container string, command []string) (string, string, error)
	pollInterval time.Duration
}

// AddFlags adds --restore-from, --restore-from-namespace, --pitr-target
// and --restore-opts.
func (r *RestoreFromOptions) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&r.Source, "restore-from", "", "Bootstrap the new cluster's data from the pgBackRest repository of this cluster, which may be running or deleted with --keep-backups; one without a local repository may be gone, if the new cluster uses the same bucket or container (S3, GCS or Azure).")
	fl.StringVar(&r.SourceNamespace, "restore-from-namespace", "", "Namespace of the --restore-from cluster; the new cluster's namespace if empty.")
	fl.StringVar(&r.PITRTarget, "pitr-target", "", "With --restore-from: the point in time to restore to, with its time zone, e.g. '2026-11-24 12:00:00+00'; the latest point if empty.")
	fl.StringVar(&r.TargetTimeline, "target-timeline", "", "With --restore-from: t"+targetTimelineUsage[1:])
	fl.StringVar(&r.RestoreOpts, "restore-opts", "", "With --restore-from: options for pgbackrest restore, as restore --backup-opts takes them, e.g. '--set=20261124-110000F', or '--repo=2' for the second repository (the S3 one of a local,s3 cluster).")
	fl.BoolVar(&r.Standby, "standby", false, "With --restore-from: make the new cluster a standby of that cluster, which replays its WAL from its repository, read-only, until kubectl pgo promote; it never writes to that repository.")
	fl.StringVar(&r.S3CredentialsSecret, "restore-from-s3-credentials-secret", "", "With --restore-from: a Secret of the new cluster's namespace whose aws-s3-key and aws-s3-key-secret read the source's S3 bucket (read-only keys are enough: s3:ListBucket and s3:GetObject); by default the source's keys, or this cluster's once the source is gone.")
	fl.StringVar(&r.StandbyHost, "standby-host", "", "With --standby: HOST[:PORT] of the source's database (e.g. hippo.prod.svc:5432, a name its certificate carries), which the standby also streams from over TLS, for less lag than the archive alone.")
	fl.StringVar(&r.StandbyHostSecret, "standby-host-secret", "", "With --standby-host: a Secret of the new cluster's namespace with replication-password and ca.crt of the source (from its Secrets NAME-postgres-secret and NAME-backrest-repo-config); read from the source's Secrets when they can be.")
	fl.StringVar(&r.CipherSecret, "restore-from-cipher-secret", "", "With --restore-from: a Secret of the new cluster's namespace whose cipher-pass is the passphrase of the source's encrypted repository, when the source's own Secret cannot be read from here (it is gone, or in another Kubernetes cluster).")
	if r.Timeout == 0 {
		r.Timeout = restore.DefaultTimeout
	}
}

// Enabled tells whether --restore-from was given.
func (r *RestoreFromOptions) Enabled() bool { return r.Source != "" }

// Validate checks the flags for the new cluster name in namespace; it
// sends no request.
func (r *RestoreFromOptions) Validate(name, namespace string) error {
	if !r.Enabled() {
		if r.Standby {
			return errors.New("--standby needs --restore-from: name the cluster to follow; for one in another Kubernetes cluster, also give this cluster an S3 repository in the same bucket (--pgbackrest-storage-type=s3 ...), where its repository is read")
		}
		for flag, v := range map[string]string{"--restore-from-namespace": r.SourceNamespace, "--pitr-target": r.PITRTarget, "--target-timeline": r.TargetTimeline, "--restore-opts": r.RestoreOpts, "--restore-from-s3-credentials-secret": r.S3CredentialsSecret, "--restore-from-cipher-secret": r.CipherSecret,
			"--standby-host": r.StandbyHost, "--standby-host-secret": r.StandbyHostSecret} {
			if v != "" {
				return fmt.Errorf("%s needs --restore-from: name the cluster whose backups to restore", flag)
			}
		}
		return nil
	}
	if r.StandbyHost != "" && !r.Standby {
		return errors.New("--standby-host needs --standby: only a standby cluster streams from its source")
	}
	if r.StandbyHostSecret != "" && r.StandbyHost == "" {
		return errors.New("--standby-host-secret needs --standby-host")
	}
	if r.StandbyHost != "" {
		host, err := cluster.NormalizeStandbyHost(r.StandbyHost)
		if err != nil {
			return err
		}
		r.StandbyHost = host
	}
	sourceNamespace, err := restore.CheckNames(r.Source, r.SourceNamespace, name, namespace)
	if err != nil {
		return err
	}
	for flag, secret := range map[string]string{"--restore-from-s3-credentials-secret": r.S3CredentialsSecret, "--restore-from-cipher-secret": r.CipherSecret, "--standby-host-secret": r.StandbyHostSecret} {
		if secret == "" {
			continue
		}
		if err := validateObjectName(flag, secret); err != nil {
			return err
		}
	}
	opts, target, err := parseRestoreFlags("--restore-opts", r.RestoreOpts, r.PITRTarget, r.TargetTimeline)
	if err != nil {
		return err
	}
	if r.Standby && (r.PITRTarget != "" || r.TargetTimeline != "" || (opts.Type != "" && opts.Type != repo.RecoveryDefault) || opts.Target != "" || opts.Given("target-action") || opts.Given("type")) {
		return errors.New("--standby follows the source to its latest WAL and on every later timeline: it cannot be used with --pitr-target, --target-timeline, or a recovery target in --restore-opts (only --set and --repo)")
	}
	if opts.TargetAction == repo.TargetActionPause {
		return errors.New("--target-action=pause cannot be used with --restore-from: the new cluster's database must be promoted; restore it, then inspect it")
	}
	r.from = restore.From{Source: r.Source, SourceNamespace: sourceNamespace, Name: name, Namespace: namespace,
		Options: opts, Target: target, Standby: r.Standby, SourceCredentials: r.S3CredentialsSecret, SourceCipherSecret: r.CipherSecret, StreamSecret: r.StandbyHostSecret}
	return nil
}

// StandbySpec is the new cluster's Spec.Standby: nil without --standby.
// Validate must have run.
func (r *RestoreFromOptions) StandbySpec() *cluster.StandbySpec {
	if !r.Standby {
		return nil
	}
	return &cluster.StandbySpec{Source: r.from.Source, SourceNamespace: r.from.SourceNamespace, Host: r.StandbyHost}
}

// newFrom fills in the clients and the streams of the restore.
func (r *RestoreFromOptions) newFrom(f kube.Factory, client kubernetes.Interface, streams genericiooptions.IOStreams) *restore.From {
	from := &r.from
	from.Client, from.Exec, from.Progress = client, restore.Exec(factoryExec(f)), streams.ErrOut
	if r.exec != nil {
		from.Exec = r.exec
	}
	from.Timeout, from.PollInterval = r.Timeout, 2*time.Second
	if r.pollInterval > 0 {
		from.PollInterval = r.pollInterval
	}
	return from
}

// Prepare checks the source before anything is created (restore.From's
// Prepare); existing tells whether the new cluster exists already, target
// and m are its Spec and secret material.
func (r *RestoreFromOptions) Prepare(ctx context.Context, f kube.Factory, existing bool, target cluster.Spec, m cluster.Material, streams genericiooptions.IOStreams) error {
	if existing {
		return r.from.Prepare(ctx, existing)
	}
	client, err := f.KubernetesClient()
	if err != nil {
		return err
	}
	from := r.newFrom(f, client, streams)
	if from.Dynamic, err = f.DynamicClient(); err != nil {
		return err
	}
	if from.Mapper, err = f.RESTMapper(); err != nil {
		return err
	}
	from.NewSpec, from.Material = target, m
	if err := from.Prepare(ctx, false); err != nil {
		return err
	}
	r.backup = from.Backup
	return nil
}

// AdjustObjects keeps the new cluster's database stopped until its data
// directory is restored, and refuses a restore Job that could not read the
// source (restore.From's AdjustObjects).
func (r *RestoreFromOptions) AdjustObjects(objects []*unstructured.Unstructured) error {
	return r.from.AdjustObjects(objects)
}

// Restore runs the restore Job and starts the new cluster's database.
func (r *RestoreFromOptions) Restore(ctx context.Context) error { return r.from.Restore(ctx) }

// Cleanup removes the temporary objects of the restore, if any.
func (r *RestoreFromOptions) Cleanup(ctx context.Context) { r.from.Cleanup(ctx) }
