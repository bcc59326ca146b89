package restore

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// passwordFilePath is where the database container finds the superuser's
// password: the item of the postgres Secret in its projected volume.
func passwordFilePath(sts *appsv1.StatefulSet) (string, error) {
	spec := sts.Spec.Template.Spec
	for _, c := range spec.Containers {
		if c.Name != databaseContainer {
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
		if c.Name == databaseContainer && c.ReadinessProbe != nil && c.ReadinessProbe.Exec != nil && len(c.ReadinessProbe.Exec.Command) > 0 {
			if cmd := c.ReadinessProbe.Exec.Command[0]; path.Base(cmd) == "pg_isready" && path.IsAbs(cmd) {
				return path.Dir(cmd)
			}
		}
	}
	return fmt.Sprintf("/usr/lib/postgresql/%d/bin", version)
}

// goneSourceSpec is where the repository of a source cluster that is gone
// for good is assumed to be: in the new cluster's object stores (its
// buckets and container, with its keys), under the source's own path;
// unencrypted unless the restore is given the passphrase
// (From.SourceCipherSecret).
func goneSourceSpec(name, namespace string, target cluster.Spec) cluster.Spec {
	spec := cluster.Spec{Name: name, Namespace: namespace, Image: target.Image, PostgresVersion: target.PostgresVersion}
	for _, t := range target.StorageType {
		if t.ObjectStore() {
			spec.StorageType = append(spec.StorageType, t)
		}
	}
	if s := target.S3; s != nil {
		c := *s
		spec.S3 = &c
	}
	if g := target.GCS; g != nil {
		c := *g
		spec.GCS = &c
	}
	if a := target.Azure; a != nil {
		c := *a
		spec.Azure = &c
	}
	spec.Default()
	return spec
}

// readSourceAccess reads what reads the source's repositories, for the
// temporary Secret: its pgbackrest.conf; for a local repository, the
// certificates of its database side; for an object store, its keys, key
// file and CA; for an encrypted one, the passphrase. A source in another namespace is read
// through this copy, as a pod cannot use a Secret of another namespace.
func (r *From) readSourceAccess(ctx context.Context, client kubernetes.Interface) error {
	src, spec := r.Source, r.sourceSpec
	r.access = jobs.NewSourceAccess(sourceSecretName(r.Name), spec.Repositories())
	// The WAL is fetched as the new cluster would fetch its own: ahead,
	// through its spool, when it archives asynchronously (the Job's
	// recovery, and a standby's restore_command); the source's own setting
	// is the source's business.
	reading := spec
	reading.ArchiveAsync = r.NewSpec.ArchiveAsync
	conf, err := cluster.DatabaseConf(reading)
	if err != nil {
		return fmt.Errorf("the configuration of cluster %q: %w", src, err)
	}
	data := map[string][]byte{jobs.SourceKeyConfig: []byte(conf)}
	// A gone source's Secrets are the new cluster's.
	secretsNS := r.SourceNamespace
	if r.sourceGone {
		secretsNS = r.Namespace
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
	if err := readObjectStoreAccess(ctx, client, secretsNS, spec, data); err != nil {
		return fmt.Errorf("cluster %q: %w", src, err)
	}
	if spec.Cipher != "" {
		ns, name := r.SourceNamespace, spec.PassphraseSecret()
		if r.SourceCipherSecret != "" {
			ns, name = r.Namespace, r.SourceCipherSecret
		}
		pass, err := secretValue(ctx, client, ns, name, cluster.KeyCipherPass)
		if err != nil {
			return fmt.Errorf("the repository of cluster %q is encrypted, and its passphrase cannot be read (%v): without it its backups cannot be restored; "+
				"give a Secret of namespace %q that holds it with --restore-from-cipher-secret", src, err, r.Namespace)
		}
		data[jobs.SourceKeyCipherPass] = pass
	}
	if missing := r.access.Missing(data); len(missing) > 0 {
		return fmt.Errorf("cannot read the repositories of cluster %q without %s", src, strings.Join(missing, ", "))
	}
	r.sourceData = data
	return nil
}

// readObjectStoreAccess puts into data what reads spec's GCS and Azure
// repositories, from the user's Secrets of namespace ns: a GCS service key
// or token, an Azure key, and their CAs. The plugin never deletes these
// Secrets, so they outlive a source deleted with --keep-backups.
func readObjectStoreAccess(ctx context.Context, client kubernetes.Interface, ns string, spec cluster.Spec, data map[string][]byte) error {
	type item struct{ key, secret, secretKey, what string }
	var items []item
	if g := spec.GCS; g != nil && slices.Contains(spec.StorageType, cluster.StorageGCS) {
		switch g.KeyType {
		case repo.GCSKeyService:
			items = append(items, item{jobs.SourceKeyGCSKeyFile, g.CredentialsSecret, cluster.KeyGCSServiceKey, "the GCS service key"})
		case repo.GCSKeyToken:
			items = append(items, item{jobs.SourceKeyGCSToken, g.CredentialsSecret, cluster.KeyGCSToken, "the GCS token"})
		}
		if g.CASecret != "" {
			items = append(items, item{jobs.SourceKeyGCSCA, g.CASecret, cluster.KeyObjectStoreCA, "the CA of the GCS endpoint"})
		}
	}
	if a := spec.Azure; a != nil && slices.Contains(spec.StorageType, cluster.StorageAzure) {
		items = append(items, item{jobs.SourceKeyAzureKey, a.CredentialsSecret, cluster.KeyAzureKey, "the Azure key"})
		if a.CASecret != "" {
			items = append(items, item{jobs.SourceKeyAzureCA, a.CASecret, cluster.KeyObjectStoreCA, "the CA of the Azure endpoint"})
		}
	}
	for _, it := range items {
		v, err := secretValue(ctx, client, ns, it.secret, it.secretKey)
		if err != nil {
			return fmt.Errorf("%s: %w", it.what, err)
		}
		data[it.key] = v
	}
	return nil
}

// readSourcePKI reads the certificates of a local source's database side,
// by which the restore reaches its repository host.
func (r *From) readSourcePKI(ctx context.Context, client kubernetes.Interface) (cluster.PKI, error) {
	src, ns := r.Source, r.SourceNamespace
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

// readsObjectStoreOnly tells whether the restore reads only object stores
// (S3, GCS, Azure) of the source: it has no local repository, or
// --restore-opts chose one with --repo. The source's backups are then read
// in a reader pod, from the bucket or container, whether the source runs
// or not.
func (r *From) readsObjectStoreOnly() bool {
	types := r.sourceSpec.StorageType
	if n := r.Options.Repo; n > 0 && n <= len(types) {
		return types[n-1].ObjectStore()
	}
	return !r.sourceSpec.HasLocalRepo()
}

// prepareObjectStore creates the temporary Secret for a source read from
// object stores only,
// and starts the reader pod that the checks run in.
func (r *From) prepareObjectStore(ctx context.Context) error {
	if err := r.createTemporarySecret(ctx, r.sourceData); err != nil {
		return err
	}
	return r.startReader(ctx)
}

// sourceS3Keys are the keys of the source's credentials Secret, or, when
// it is gone (the source's repository Secret goes with the source), those
// of the new cluster, which must then use S3 too.
func (r *From) sourceS3Keys(ctx context.Context, client kubernetes.Interface, ns string) ([]byte, []byte, error) {
	if name := r.SourceCredentials; name != "" {
		s, err := client.CoreV1().Secrets(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil, fmt.Errorf("--restore-from-s3-credentials-secret: Secret %s/%s does not exist", r.Namespace, name)
		case err != nil:
			return nil, nil, fmt.Errorf("--restore-from-s3-credentials-secret: reading Secret %s/%s: %w", r.Namespace, name, err)
		case len(s.Data[cluster.KeyS3Key]) == 0 || len(s.Data[cluster.KeyS3KeySecret]) == 0:
			return nil, nil, fmt.Errorf("--restore-from-s3-credentials-secret: Secret %s/%s lacks %s or %s", r.Namespace, name, cluster.KeyS3Key, cluster.KeyS3KeySecret)
		}
		return s.Data[cluster.KeyS3Key], s.Data[cluster.KeyS3KeySecret], nil
	}
	name := r.sourceSpec.S3.CredentialsSecret
	s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && len(s.Data[cluster.KeyS3Key]) > 0 && len(s.Data[cluster.KeyS3KeySecret]) > 0:
		return s.Data[cluster.KeyS3Key], s.Data[cluster.KeyS3KeySecret], nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, nil, fmt.Errorf("reading the S3 keys of cluster %q: %w", r.Source, err)
	case r.NewSpec.S3 == nil:
		return nil, nil, fmt.Errorf("the S3 keys of cluster %q are gone (Secret %s/%s does not exist or lacks %s, %s): recreate it, or create this cluster with an S3 repository (--pgbackrest-storage-type=s3 ...) whose keys can read the bucket",
			r.Source, ns, name, cluster.KeyS3Key, cluster.KeyS3KeySecret)
	case r.NewSpec.S3.CredentialsSecret == cluster.RepoConfigSecretName(r.Name) && r.Material.S3Key != "":
		// The new cluster's keys, given as flags.
		return []byte(r.Material.S3Key), []byte(r.Material.S3KeySecret), nil
	}
	s, err = client.CoreV1().Secrets(r.Namespace).Get(ctx, r.NewSpec.S3.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the S3 keys of cluster %q: %w", r.Name, err)
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

// createTemporarySecret creates the Secret sourceSecretName with
// data, in the new cluster's namespace, for Cleanup to remove.
func (r *From) createTemporarySecret(ctx context.Context, data map[string][]byte) error {
	secrets := r.Client.CoreV1().Secrets(r.Namespace)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: sourceSecretName(r.Name), Namespace: r.Namespace, Labels: cluster.Labels(r.Name, jobs.ComponentRestore),
			Annotations: map[string]string{AnnotationTemporaryRepoHost: r.Namespace + "/" + r.Name}},
		Data: data,
	}
	// One left by an interrupted run is stale.
	_ = secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{})
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("creating Secret %s/%s: %w", r.Namespace, secret.Name, err)
	}
	r.temporary = append(r.temporary, temporaryObject{kind: "Secret", namespace: r.Namespace, name: secret.Name,
		delete: func(ctx context.Context) error { return secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{}) }})
	return nil
}

// startReader starts the pod that reads the source's object stores, and
// waits until it runs: the checks run in it.
func (r *From) startReader(ctx context.Context) error {
	pod, err := jobs.SourceReader{
		Cluster: r.Name, Namespace: r.Namespace, Image: r.NewSpec.Image,
		SourceSecret: sourceSecretName(r.Name), SourceFiles: r.access.Files, SourceEnv: r.access.Env,
	}.Render()
	if err != nil {
		return err
	}
	r.progress("Reading the repository of cluster %s (%s, path %s) from pod %s...", r.Source, r.sourceSpec.ObjectStores(), r.sourceSpec.RepoPath, pod.Name)
	pods := r.Client.CoreV1().Pods(r.Namespace)
	pod.Annotations = map[string]string{AnnotationTemporaryRepoHost: r.Namespace + "/" + r.Name}
	now := metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}
	if err := pods.Delete(ctx, pod.Name, now); err == nil {
		// One left by an interrupted run: gone before its name is reused.
		_ = kube.WaitFor(ctx, r.PollInterval, time.Minute, func(ctx context.Context) (bool, error) {
			_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("creating pod %s/%s: %w", r.Namespace, pod.Name, err)
	}
	r.temporary = append(r.temporary, temporaryObject{kind: "Pod", namespace: r.Namespace, name: pod.Name,
		delete: func(ctx context.Context) error { return pods.Delete(ctx, pod.Name, now) }})
	var last string
	err = kube.WaitFor(ctx, r.PollInterval, repoHostTimeout, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = string(p.Status.Phase)
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod %s/%s ended (%s) before it could read the repository", r.Namespace, pod.Name, p.Status.Phase)
		}
		if p.Status.Phase == corev1.PodRunning {
			r.source.RepoPod = p
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the pod that reads the repository of cluster %q did not start (%s): %w", r.Source, last, err)
	}
	return nil
}

// standbySourceData is the data of the Secret with which a standby
// cluster's database reads the source's repositories, for as long as it
// is a standby: the source's TLS files, S3 CA and keys as the restore
// read them (sourceData), and a pgbackrest.conf that finds them where the
// database container mounts that Secret. The source's repository host,
// in another namespace, is reached by a name its certificate carries.
func (r *From) standbySourceData() (map[string][]byte, error) {
	data := map[string][]byte{}
	for k, v := range r.sourceData {
		data[k] = v
	}
	repoHost := ""
	if r.sourceSpec.HasLocalRepo() {
		repoHost = cluster.RepoHostName(r.Source)
		if r.SourceNamespace != r.Namespace {
			repoHost = fmt.Sprintf("%s.%s.svc", repoHost, r.SourceNamespace)
		}
	}
	conf, err := cluster.StandbySourceConf(r.sourceSpec, cluster.DataDirectory(r.Name), repoHost,
		[3]string{jobs.SourceKeyCACert, jobs.SourceKeyCert, jobs.SourceKeyKey}, jobs.SourceKeyOfFile)
	if err != nil {
		return nil, fmt.Errorf("the configuration that reads the repositories of cluster %q: %w", r.Source, err)
	}
	data[cluster.StandbyKeyConfig] = []byte(conf)
	for k, v := range r.streamData {
		data[k] = v
	}
	var env strings.Builder
	for _, e := range r.access.Env {
		fmt.Fprintf(&env, "%s %s\n", e.Name, e.ValueFrom.SecretKeyRef.Key)
	}
	data[cluster.StandbyKeyEnv] = []byte(env.String())
	return data, nil
}

// applyStandbySource creates (or replaces) the Secret
// cluster.StandbySourceSecretName of the new cluster, which its database
// pod mounts: it carries the cluster's labels, so that delete cluster
// removes it, and promote does once the cluster no longer reads the
// source.
func (r *From) applyStandbySource(ctx context.Context) error {
	data, err := r.standbySourceData()
	if err != nil {
		return err
	}
	secrets := r.Client.CoreV1().Secrets(r.Namespace)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.StandbySourceSecretName(r.Name), Namespace: r.Namespace,
			Labels: cluster.Labels(r.Name, cluster.ComponentStandbySource)},
		Data: data,
	}
	// One left by an interrupted run is replaced.
	_ = secrets.Delete(ctx, secret.Name, metav1.DeleteOptions{})
	_, err = secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return fmt.Errorf("--standby: creating Secret %s/%s, with which the standby reads the repositories of cluster %q: %w", r.Namespace, secret.Name, r.Source, err)
	}
	r.progress("Created Secret %s: the standby reads the repositories of cluster %s with it (read only).", secret.Name, r.Source)
	return nil
}

// readStreamAccess reads what a standby that streams from the source
// (StandbySpec.Host) needs: the source's replication password and the CA
// of its database certificate, from StreamSecret, or from the source's own
// Secrets when they can be read from here.
func (r *From) readStreamAccess(ctx context.Context, client kubernetes.Interface) error {
	if !r.Standby || r.NewSpec.Standby == nil || r.NewSpec.Standby.Host == "" {
		return nil
	}
	var password, ca []byte
	var err error
	switch {
	case r.StreamSecret != "":
		if password, err = secretValue(ctx, client, r.Namespace, r.StreamSecret, cluster.StandbyKeyReplicationPassword); err != nil {
			return err
		}
		if ca, err = secretValue(ctx, client, r.Namespace, r.StreamSecret, cluster.KeyCACert); err != nil {
			return err
		}
	case r.sourceGone:
		return fmt.Errorf("the Secrets of cluster %q cannot be read from namespace %q: give --standby-host-secret=NAME, a Secret of this namespace with %s (its replication role's password, in its Secret %s) and %s (its CA, in its Secret %s)",
			r.Source, r.SourceNamespace, cluster.StandbyKeyReplicationPassword, cluster.PostgresSecretName(r.Source), cluster.KeyCACert, cluster.RepoConfigSecretName(r.Source))
	default:
		if password, err = secretValue(ctx, client, r.SourceNamespace, cluster.PostgresSecretName(r.Source), cluster.KeyReplicationPassword); err != nil {
			return fmt.Errorf("the replication password of cluster %q: %w", r.Source, err)
		}
		if ca, err = secretValue(ctx, client, r.SourceNamespace, cluster.RepoConfigSecretName(r.Source), cluster.KeyCACert); err != nil {
			return fmt.Errorf("the CA of cluster %q: %w", r.Source, err)
		}
	}
	from := fmt.Sprintf("the %s of Secret %s/%s", cluster.KeyCACert, r.SourceNamespace, cluster.RepoConfigSecretName(r.Source))
	if r.StreamSecret != "" {
		from = fmt.Sprintf("the %s of Secret %s/%s", cluster.KeyCACert, r.Namespace, r.StreamSecret)
	}
	if err := cluster.CheckCACert(from, ca); err != nil {
		return err
	}
	r.streamData = map[string][]byte{cluster.StandbyKeyReplicationPassword: password, cluster.StandbyKeyPostgresCA: ca}
	return nil
}
