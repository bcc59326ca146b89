package cmd

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// AnnotationTemporaryRepoHost marks the objects of a repository host that
// create cluster --restore-from started for a deleted cluster, and removes
// when it is done; its value is the cluster being created, namespace/name.
const AnnotationTemporaryRepoHost = "kubectl-pgo/temporary-repo-host-for"

// restoreFromRepoHostTimeout bounds the start of a temporary repository
// host, or of the pod that reads an S3 repository.
const restoreFromRepoHostTimeout = 3 * time.Minute

// RestoreFromOptions are the flags of `kubectl pgo create cluster NEW
// --restore-from=OLD`, which bootstraps the data directory of the new
// cluster from OLD's pgBackRest repository, then gives NEW a repository
// and a stanza of its own. OLD may be running, or deleted with
// --keep-backups (its repository PVC, Secret and settings are left): then
// a temporary repository host serves the repository during the restore.
//
// An S3-only OLD is read from its bucket, by a temporary pod (the checks)
// and by the restore Job, with OLD's pgbackrest.conf and keys copied into
// a temporary Secret: nothing of OLD need run. When OLD is gone for good
// (no settings ConfigMap) and NEW has an S3 repository, OLD's repository
// is looked for in NEW's bucket under OLD's path, read with NEW's keys.
// NEW archives and backs up under its own path only.
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
	// Timeout bounds the restore Job.
	Timeout time.Duration

	options repo.RestoreOptions
	target  time.Time

	// Set by Prepare.
	name, namespace string
	sourceNamespace string
	// newSpec and material are the new cluster's Spec and secret material.
	newSpec  cluster.Spec
	material cluster.Material
	// sourceGone: the source has no settings ConfigMap left, and
	// sourceSpec is where its S3 repository is assumed to be.
	sourceGone bool
	sourceSpec cluster.Spec
	// sourceData is the data of the temporary Secret
	// restoreSourceSecretName, and access how the reader pod and the
	// restore Job read the source's repositories from it.
	sourceData       map[string][]byte
	access           jobs.SourceAccess
	sourcePKI        cluster.PKI
	temporary        []temporaryObject
	backup           repo.Backup
	restorer, source *RestoreOptions
	dyn              dynamic.Interface
	mapper           meta.RESTMapper

	// exec and pollInterval replace the defaults in unit tests.
	exec         func(ctx context.Context, namespace, pod, container string, command []string) (string, string, error)
	pollInterval time.Duration
}

// AddFlags adds --restore-from, --restore-from-namespace, --pitr-target
// and --restore-opts.
func (r *RestoreFromOptions) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&r.Source, "restore-from", "", "Bootstrap the new cluster's data from the pgBackRest repository of this cluster, which may be running or deleted with --keep-backups; an S3-only one may be gone, if the new cluster uses the same bucket.")
	fl.StringVar(&r.SourceNamespace, "restore-from-namespace", "", "Namespace of the --restore-from cluster; the new cluster's namespace if empty.")
	fl.StringVar(&r.PITRTarget, "pitr-target", "", "With --restore-from: the point in time to restore to, with its time zone, e.g. '2026-11-24 12:00:00+00'; the latest point if empty.")
	fl.StringVar(&r.TargetTimeline, "target-timeline", "", "With --restore-from: t"+targetTimelineUsage[1:])
	fl.StringVar(&r.RestoreOpts, "restore-opts", "", "With --restore-from: options for pgbackrest restore, as restore --backup-opts takes them, e.g. '--set=20261124-110000F', or '--repo=2' for the S3 repository of a local,s3 cluster.")
	if r.Timeout == 0 {
		r.Timeout = DefaultRestoreTimeout
	}
}

// Enabled tells whether --restore-from was given.
func (r *RestoreFromOptions) Enabled() bool { return r.Source != "" }

// Validate checks the flags for the new cluster name in namespace; it
// sends no request.
func (r *RestoreFromOptions) Validate(name, namespace string) error {
	if !r.Enabled() {
		for flag, v := range map[string]string{"--restore-from-namespace": r.SourceNamespace, "--pitr-target": r.PITRTarget, "--target-timeline": r.TargetTimeline, "--restore-opts": r.RestoreOpts} {
			if v != "" {
				return fmt.Errorf("%s needs --restore-from: name the cluster whose backups to restore", flag)
			}
		}
		return nil
	}
	if msgs := validation.IsDNS1035Label(r.Source); len(msgs) > 0 {
		return fmt.Errorf("--restore-from=%s is not a cluster name: %s", r.Source, strings.Join(msgs, "; "))
	}
	r.name, r.namespace = name, namespace
	r.sourceNamespace = r.SourceNamespace
	if r.sourceNamespace == "" {
		r.sourceNamespace = namespace
	} else if msgs := validation.IsDNS1123Label(r.sourceNamespace); len(msgs) > 0 {
		return fmt.Errorf("--restore-from-namespace=%s is not a namespace: %s", r.sourceNamespace, strings.Join(msgs, "; "))
	}
	if r.Source == name && r.sourceNamespace == namespace {
		return fmt.Errorf("--restore-from=%s names the cluster being created: to restore a cluster in place, use kubectl pgo restore %s", r.Source, name)
	}
	opts, err := repo.ParseRestoreOptions(r.RestoreOpts)
	if err != nil {
		return fmt.Errorf("invalid --restore-opts:\n%s", indentLines(err.Error()))
	}
	if r.PITRTarget != "" {
		t, err := repo.ParseTarget(r.PITRTarget)
		if err != nil {
			return fmt.Errorf("invalid --pitr-target: %w", err)
		}
		if opts, err = opts.WithTimeTarget(t); err != nil {
			return err
		}
	}
	if opts, err = opts.WithTargetTimeline(r.TargetTimeline); err != nil {
		return err
	}
	if r.target, err = opts.Normalize(); err != nil {
		return fmt.Errorf("invalid --restore-opts:\n%s", indentLines(err.Error()))
	}
	if opts.TargetAction == repo.TargetActionPause {
		return errors.New("--target-action=pause cannot be used with --restore-from: the new cluster's database must be promoted; restore it, then inspect it")
	}
	r.options = opts
	return nil
}

// Prepare checks the source before anything is created: it exists (or was
// deleted with --keep-backups, or is in the new cluster's bucket), its
// repository has a backup to restore and the target lies in its recovery
// window. existing tells whether the new cluster exists already, which
// --restore-from refuses; target and m are the new cluster's Spec and
// secret material. For a deleted source it starts the temporary
// repository host, for an S3 source the reader pod, that serve the checks
// and the restore, and removes them again if a check fails.
func (r *RestoreFromOptions) Prepare(ctx context.Context, f kube.Factory, existing bool, target cluster.Spec, m cluster.Material, streams genericiooptions.IOStreams) error {
	if existing {
		return fmt.Errorf("--restore-from creates a new cluster, and cluster %q exists in namespace %q: choose another name, or delete it first (kubectl pgo delete cluster %s -n %s)",
			r.name, r.namespace, r.name, r.namespace)
	}
	client, err := f.KubernetesClient()
	if err != nil {
		return err
	}
	if r.dyn, err = f.DynamicClient(); err != nil {
		return err
	}
	if r.mapper, err = f.RESTMapper(); err != nil {
		return err
	}
	r.source = r.restoreOptionsFor(f, client, r.Source, r.sourceNamespace, streams)
	r.restorer = r.restoreOptionsFor(f, client, r.name, r.namespace, streams)
	r.restorer.retryAdvice = fmt.Sprintf("Cluster %s was created with its database stopped. Fix the cause, delete it (kubectl pgo delete cluster %s -n %s --yes), and create it again with --restore-from.",
		r.name, r.name, r.namespace)
	r.newSpec, r.material = target, m
	src, ns := r.Source, r.sourceNamespace

	settings, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(src), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && target.S3 == nil:
		return fmt.Errorf("--restore-from: cluster %q not found in namespace %q, neither running nor deleted with --keep-backups (there is no ConfigMap %s). "+
			"If its backups are in an S3 bucket, create this cluster with an S3 repository in the same bucket, and it is read from there: "+
			"--%s=s3 (or local,s3) --%s --%s, the keys and the CA; nothing was created",
			src, ns, cluster.SettingsConfigMapName(src), flagStorageType, flagS3Bucket, flagS3Endpoint)
	case apierrors.IsNotFound(err):
		r.sourceGone = true
		r.sourceSpec = goneSourceSpec(src, ns, target)
	case err != nil:
		return fmt.Errorf("--restore-from: reading the settings of cluster %q: %w", src, err)
	default:
		if r.sourceSpec, err = cluster.SpecFromConfigMap(settings); err != nil {
			return fmt.Errorf("--restore-from: %w", err)
		}
	}
	// Everything the restore Job reads the source with is gathered now:
	// a Secret or a key that is missing refuses the restore before
	// anything is created, not in the Job, once the new cluster exists.
	if err := r.readSourceAccess(ctx, client); err != nil {
		return fmt.Errorf("--restore-from: %w; nothing was created", err)
	}
	if r.sourceSpec.HasLocalRepo() {
		if err := r.prepareLocal(ctx, client); err != nil {
			return err
		}
	}
	if r.readsS3Only() {
		if err := r.prepareS3(ctx); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return fmt.Errorf("--restore-from: %w; nothing was created", err)
		}
	}

	plan := &restorePlan{spec: r.sourceSpec}
	if err := r.source.checkRepository(ctx, plan); err != nil {
		r.Cleanup(context.WithoutCancel(ctx))
		if r.sourceGone {
			s3 := r.sourceSpec.S3
			return fmt.Errorf("--restore-from: cluster %q is gone (there is no ConfigMap %s in namespace %q), and its repository is not readable in bucket %q at %s under %s: %w. "+
				"Check the name and the bucket; an encrypted repository cannot be read once its cluster's Secret is gone; nothing was created",
				src, cluster.SettingsConfigMapName(src), ns, s3.Bucket, s3.Endpoint, r.sourceSpec.RepoPath, err)
		}
		return fmt.Errorf("--restore-from: %w; nothing was created", err)
	}
	if plan.archiveFirst {
		if err := r.source.archiveCurrentWAL(ctx, plan); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return fmt.Errorf("--restore-from: %w", err)
		}
	}
	r.backup = plan.backup
	// The backup and the timeline the checks chose on the source's
	// timeline history.
	r.options.Set, r.options.TargetTimeline = r.source.options.Set, r.source.options.TargetTimeline
	r.restorer.progress("Cluster %s will be restored from backup %s of cluster %s (namespace %s), to %s.",
		r.name, r.backup.Label, src, ns, r.options.Describe())
	return nil
}

// prepareLocal checks what a source with a local repository needs (its
// PVC), and starts its repository host if it is gone.
func (r *RestoreFromOptions) prepareLocal(ctx context.Context, client kubernetes.Interface) error {
	src, ns := r.Source, r.sourceNamespace
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, cluster.RepoPVCName(src), metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("--restore-from: the repository of cluster %q is gone: PVC %s does not exist in namespace %q; nothing was created",
			src, cluster.RepoPVCName(src), ns)
	} else if err != nil {
		return fmt.Errorf("--restore-from: reading PVC %s: %w", cluster.RepoPVCName(src), err)
	}

	_, err := client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(src), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if err := r.startTemporaryRepoHost(ctx); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return err
		}
	case err != nil:
		return fmt.Errorf("--restore-from: reading the repository host of cluster %q: %w", src, err)
	}
	return nil
}

// restoreOptionsFor is the restore machinery of cluster name in ns, with
// the restore options of the flags: for the source, it reads and checks
// its backups.
func (r *RestoreFromOptions) restoreOptionsFor(f kube.Factory, client kubernetes.Interface, name, ns string, streams genericiooptions.IOStreams) *RestoreOptions {
	o := NewRestoreOptions(streams)
	o.Name, o.namespace, o.options, o.target, o.Timeout = name, ns, r.options, r.target, r.Timeout
	o.factory, o.client, o.exec = f, client, factoryExec(f)
	if r.exec != nil {
		o.exec = r.exec
	}
	if r.pollInterval > 0 {
		o.pollInterval = r.pollInterval
	}
	return o
}

// startTemporaryRepoHost starts the repository host of the deleted source
// cluster from its kept PVC, Secret and settings: the objects create
// cluster renders for it, but only the repository host's.
func (r *RestoreFromOptions) startTemporaryRepoHost(ctx context.Context) error {
	src, ns := r.Source, r.sourceNamespace
	r.restorer.progress("Cluster %s was deleted with --keep-backups: starting a temporary repository host for its repository...", src)
	objects, err := r.sourceObjects()
	if err != nil {
		return err
	}
	for _, obj := range objects {
		switch {
		case obj.GetKind() == "ConfigMap" && obj.GetName() == cluster.PGBackRestConfigMapName(src),
			obj.GetKind() == "Deployment" && obj.GetName() == cluster.RepoHostName(src),
			obj.GetKind() == "Service" && obj.GetName() == cluster.RepoHostName(src):
		default:
			continue
		}
		if err := r.applyTemporary(ctx, obj); err != nil {
			return fmt.Errorf("--restore-from: starting a temporary repository host for cluster %q: %w", src, err)
		}
	}
	start := time.Now()
	var last error
	err = kube.WaitFor(ctx, r.restorer.pollInterval, restoreFromRepoHostTimeout, func(ctx context.Context) (bool, error) {
		_, last = kube.FindRunningPod(ctx, r.source.client, ns, cluster.RepoSelector(src).String())
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("--restore-from: the temporary repository host of cluster %q did not become ready: %v (%w)", src, last, err)
	}
	r.restorer.progress("The temporary repository host %s is ready (%s).", cluster.RepoHostName(src), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// applyTemporary applies obj, annotated with the cluster it serves
// (AnnotationTemporaryRepoHost), for Cleanup to remove.
func (r *RestoreFromOptions) applyTemporary(ctx context.Context, obj *unstructured.Unstructured) error {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationTemporaryRepoHost] = r.namespace + "/" + r.name
	obj.SetAnnotations(annotations)
	if _, err := kube.Apply(ctx, r.dyn, r.mapper, obj); err != nil {
		return err
	}
	r.temporary = append(r.temporary, temporaryObject{kind: obj.GetKind(), namespace: obj.GetNamespace(), name: obj.GetName(),
		delete: func(ctx context.Context) error {
			mapping, err := r.mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
			if err != nil {
				return err
			}
			return r.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(),
				metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		}})
	return nil
}

// temporaryObject is an object that --restore-from made for the time of
// the restore, and how to delete it.
type temporaryObject struct {
	kind, namespace, name string
	delete                func(ctx context.Context) error
}

// sourceObjects renders the source cluster's objects from its settings
// and certificates. The superuser password is not needed by the objects
// used here, and may be gone with the cluster.
func (r *RestoreFromOptions) sourceObjects() ([]*unstructured.Unstructured, error) {
	objects, err := cluster.Render(r.sourceSpec, cluster.Material{PKI: r.sourcePKI, Password: "unused"})
	if err != nil {
		return nil, fmt.Errorf("--restore-from: rendering the repository host of cluster %q from its settings: %w", r.Source, err)
	}
	return objects, nil
}

// Cleanup removes the temporary objects, if any: the repository host, or
// the reader pod and the Secret. Prepare and Restore call it; create
// cluster need not.
func (r *RestoreFromOptions) Cleanup(ctx context.Context) {
	for i := len(r.temporary) - 1; i >= 0; i-- {
		obj := r.temporary[i]
		if err := obj.delete(ctx); err != nil && !apierrors.IsNotFound(err) {
			r.restorer.progress("Warning: could not remove %s %s/%s, made for the restore: %v", obj.kind, obj.namespace, obj.name, err)
		}
	}
	kinds := map[string]bool{}
	for _, obj := range r.temporary {
		kinds[obj.kind] = true
	}
	if kinds["Deployment"] {
		r.restorer.progress("Removed the temporary repository host of cluster %s.", r.Source)
	}
	if kinds["Pod"] {
		r.restorer.progress("Removed the pod and the Secret that read the S3 repository of cluster %s.", r.Source)
	} else if kinds["Secret"] {
		r.restorer.progress("Removed the Secret %s that read the repositories of cluster %s.", restoreSourceSecretName(r.name), r.Source)
	}
	r.temporary = nil
}

// AdjustObjects keeps the new cluster's database stopped (StatefulSet
// replicas 0) until its data directory is restored: otherwise it would
// initialize an empty one.
//
// It also renders the restore Job from that StatefulSet, as Restore will,
// and refuses, before anything is applied, a Job that pgBackRest would
// not run in (a repository of the source without its keys, passphrase or
// CA).
func (r *RestoreFromOptions) AdjustObjects(objects []*unstructured.Unstructured) error {
	for _, obj := range objects {
		if obj.GetKind() != "StatefulSet" || obj.GetName() != cluster.StatefulSetName(r.name) {
			continue
		}
		if err := unstructured.SetNestedField(obj.Object, int64(0), "spec", "replicas"); err != nil {
			return err
		}
		if r.sourceData == nil {
			// A client dry run: the source was not read.
			return nil
		}
		sts := &appsv1.StatefulSet{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, sts); err != nil {
			return fmt.Errorf("--restore-from: the rendered StatefulSet %s: %w", obj.GetName(), err)
		}
		if _, err := r.restoreJob(sts); err != nil {
			return fmt.Errorf("--restore-from: %w; nothing was created", err)
		}
		return nil
	}
	return fmt.Errorf("--restore-from: the rendered objects have no StatefulSet %s", cluster.StatefulSetName(r.name))
}

// restoreJob renders the Job that restores the source's backup into the
// data PVC of sts, the new cluster's StatefulSet, and runs the recovery,
// with the source's configuration from the temporary Secret. It refuses
// a Job without everything pgBackRest needs to read the source's
// repositories.
func (r *RestoreFromOptions) restoreJob(sts *appsv1.StatefulSet) (*batchv1.Job, error) {
	extra := []string{"--pg1-path=" + cluster.DataDirectory(r.name)}
	if r.sourceSpec.HasLocalRepo() && r.sourceNamespace != r.namespace {
		// The Service in the other namespace, by a name its certificate
		// carries.
		extra = append(extra, fmt.Sprintf("--repo1-host=%s.%s.svc", cluster.RepoHostName(r.Source), r.sourceNamespace))
	}
	passwordFile, err := passwordFilePath(sts)
	if err != nil {
		return nil, err
	}
	job, err := jobs.RestoreJob{
		Cluster:        r.name,
		Namespace:      r.namespace,
		Database:       sts,
		PGData:         cluster.DataDirectory(r.name),
		Options:        r.options,
		ExtraArgs:      extra,
		SourceSecret:   restoreSourceSecretName(r.name),
		SourceFiles:    r.access.Files,
		SourceEnv:      r.access.Env,
		Recover:        true,
		PostgresBinDir: postgresBinDirOf(sts, r.sourceSpec.PostgresVersion),
		PasswordFile:   passwordFile,
		Superuser:      cluster.Superuser,
	}.Render()
	if err != nil {
		return nil, err
	}
	if err := jobs.CheckRepositoryAccess(job.Spec.Template.Spec, jobs.RestoreContainer, r.sourceSpec.Repositories()); err != nil {
		return nil, fmt.Errorf("the restore Job cannot read the repositories of cluster %q: %w", r.Source, err)
	}
	return job, nil
}

// restoreSourceSecretName is the Secret with the source's pgBackRest
// configuration, in the new cluster's namespace, while the Job runs.
func restoreSourceSecretName(cluster string) string { return cluster + "-restore-source" }

// Restore runs after the new cluster's objects are applied: a Job restores
// the source's backup into the new data PVC and runs the recovery (with
// the source's configuration, from a temporary Secret); then the temporary
// objects go and the database starts, to archive into its own repository.
func (r *RestoreFromOptions) Restore(ctx context.Context) error {
	defer r.Cleanup(context.WithoutCancel(ctx))
	o := r.restorer
	client, ns := o.client, r.namespace
	sts, err := client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(r.name), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("--restore-from: reading the new StatefulSet: %w", err)
	}

	// The Secret is there since Prepare when the reader pod used it.
	if !r.readsS3Only() {
		if err := r.createTemporarySecret(ctx, r.sourceData); err != nil {
			return err
		}
	}

	job, err := r.restoreJob(sts)
	if err != nil {
		return err
	}
	jobClient := client.BatchV1().Jobs(ns)
	if err := jobClient.Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err == nil {
		_ = kube.WaitFor(ctx, o.pollInterval, time.Minute, func(ctx context.Context) (bool, error) {
			_, err := jobClient.Get(ctx, job.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}
	created, err := jobClient.Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return fmt.Errorf("--restore-from: creating the restore Job %s: %w", job.Name, err)
	}
	o.progress("Started the restore Job %s: pgbackrest %s, then the recovery", job.Name, job.Annotations[jobs.AnnotationRestoreOptions])

	waitCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	result, err := o.followJob(waitCtx, created)
	if err != nil {
		return err
	}
	set := result.backupSet
	if set == "" {
		set = r.backup.Label
	}
	o.progress("The data directory of cluster %s is restored from backup %s of cluster %s; starting its database.", r.name, set, r.Source)
	return o.scaleDatabase(ctx, 1)
}

// passwordFilePath is where the database container finds the superuser's
// password: the item of the postgres Secret in its projected volume.
func passwordFilePath(sts *appsv1.StatefulSet) (string, error) {
	spec := sts.Spec.Template.Spec
	for _, c := range spec.Containers {
		if c.Name != restoreDatabaseContainer {
			continue
		}
		for _, m := range c.VolumeMounts {
			for _, v := range spec.Volumes {
				if v.Name != m.Name || v.Projected == nil {
					continue
				}
				for _, src := range v.Projected.Sources {
					if src.Secret == nil || src.Secret.Name != cluster.PostgresSecretName(sts.Name) {
						continue
					}
					for _, item := range src.Secret.Items {
						if item.Key == cluster.KeyPassword {
							return path.Join(m.MountPath, item.Path), nil
						}
					}
				}
			}
		}
	}
	return "", fmt.Errorf("StatefulSet %s/%s does not mount the superuser's password: it was not created by this version of kubectl pgo", sts.Namespace, sts.Name)
}

// postgresBinDirOf is the directory of the PostgreSQL binaries, from the
// database's readiness probe (pg_isready), or Debian's default.
func postgresBinDirOf(sts *appsv1.StatefulSet, version int) string {
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == restoreDatabaseContainer && c.ReadinessProbe != nil && c.ReadinessProbe.Exec != nil && len(c.ReadinessProbe.Exec.Command) > 0 {
			if cmd := c.ReadinessProbe.Exec.Command[0]; path.Base(cmd) == "pg_isready" && path.IsAbs(cmd) {
				return path.Dir(cmd)
			}
		}
	}
	return fmt.Sprintf("/usr/lib/postgresql/%d/bin", version)
}

// goneSourceSpec is where the repository of a source cluster that is gone
// for good is assumed to be: in the new cluster's bucket, under the
// source's own path, unencrypted (a passphrase would have gone with it).
func goneSourceSpec(name, namespace string, target cluster.Spec) cluster.Spec {
	s3 := *target.S3
	spec := cluster.Spec{
		Name: name, Namespace: namespace, Image: target.Image, PostgresVersion: target.PostgresVersion,
		StorageType: []cluster.StorageType{cluster.StorageS3}, S3: &s3,
	}
	spec.Default()
	return spec
}

// readSourceAccess reads what reads the source's repositories, for the
// temporary Secret: its pgbackrest.conf; for a local repository, the
// certificates of its database side; for an S3 one, its keys and CA; for
// an encrypted one, the passphrase. A source in another namespace is read
// through this copy, as a pod cannot use a Secret of another namespace.
func (r *RestoreFromOptions) readSourceAccess(ctx context.Context, client kubernetes.Interface) error {
	src, spec := r.Source, r.sourceSpec
	r.access = jobs.NewSourceAccess(restoreSourceSecretName(r.name), spec.Repositories())
	conf, err := cluster.DatabaseConf(spec)
	if err != nil {
		return fmt.Errorf("the configuration of cluster %q: %w", src, err)
	}
	data := map[string][]byte{jobs.SourceKeyConfig: []byte(conf)}
	// A gone source's Secrets are the new cluster's.
	secretsNS := r.sourceNamespace
	if r.sourceGone {
		secretsNS = r.namespace
	}
	if spec.HasLocalRepo() {
		if r.sourcePKI, err = r.readSourcePKI(ctx, client); err != nil {
			return err
		}
		data[jobs.SourceKeyCACert], data[jobs.SourceKeyCert], data[jobs.SourceKeyKey] = r.sourcePKI.CACert, r.sourcePKI.DBCert, r.sourcePKI.DBKey
	}
	if spec.HasS3Repo() {
		if spec.S3 == nil {
			return fmt.Errorf("the settings of cluster %q have no S3 bucket", src)
		}
		if data[jobs.SourceKeyS3Key], data[jobs.SourceKeyS3KeySecret], err = r.sourceS3Keys(ctx, client, secretsNS); err != nil {
			return err
		}
		if spec.S3.CASecret != "" {
			if data[jobs.SourceKeyS3CA], err = secretValue(ctx, client, secretsNS, spec.S3.CASecret, cluster.KeyS3CA); err != nil {
				return fmt.Errorf("the CA of the S3 endpoint of cluster %q: %w", src, err)
			}
		}
	}
	if spec.Cipher != "" {
		pass, err := secretValue(ctx, client, r.sourceNamespace, cluster.RepoConfigSecretName(src), cluster.KeyCipherPass)
		if err != nil {
			return fmt.Errorf("the repository of cluster %q is encrypted, and its passphrase cannot be read (%v): without it its backups cannot be restored", src, err)
		}
		data[jobs.SourceKeyCipherPass] = pass
	}
	if missing := r.access.Missing(data); len(missing) > 0 {
		return fmt.Errorf("cannot read the repositories of cluster %q without %s", src, strings.Join(missing, ", "))
	}
	r.sourceData = data
	return nil
}

// readSourcePKI reads the certificates of a local source's database side,
// by which the restore reaches its repository host.
func (r *RestoreFromOptions) readSourcePKI(ctx context.Context, client kubernetes.Interface) (cluster.PKI, error) {
	src, ns := r.Source, r.sourceNamespace
	secret, err := client.CoreV1().Secrets(ns).Get(ctx, cluster.RepoConfigSecretName(src), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return cluster.PKI{}, fmt.Errorf("the repository of cluster %q cannot be reached: its Secret %s (the certificates of its repository host) is gone",
			src, cluster.RepoConfigSecretName(src))
	}
	if err != nil {
		return cluster.PKI{}, fmt.Errorf("reading Secret %s: %w", cluster.RepoConfigSecretName(src), err)
	}
	pki, err := cluster.PKIFromSecret(secret)
	if err != nil {
		return cluster.PKI{}, fmt.Errorf("secret %s/%s: %w", ns, secret.Name, err)
	}
	return pki, nil
}

// readsS3Only tells whether the restore reads only an S3 repository of
// the source: it has no other, or --restore-opts chose it with --repo.
// The source's backups are then read in a reader pod, from the bucket,
// whether the source runs or not.
func (r *RestoreFromOptions) readsS3Only() bool {
	types := r.sourceSpec.StorageType
	if n := r.options.Repo; n > 0 && n <= len(types) {
		return types[n-1] == cluster.StorageS3
	}
	return !r.sourceSpec.HasLocalRepo()
}

// prepareS3 creates the temporary Secret for a source read from S3 only,
// and starts the reader pod that the checks run in.
func (r *RestoreFromOptions) prepareS3(ctx context.Context) error {
	if err := r.createTemporarySecret(ctx, r.sourceData); err != nil {
		return err
	}
	return r.startReader(ctx)
}

// sourceS3Keys are the keys of the source's credentials Secret, or, when
// it is gone (the source's repository Secret goes with the source), those
// of the new cluster, which must then use S3 too.
func (r *RestoreFromOptions) sourceS3Keys(ctx context.Context, client kubernetes.Interface, ns string) ([]byte, []byte, error) {
	name := r.sourceSpec.S3.CredentialsSecret
	s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && len(missingKeys(s, []string{cluster.KeyS3Key, cluster.KeyS3KeySecret})) == 0:
		return s.Data[cluster.KeyS3Key], s.Data[cluster.KeyS3KeySecret], nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, nil, fmt.Errorf("reading the S3 keys of cluster %q: %w", r.Source, err)
	case r.newSpec.S3 == nil:
		return nil, nil, fmt.Errorf("the S3 keys of cluster %q are gone (Secret %s/%s does not exist or lacks %s, %s): recreate it, or create this cluster with an S3 repository (--%s=s3 ...) whose keys can read the bucket",
			r.Source, ns, name, cluster.KeyS3Key, cluster.KeyS3KeySecret, flagStorageType)
	case r.newSpec.S3.CredentialsSecret == cluster.RepoConfigSecretName(r.name) && r.material.S3Key != "":
		// The new cluster's keys, given as flags.
		return []byte(r.material.S3Key), []byte(r.material.S3KeySecret), nil
	}
	s, err = client.CoreV1().Secrets(r.namespace).Get(ctx, r.newSpec.S3.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the S3 keys of cluster %q: %w", r.name, err)
	}
	return s.Data[cluster.KeyS3Key], s.Data[cluster.KeyS3KeySecret], nil
}

// secretValue is the value of key in Secret ns/name.
func secretValue(ctx context.Context, client kubernetes.Interface, ns, name, key string) ([]byte, error) {
	s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("secret %s/%s does not exist", ns, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
	}
	if len(s.Data[key]) == 0 {
		return nil, fmt.Errorf("secret %s/%s has no %s", ns, name, key)
	}
	return s.Data[key], nil
}

// createTemporarySecret creates the Secret restoreSourceSecretName with
// data, in the new cluster's namespace, for Cleanup to remove.
func (r *RestoreFromOptions) createTemporarySecret(ctx context.Context, data map[string][]byte) error {
	secrets := r.restorer.client.CoreV1().Secrets(r.namespace)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: restoreSourceSecretName(r.name), Namespace: r.namespace, Labels: cluster.Labels(r.name, jobs.ComponentRestore),
			Annotations: map[string]string{AnnotationTemporaryRepoHost: r.namespace + "/" + r.name}},
		Data: data,
	}
	// One left by an interrupted run is stale.
	_ = secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{})
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("creating Secret %s/%s: %w", r.namespace, secret.Name, err)
	}
	r.temporary = append(r.temporary, temporaryObject{kind: "Secret", namespace: r.namespace, name: secret.Name,
		delete: func(ctx context.Context) error { return secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{}) }})
	return nil
}

// startReader starts the pod that reads the source's S3 repository, and
// waits until it runs: the checks run in it.
func (r *RestoreFromOptions) startReader(ctx context.Context) error {
	pod, err := jobs.SourceReader{
		Cluster: r.name, Namespace: r.namespace, Image: r.newSpec.Image,
		SourceSecret: restoreSourceSecretName(r.name), SourceFiles: r.access.Files, SourceEnv: r.access.Env,
	}.Render()
	if err != nil {
		return err
	}
	r.restorer.progress("Reading the S3 repository of cluster %s (bucket %s, path %s) from pod %s...", r.Source, r.sourceSpec.S3.Bucket, r.sourceSpec.RepoPath, pod.Name)
	pods := r.restorer.client.CoreV1().Pods(r.namespace)
	pod.Annotations = map[string]string{AnnotationTemporaryRepoHost: r.namespace + "/" + r.name}
	now := metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}
	if err := pods.Delete(ctx, pod.Name, now); err == nil {
		// One left by an interrupted run: gone before its name is reused.
		_ = kube.WaitFor(ctx, r.restorer.pollInterval, time.Minute, func(ctx context.Context) (bool, error) {
			_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("creating pod %s/%s: %w", r.namespace, pod.Name, err)
	}
	r.temporary = append(r.temporary, temporaryObject{kind: "Pod", namespace: r.namespace, name: pod.Name,
		delete: func(ctx context.Context) error { return pods.Delete(ctx, pod.Name, now) }})
	var last string
	err = kube.WaitFor(ctx, r.restorer.pollInterval, restoreFromRepoHostTimeout, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = string(p.Status.Phase)
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod %s/%s ended (%s) before it could read the repository", r.namespace, pod.Name, p.Status.Phase)
		}
		if p.Status.Phase == corev1.PodRunning {
			r.source.repoPod = p
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the pod that reads the repository of cluster %q did not start (%s): %w", r.Source, last, err)
	}
	return nil
}
