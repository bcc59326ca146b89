package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
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

// repoHostTimeout bounds the start of a temporary repository host, or of
// the pod that reads an S3 repository.
const repoHostTimeout = 3 * time.Minute

// From bootstraps the data directory of a new cluster, Name in Namespace,
// from the pgBackRest repository of cluster Source in SourceNamespace,
// then gives the new cluster a repository and a stanza of its own. Source
// may be running, or deleted with --keep-backups (its repository PVC,
// Secret and settings are left): then a temporary repository host serves
// the repository during the restore.
//
// An S3-only source is read from its bucket, by a temporary pod (the
// checks) and by the restore Job, with the source's pgbackrest.conf and
// keys copied into a temporary Secret: nothing of the source need run.
// When the source is gone for good (no settings ConfigMap) and the new
// cluster has an S3 repository, the source's repository is looked for in
// the new cluster's bucket under the source's path, read with the new
// cluster's keys. The new cluster archives and backs up under its own
// path only.
//
// create cluster calls, in order: Prepare before it applies anything, once
// it knows whether the cluster exists; AdjustObjects on the rendered
// objects; Restore after it has applied them and before it waits.
type From struct {
	Client   kubernetes.Interface
	Dynamic  dynamic.Interface
	Mapper   meta.RESTMapper
	Exec     Exec
	Progress io.Writer

	Source, SourceNamespace string
	Name, Namespace         string
	// Options are the pgBackRest restore options, normalized, and Target
	// the time target (zero without one); Prepare sets the backup and the
	// timeline it chose.
	Options repo.RestoreOptions
	Target  time.Time
	// Timeout bounds the restore Job.
	Timeout      time.Duration
	PollInterval time.Duration
	// NewSpec and Material are the new cluster's Spec and secret material.
	NewSpec  cluster.Spec
	Material cluster.Material

	// Standby leaves the new cluster a standby of the source (create
	// cluster --standby): the Job restores the newest backup in standby
	// mode and runs no recovery; the database then replays the source's
	// WAL with the source's configuration, kept in the Secret
	// cluster.StandbySourceSecretName (see standbySourceData).
	Standby bool
	// SourceCredentials, when set, names a Secret of the new cluster's
	// namespace whose S3 keys read the source's bucket (read-only keys
	// are enough), instead of the source's keys or the new cluster's.
	SourceCredentials string
	// SourceCipherSecret, when set, names a Secret of the new cluster's
	// namespace whose cipher-pass is the passphrase of the source's
	// repositories: for an encrypted source whose own Secret cannot be
	// read from here (gone, or in another Kubernetes cluster).
	SourceCipherSecret string
	// StreamSecret, when set, names a Secret of the new cluster's namespace
	// with the source's replication password and CA, for a standby that
	// streams from the source (cluster.StandbySpec.Host); without it they
	// are read from the source's Secrets.
	StreamSecret string

	// Backup is the source's backup that Prepare chose.
	Backup repo.Backup

	// sourceGone: the source has no settings ConfigMap left, and
	// sourceSpec is where its S3 repository is assumed to be.
	sourceGone bool
	sourceSpec cluster.Spec
	// jobImage is the restore Job's image when it is not the new
	// cluster's: see chooseJobImage.
	jobImage, jobLibraryPath string
	// streamData is what a standby streams from the source with: the
	// replication password and the CA (StandbyKey*).
	streamData map[string][]byte
	// sourceData is the data of the temporary Secret sourceSecretName, and
	// access how the reader pod and the restore Job read the source's
	// repositories from it.
	sourceData       map[string][]byte
	access           jobs.SourceAccess
	sourcePKI        cluster.PKI
	temporary        []temporaryObject
	restorer, source *InPlace
}

// CheckNames checks, without a request, the names of a restore-from of
// cluster source in sourceNamespace (namespace when empty) into the new
// cluster name in namespace: they are a cluster's and a namespace's, and
// the source is not the new cluster. It returns the source's namespace.
func CheckNames(source, sourceNamespace, name, namespace string) (string, error) {
	if msgs := validation.IsDNS1035Label(source); len(msgs) > 0 {
		return "", fmt.Errorf("--restore-from=%s is not a cluster name: %s", source, strings.Join(msgs, "; "))
	}
	if sourceNamespace == "" {
		sourceNamespace = namespace
	} else if msgs := validation.IsDNS1123Label(sourceNamespace); len(msgs) > 0 {
		return "", fmt.Errorf("--restore-from-namespace=%s is not a namespace: %s", sourceNamespace, strings.Join(msgs, "; "))
	}
	if source == name && sourceNamespace == namespace {
		return "", fmt.Errorf("--restore-from=%s names the cluster being created: to restore a cluster in place, use kubectl pgo restore %s", source, name)
	}
	return sourceNamespace, nil
}

// SourceSpec is the source's Spec, once Prepare has read it.
func (r *From) SourceSpec() cluster.Spec { return r.sourceSpec }

// progress prints a step.
func (r *From) progress(format string, args ...any) {
	fmt.Fprintf(r.Progress, format+"\n", args...)
}

// InPlaceFor is the restore machinery of cluster name in namespace, with
// the restore options of r: for the source, it reads and checks its
// backups.
func (r *From) InPlaceFor(name, namespace string) *InPlace {
	return &InPlace{
		Client: r.Client, Exec: r.Exec, Progress: r.Progress,
		Name: name, Namespace: namespace, Options: r.Options, Target: r.Target,
		Timeout: r.Timeout, PollInterval: r.PollInterval, Now: time.Now,
		Command: fmt.Sprintf("kubectl pgo restore %s -n %s", name, namespace),
	}
}

// Prepare checks the source before anything is created: it exists (or was
// deleted with --keep-backups, or is in the new cluster's bucket), its
// repository has a backup to restore and the target lies in its recovery
// window. existing tells whether the new cluster exists already, which
// --restore-from refuses. For a deleted source it starts the temporary
// repository host, for an S3 source the reader pod, that serve the checks
// and the restore, and removes them again if a check fails.
func (r *From) Prepare(ctx context.Context, existing bool) error {
	if existing {
		return fmt.Errorf("--restore-from creates a new cluster, and cluster %q exists in namespace %q: choose another name, or delete it first (kubectl pgo delete cluster %s -n %s)",
			r.Name, r.Namespace, r.Name, r.Namespace)
	}
	r.source = r.InPlaceFor(r.Source, r.SourceNamespace)
	r.restorer = r.InPlaceFor(r.Name, r.Namespace)
	r.restorer.RetryAdvice = fmt.Sprintf("Cluster %s was created with its database stopped. Fix the cause, delete it (kubectl pgo delete cluster %s -n %s --yes), and create it again with --restore-from.",
		r.Name, r.Name, r.Namespace)
	client, target := r.Client, r.NewSpec
	src, ns := r.Source, r.SourceNamespace

	settings, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(src), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && !target.HasObjectStoreRepo():
		return fmt.Errorf("--restore-from: cluster %q not found in namespace %q, neither running nor deleted with --keep-backups (there is no ConfigMap %s). "+
			"If its backups are in an object store, create this cluster with a repository in the same bucket or container, and it is read from there: "+
			"--pgbackrest-storage-type=s3 (or local,s3) with --pgbackrest-s3-bucket, --pgbackrest-s3-endpoint, the keys and the CA; or gcs with --pgbackrest-gcs-bucket and its key Secret; "+
			"or azure with --pgbackrest-azure-account, --pgbackrest-azure-container and its key Secret; nothing was created",
			src, ns, cluster.SettingsConfigMapName(src))
	case apierrors.IsNotFound(err):
		r.sourceGone = true
		r.sourceSpec = goneSourceSpec(src, ns, target)
		if r.SourceCipherSecret != "" {
			r.sourceSpec.Cipher = repo.CipherAES256
		}
	case err != nil:
		return fmt.Errorf("--restore-from: reading the settings of cluster %q: %w", src, err)
	default:
		if r.sourceSpec, err = cluster.SpecFromConfigMap(settings); err != nil {
			return fmt.Errorf("--restore-from: %w", err)
		}
	}
	// The backup chosen must be of the new cluster's major (r.source.Major):
	// a source upgraded since has backups of both.
	r.source.Major = target.PostgresVersion
	if err := r.chooseJobImage(target); err != nil {
		return err
	}
	if sb := r.sourceSpec.Standby; sb != nil {
		return fmt.Errorf("--restore-from: cluster %q is itself a standby of cluster %q, and its repository has no backups of its own until it is promoted: name %q instead (with --restore-from-namespace=%s); nothing was created",
			src, sb.Source, sb.Source, cmp.Or(sb.SourceNamespace, ns))
	}
	// Everything the restore Job reads the source with is gathered now:
	// a Secret or a key that is missing refuses the restore before
	// anything is created, not in the Job, once the new cluster exists.
	if err := r.readSourceAccess(ctx, client); err != nil {
		return fmt.Errorf("--restore-from: %w; nothing was created", err)
	}
	if err := r.readStreamAccess(ctx, client); err != nil {
		return fmt.Errorf("--standby-host: %w; nothing was created", err)
	}
	if r.sourceSpec.HasLocalRepo() {
		if err := r.prepareLocal(ctx, client); err != nil {
			return err
		}
	}
	if r.readsObjectStoreOnly() {
		if err := r.prepareObjectStore(ctx); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return fmt.Errorf("--restore-from: %w; nothing was created", err)
		}
	}

	plan := &Plan{Spec: r.sourceSpec}
	if err := r.source.CheckRepository(ctx, plan); err != nil {
		r.Cleanup(context.WithoutCancel(ctx))
		if advice := r.cipherAdvice(err); advice != "" {
			return fmt.Errorf("--restore-from: %s; nothing was created.\n(%w)", advice, err)
		}
		if r.sourceGone {
			return fmt.Errorf("--restore-from: cluster %q is gone (there is no ConfigMap %s in namespace %q), and its repository is not readable in %s under %s: %w. "+
				"Check the name and the bucket or container (an encrypted repository also needs --restore-from-cipher-secret); nothing was created",
				src, cluster.SettingsConfigMapName(src), ns, r.sourceSpec.ObjectStores(), r.sourceSpec.RepoPath, err)
		}
		return fmt.Errorf("--restore-from: %w; nothing was created", err)
	}
	if plan.ArchiveFirst {
		if err := r.source.ArchiveCurrentWAL(ctx, plan); err != nil {
			r.Cleanup(context.WithoutCancel(ctx))
			return fmt.Errorf("--restore-from: %w", err)
		}
	}
	r.Backup = plan.Backup
	// The backup and the timeline the checks chose on the source's
	// timeline history.
	r.Options.Set, r.Options.TargetTimeline = r.source.Options.Set, r.source.Options.TargetTimeline
	if r.Standby {
		// Every timeline the source takes later is followed too.
		r.Options.Type, r.Options.TargetTimeline = repo.RecoveryStandby, "latest"
	}
	r.progress("Cluster %s will be restored from backup %s of cluster %s (namespace %s), to %s.",
		r.Name, r.Backup.Label, src, ns, r.Options.Describe())
	return nil
}

// chooseJobImage picks the restore Job's image when the source runs
// another major than the new cluster (a source upgraded since the backup
// restored) and its repository is local: only its repository host serves
// it, and pgBackRest's TLS protocol takes only its own version ("expected
// value '2.45' for greeting key 'version'"), which differs between the
// images of two majors. The Job then runs the project's upgrade image of
// the source's major: its pgBackRest talks to the repository host, and
// the new cluster's major beside it runs the recovery. An object store is
// read directly, with the new cluster's own image. A source of a custom
// image, or a standby of another major, is refused.
func (r *From) chooseJobImage(target cluster.Spec) error {
	src := r.sourceSpec
	if src.PostgresVersion == target.PostgresVersion {
		return nil
	}
	if r.Standby {
		return fmt.Errorf("--restore-from --standby: cluster %q runs PostgreSQL %d and the new cluster PostgreSQL %d: a standby replays its source's WAL, so it must run the same major (give --postgres-version=%d); nothing was created",
			r.Source, src.PostgresVersion, target.PostgresVersion, src.PostgresVersion)
	}
	if r.sourceGone || !src.HasLocalRepo() || src.PostgresVersion < target.PostgresVersion {
		// A backup of an older major than the new cluster's is refused
		// by the check of its major (InPlace.Major), with what to do.
		return nil
	}
	if n := r.Options.Repo; n > 0 && n <= len(src.StorageType) && src.StorageType[n-1].ObjectStore() {
		return nil
	}
	if v, ok := cluster.ProjectImageVersion(src.Image); !ok || v != src.PostgresVersion {
		return fmt.Errorf("--restore-from: cluster %q runs PostgreSQL %d with image %s, and the new cluster PostgreSQL %d: its repository host talks only to its own pgBackRest version, "+
			"and a restore from its local repository into another major needs the project's upgrade image of %d (%s), which has both; "+
			"from an object store (S3, GCS, Azure) it works with any image: --restore-opts=--repo=N; nothing was created",
			r.Source, src.PostgresVersion, src.Image, target.PostgresVersion, src.PostgresVersion, cluster.UpgradeImageFor(src.PostgresVersion))
	}
	r.jobImage, r.jobLibraryPath = cluster.UpgradeImageFor(src.PostgresVersion), cluster.CompatLibDir(target.PostgresVersion)
	r.progress("Cluster %s runs PostgreSQL %d: the restore Job runs %s, whose pgBackRest talks to its repository host and whose PostgreSQL %d recovers the backup.",
		r.Source, src.PostgresVersion, r.jobImage, target.PostgresVersion)
	return nil
}

// cipherAdvice says what to do when the source's repository refused the
// passphrase it was read with, or the lack of one; empty for another
// error.
func (r *From) cipherAdvice(err error) string {
	src, given := r.Source, r.Namespace+"/"+r.SourceCipherSecret
	if r.SourceCipherSecret == "" {
		given = r.SourceNamespace + "/" + r.sourceSpec.PassphraseSecret()
	}
	switch {
	case errors.Is(err, repo.ErrEncrypted):
		advice := fmt.Sprintf("the repository of cluster %q is encrypted: give its passphrase with --restore-from-cipher-secret=SECRET, a Secret of namespace %q with the passphrase under the key %s",
			src, r.Namespace, cluster.KeyCipherPass)
		if own := r.NewSpec.CipherSecret; own != "" {
			advice += fmt.Sprintf(" (--restore-from-cipher-secret=%s if it is the passphrase of --pgbackrest-repo-cipher-secret)", own)
		}
		return advice
	case errors.Is(err, repo.ErrWrongPassphrase):
		return fmt.Sprintf("the passphrase in Secret %s does not decrypt the repository of cluster %q: it is not the passphrase that cluster encrypted its backups with; give the right one with --restore-from-cipher-secret",
			given, src)
	case errors.Is(err, repo.ErrNotEncrypted):
		return fmt.Sprintf("the repository of cluster %q is not encrypted, but it was read with the passphrase in Secret %s: drop --restore-from-cipher-secret", src, given)
	}
	return ""
}

// prepareLocal checks what a source with a local repository needs (its
// PVC), and starts its repository host if it is gone.
func (r *From) prepareLocal(ctx context.Context, client kubernetes.Interface) error {
	src, ns := r.Source, r.SourceNamespace
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

// startTemporaryRepoHost starts the repository host of the deleted source
// cluster from its kept PVC, Secret and settings: the objects create
// cluster renders for it, but only the repository host's.
func (r *From) startTemporaryRepoHost(ctx context.Context) error {
	src, ns := r.Source, r.SourceNamespace
	r.progress("Cluster %s was deleted with --keep-backups: starting a temporary repository host for its repository...", src)
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
	err = kube.WaitFor(ctx, r.PollInterval, repoHostTimeout, func(ctx context.Context) (bool, error) {
		_, last = kube.FindRunningPod(ctx, r.Client, ns, cluster.RepoSelector(src).String())
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("--restore-from: the temporary repository host of cluster %q did not become ready: %v (%w)", src, last, err)
	}
	r.progress("The temporary repository host %s is ready (%s).", cluster.RepoHostName(src), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// applyTemporary applies obj, annotated with the cluster it serves
// (AnnotationTemporaryRepoHost), for Cleanup to remove.
func (r *From) applyTemporary(ctx context.Context, obj *unstructured.Unstructured) error {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationTemporaryRepoHost] = r.Namespace + "/" + r.Name
	obj.SetAnnotations(annotations)
	if _, err := kube.Apply(ctx, r.Dynamic, r.Mapper, obj); err != nil {
		return err
	}
	r.temporary = append(r.temporary, temporaryObject{kind: obj.GetKind(), namespace: obj.GetNamespace(), name: obj.GetName(),
		delete: func(ctx context.Context) error {
			mapping, err := r.Mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
			if err != nil {
				return err
			}
			return r.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(),
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
func (r *From) sourceObjects() ([]*unstructured.Unstructured, error) {
	objects, err := cluster.Render(r.sourceSpec, cluster.Material{PKI: r.sourcePKI, Password: "unused"})
	if err != nil {
		return nil, fmt.Errorf("--restore-from: rendering the repository host of cluster %q from its settings: %w", r.Source, err)
	}
	return objects, nil
}

// Cleanup removes the temporary objects, if any: the repository host, or
// the reader pod and the Secret. Prepare and Restore call it; create
// cluster need not.
func (r *From) Cleanup(ctx context.Context) {
	for i := len(r.temporary) - 1; i >= 0; i-- {
		obj := r.temporary[i]
		if err := obj.delete(ctx); err != nil && !apierrors.IsNotFound(err) {
			r.progress("Warning: could not remove %s %s/%s, made for the restore: %v", obj.kind, obj.namespace, obj.name, err)
		}
	}
	kinds := map[string]bool{}
	for _, obj := range r.temporary {
		kinds[obj.kind] = true
	}
	if kinds["Deployment"] {
		r.progress("Removed the temporary repository host of cluster %s.", r.Source)
	}
	if kinds["Pod"] {
		r.progress("Removed the pod and the Secret that read the repository of cluster %s.", r.Source)
	} else if kinds["Secret"] {
		r.progress("Removed the Secret %s that read the repositories of cluster %s.", sourceSecretName(r.Name), r.Source)
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
func (r *From) AdjustObjects(objects []*unstructured.Unstructured) error {
	for _, obj := range objects {
		if obj.GetKind() != "StatefulSet" || obj.GetName() != cluster.StatefulSetName(r.Name) {
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
	return fmt.Errorf("--restore-from: the rendered objects have no StatefulSet %s", cluster.StatefulSetName(r.Name))
}

// restoreJob renders the Job that restores the source's backup into the
// data PVC of sts, the new cluster's StatefulSet, and runs the recovery,
// with the source's configuration from the temporary Secret. It refuses
// a Job without everything pgBackRest needs to read the source's
// repositories.
func (r *From) restoreJob(sts *appsv1.StatefulSet) (*batchv1.Job, error) {
	extra := []string{"--pg1-path=" + cluster.DataDirectory(r.Name)}
	if r.sourceSpec.HasLocalRepo() && r.SourceNamespace != r.Namespace {
		// The Service in the other namespace, by a name its certificate
		// carries.
		extra = append(extra, fmt.Sprintf("--repo1-host=%s.%s.svc", cluster.RepoHostName(r.Source), r.SourceNamespace))
	}
	passwordFile, err := passwordFilePath(sts)
	if err != nil {
		return nil, err
	}
	job, err := jobs.RestoreJob{
		Cluster:        r.Name,
		Namespace:      r.Namespace,
		Database:       sts,
		PGData:         cluster.DataDirectory(r.Name),
		Options:        r.Options,
		ExtraArgs:      extra,
		SourceSecret:   sourceSecretName(r.Name),
		SourceFiles:    r.access.Files,
		SourceEnv:      r.access.Env,
		Recover:        !r.Standby,
		PostgresBinDir: postgresBinDirOf(sts, r.sourceSpec.PostgresVersion),
		PasswordFile:   passwordFile,
		Superuser:      cluster.Superuser,
		Image:          r.jobImage,
		LibraryPath:    r.jobLibraryPath,
	}.Render()
	if err != nil {
		return nil, err
	}
	if err := jobs.CheckRepositoryAccess(job.Spec.Template.Spec, jobs.RestoreContainer, r.sourceSpec.Repositories()); err != nil {
		return nil, fmt.Errorf("the restore Job cannot read the repositories of cluster %q: %w", r.Source, err)
	}
	return job, nil
}

// sourceSecretName is the Secret with the source's pgBackRest
// configuration, in the new cluster's namespace, while the Job runs.
func sourceSecretName(cluster string) string { return cluster + "-restore-source" }

// Restore runs after the new cluster's objects are applied: a Job restores
// the source's backup into the new data PVC and runs the recovery (with
// the source's configuration, from a temporary Secret); then the temporary
// objects go and the database starts, to archive into its own repository.
func (r *From) Restore(ctx context.Context) error {
	defer r.Cleanup(context.WithoutCancel(ctx))
	o := r.restorer
	client, ns := r.Client, r.Namespace
	sts, err := client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(r.Name), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("--restore-from: reading the new StatefulSet: %w", err)
	}

	// The Secret is there since Prepare when the reader pod used it.
	if !r.readsObjectStoreOnly() {
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
		_ = kube.WaitFor(ctx, r.PollInterval, time.Minute, func(ctx context.Context) (bool, error) {
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
		set = r.Backup.Label
	}
	if r.Standby {
		if err := r.applyStandbySource(ctx); err != nil {
			return err
		}
		o.progress("The data directory of cluster %s is restored from backup %s of cluster %s; starting its database as a standby, which replays the WAL of %s's repository.", r.Name, set, r.Source, r.Source)
	} else {
		o.progress("The data directory of cluster %s is restored from backup %s of cluster %s; starting its database.", r.Name, set, r.Source)
	}
	return o.scaleDatabase(ctx, 1)
}
