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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
// host.
const restoreFromRepoHostTimeout = 3 * time.Minute

// RestoreFromOptions are the flags of `kubectl pgo create cluster NEW
// --restore-from=OLD`, which bootstraps the data directory of the new
// cluster from OLD's pgBackRest repository, then gives NEW a repository
// and a stanza of its own. OLD may be running, or deleted with
// --keep-backups (its repository PVC, Secret and settings are left): then
// a temporary repository host serves the repository during the restore.
//
// create cluster calls, in order: AddFlags when it builds its flags;
// Validate with its own checks (no request); Prepare before it applies
// anything, once it knows whether the cluster exists; AdjustObjects on the
// rendered objects; Restore after it has applied them and before it waits.
type RestoreFromOptions struct {
	Source          string
	SourceNamespace string
	PITRTarget      string
	RestoreOpts     string
	// Timeout bounds the restore Job.
	Timeout time.Duration

	options repo.RestoreOptions
	target  time.Time

	// Set by Prepare.
	name, namespace  string
	sourceNamespace  string
	sourceSpec       cluster.Spec
	sourcePKI        cluster.PKI
	temporary        []*unstructured.Unstructured
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
	fl.StringVar(&r.Source, "restore-from", "", "Bootstrap the new cluster's data from the pgBackRest repository of this cluster, which may be running or deleted with --keep-backups.")
	fl.StringVar(&r.SourceNamespace, "restore-from-namespace", "", "Namespace of the --restore-from cluster; the new cluster's namespace if empty.")
	fl.StringVar(&r.PITRTarget, "pitr-target", "", "With --restore-from: the point in time to restore to, with its time zone, e.g. '2026-11-24 12:00:00+00'; the latest point if empty.")
	fl.StringVar(&r.RestoreOpts, "restore-opts", "", "With --restore-from: options for pgbackrest restore, as restore --backup-opts takes them, e.g. '--set=20261124-110000F'.")
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
		for flag, v := range map[string]string{"--restore-from-namespace": r.SourceNamespace, "--pitr-target": r.PITRTarget, "--restore-opts": r.RestoreOpts} {
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
	if r.target, err = opts.Normalize(); err != nil {
		return fmt.Errorf("invalid --restore-opts:\n%s", indentLines(err.Error()))
	}
	if opts.TargetAction == repo.TargetActionPause {
		return errors.New("--target-action=pause cannot be used with --restore-from: the new cluster's database must be promoted; restore it, then inspect it")
	}
	if opts.Repo > 1 {
		return fmt.Errorf("--repo=%d: the clusters have one repository, repo1", opts.Repo)
	}
	r.options = opts
	return nil
}

// Prepare checks the source before anything is created: it exists (or was
// deleted with --keep-backups), its repository has a backup to restore
// and the target lies in its recovery window. existing tells whether the
// new cluster exists already, which --restore-from refuses. For a deleted
// source it starts the temporary repository host that serves the checks
// and the restore, and removes it again if a check fails.
func (r *RestoreFromOptions) Prepare(ctx context.Context, f kube.Factory, existing bool, streams genericiooptions.IOStreams) error {
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
	src, ns := r.Source, r.sourceNamespace

	settings, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(src), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("--restore-from: cluster %q not found in namespace %q, neither running nor deleted with --keep-backups (there is no ConfigMap %s); nothing was created",
			src, ns, cluster.SettingsConfigMapName(src))
	}
	if err != nil {
		return fmt.Errorf("--restore-from: reading the settings of cluster %q: %w", src, err)
	}
	if r.sourceSpec, err = cluster.SpecFromConfigMap(settings); err != nil {
		return fmt.Errorf("--restore-from: %w", err)
	}
	if !r.sourceSpec.HasLocalRepo() {
		// Its repository is reached through its local repository host.
		return fmt.Errorf("--restore-from: cluster %q keeps its backups in S3 only, which --restore-from does not read yet; restore it in place with kubectl pgo restore %s -n %s; nothing was created",
			src, src, ns)
	}
	secret, err := client.CoreV1().Secrets(ns).Get(ctx, cluster.RepoConfigSecretName(src), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("--restore-from: the repository of cluster %q cannot be reached: its Secret %s (the certificates of its repository host) is gone; nothing was created",
			src, cluster.RepoConfigSecretName(src))
	}
	if err != nil {
		return fmt.Errorf("--restore-from: reading Secret %s: %w", cluster.RepoConfigSecretName(src), err)
	}
	if r.sourcePKI, err = cluster.PKIFromSecret(secret); err != nil {
		return fmt.Errorf("--restore-from: Secret %s/%s: %w", ns, secret.Name, err)
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, cluster.RepoPVCName(src), metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("--restore-from: the repository of cluster %q is gone: PVC %s does not exist in namespace %q; nothing was created",
			src, cluster.RepoPVCName(src), ns)
	} else if err != nil {
		return fmt.Errorf("--restore-from: reading PVC %s: %w", cluster.RepoPVCName(src), err)
	}

	_, err = client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(src), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if err := r.startTemporaryRepoHost(ctx); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return err
		}
	case err != nil:
		return fmt.Errorf("--restore-from: reading the repository host of cluster %q: %w", src, err)
	}

	plan := &restorePlan{spec: r.sourceSpec}
	if err := r.source.checkRepository(ctx, plan); err != nil {
		r.Cleanup(context.WithoutCancel(ctx))
		return fmt.Errorf("--restore-from: %w; nothing was created", err)
	}
	r.backup = plan.backup
	r.restorer.progress("Cluster %s will be restored from backup %s of cluster %s (namespace %s), to %s.",
		r.name, r.backup.Label, src, ns, r.options.Describe())
	return nil
}

// restoreOptionsFor is the restore machinery of cluster name in ns, with
// the restore options of the flags: for the source, it reads and checks
// its backups.
func (r *RestoreFromOptions) restoreOptionsFor(f kube.Factory, client kubernetes.Interface, name, ns string, streams genericiooptions.IOStreams) *RestoreOptions {
	o := NewRestoreOptions(streams)
	o.Name, o.namespace, o.options, o.target, o.Timeout = name, ns, r.options, r.target, r.Timeout
	o.factory, o.client, o.exec = f, client, restoreExec(f)
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
	owner := r.namespace + "/" + r.name
	for _, obj := range objects {
		switch {
		case obj.GetKind() == "ConfigMap" && obj.GetName() == cluster.PGBackRestConfigMapName(src),
			obj.GetKind() == "Deployment" && obj.GetName() == cluster.RepoHostName(src),
			obj.GetKind() == "Service" && obj.GetName() == cluster.RepoHostName(src):
		default:
			continue
		}
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[AnnotationTemporaryRepoHost] = owner
		obj.SetAnnotations(annotations)
		if _, err := kube.Apply(ctx, r.dyn, r.mapper, obj); err != nil {
			return fmt.Errorf("--restore-from: starting a temporary repository host for cluster %q: %w", src, err)
		}
		r.temporary = append(r.temporary, obj)
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

// Cleanup removes the temporary repository host, if any. Prepare and
// Restore call it; create cluster need not.
func (r *RestoreFromOptions) Cleanup(ctx context.Context) {
	for i := len(r.temporary) - 1; i >= 0; i-- {
		obj := r.temporary[i]
		mapping, err := r.mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
		if err != nil {
			continue
		}
		err = r.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(),
			metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			r.restorer.progress("Warning: could not remove %s %s/%s of the temporary repository host: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	if len(r.temporary) > 0 {
		r.restorer.progress("Removed the temporary repository host of cluster %s.", r.Source)
	}
	r.temporary = nil
}

// AdjustObjects keeps the new cluster's database stopped (StatefulSet
// replicas 0) until its data directory is restored: otherwise it would
// initialize an empty one.
func (r *RestoreFromOptions) AdjustObjects(objects []*unstructured.Unstructured) error {
	for _, obj := range objects {
		if obj.GetKind() == "StatefulSet" && obj.GetName() == cluster.StatefulSetName(r.name) {
			return unstructured.SetNestedField(obj.Object, int64(0), "spec", "replicas")
		}
	}
	return fmt.Errorf("--restore-from: the rendered objects have no StatefulSet %s", cluster.StatefulSetName(r.name))
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

	// The source's database-side configuration and certificates.
	var dbConf string
	objects, err := r.sourceObjects()
	if err != nil {
		return err
	}
	for _, obj := range objects {
		if obj.GetKind() == "ConfigMap" && obj.GetName() == cluster.PGBackRestConfigMapName(r.Source) {
			dbConf, _, _ = unstructured.NestedString(obj.Object, "data", cluster.FileDatabaseConf)
		}
	}
	if dbConf == "" {
		return fmt.Errorf("--restore-from: the rendered configuration of cluster %q has no %s", r.Source, cluster.FileDatabaseConf)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: restoreSourceSecretName(r.name), Namespace: ns, Labels: cluster.Labels(r.name, jobs.ComponentRestore),
			Annotations: map[string]string{AnnotationTemporaryRepoHost: r.sourceNamespace + "/" + r.Source}},
		Data: map[string][]byte{
			jobs.SourceKeyConfig: []byte(dbConf),
			jobs.SourceKeyCACert: r.sourcePKI.CACert,
			jobs.SourceKeyCert:   r.sourcePKI.DBCert,
			jobs.SourceKeyKey:    r.sourcePKI.DBKey,
		},
	}
	secrets := client.CoreV1().Secrets(ns)
	_ = secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{})
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("--restore-from: creating Secret %s: %w", secret.Name, err)
	}
	defer func() {
		if err := secrets.Delete(context.WithoutCancel(ctx), secret.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			o.progress("Warning: could not delete Secret %s/%s: %v", ns, secret.Name, err)
		}
	}()

	extra := []string{"--pg1-path=" + cluster.DataDirectory(r.name)}
	if r.sourceNamespace != r.namespace {
		// The Service in the other namespace, by a name its certificate
		// carries.
		extra = append(extra, fmt.Sprintf("--repo1-host=%s.%s.svc", cluster.RepoHostName(r.Source), r.sourceNamespace))
	}
	passwordFile, err := passwordFilePath(sts)
	if err != nil {
		return err
	}
	job, err := jobs.RestoreJob{
		Cluster:        r.name,
		Namespace:      ns,
		Database:       sts,
		PGData:         cluster.DataDirectory(r.name),
		Options:        r.options,
		ExtraArgs:      extra,
		SourceSecret:   secret.Name,
		Recover:        true,
		PostgresBinDir: postgresBinDirOf(sts, r.sourceSpec.PostgresVersion),
		PasswordFile:   passwordFile,
		Superuser:      cluster.Superuser,
	}.Render()
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
