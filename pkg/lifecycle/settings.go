package lifecycle

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Given says which settings were given on the command line: for an
// existing cluster the others keep their stored values.
type Given struct {
	StorageType, StorageSize, StorageClass, RepoPVCSize, RepoStorageClass bool
	Image, CPU, Memory, CPULimit, MemoryLimit, Replicas                   bool
	BackupStandby                                                         bool
	// PostgresVersion is --postgres-version, or an --image of the
	// project's that names a major: a cluster's major cannot change.
	PostgresVersion bool
	// ArchiveAsync is --pgbackrest-archive-async; PushQueueMax and
	// GetQueueMax its queue flags.
	ArchiveAsync, PushQueueMax, GetQueueMax         bool
	RetentionFull, RetentionFullType, RetentionDiff bool
	// S3, GCS and Azure are whether any setting of that repository was
	// given.
	S3, GCS, Azure, Cipher, CipherSecret bool
}

// MergeSpec is the Spec for an existing cluster: the stored settings,
// with those given taking their place.
func MergeSpec(stored, flags cluster.Spec, given Given) cluster.Spec {
	s, f := stored, flags
	pick(given.StorageType, &s.StorageType, f.StorageType)
	pick(given.S3, &s.S3, f.S3)
	pick(given.GCS, &s.GCS, f.GCS)
	pick(given.Azure, &s.Azure, f.Azure)
	pick(given.Cipher, &s.Cipher, f.Cipher)
	pick(given.CipherSecret, &s.CipherSecret, f.CipherSecret)
	pick(given.StorageSize, &s.StorageSize, f.StorageSize)
	pick(given.StorageClass, &s.StorageClass, f.StorageClass)
	pick(given.RepoPVCSize, &s.RepoPVCSize, f.RepoPVCSize)
	pick(given.RepoStorageClass, &s.RepoStorageClass, f.RepoStorageClass)
	pick(given.Image, &s.Image, f.Image)
	pick(given.PostgresVersion, &s.PostgresVersion, f.PostgresVersion)
	pick(given.CPU, &s.Resources.CPURequest, f.Resources.CPURequest)
	pick(given.Memory, &s.Resources.MemoryRequest, f.Resources.MemoryRequest)
	pick(given.CPULimit, &s.Resources.CPULimit, f.Resources.CPULimit)
	pick(given.MemoryLimit, &s.Resources.MemoryLimit, f.Resources.MemoryLimit)
	pick(given.RetentionFull, &s.RetentionFull, f.RetentionFull)
	pick(given.RetentionFullType, &s.RetentionFullType, f.RetentionFullType)
	pick(given.RetentionDiff, &s.RetentionDiff, f.RetentionDiff)
	pick(given.Replicas, &s.Replicas, f.Replicas)
	pick(given.BackupStandby, &s.BackupStandby, f.BackupStandby)
	mergeArchiveAsync(&s, f, given)
	s.Default()
	return s
}

// NewClusterDefaults are the settings a new cluster gets unless the
// command line says otherwise: asynchronous archiving when a repository is
// in an object store (S3, GCS or Azure). docs/benchmarks.md measured why: one synchronous archive-push per
// segment, each a round trip to the object store, falls behind a
// write-heavy load (local,s3: 200 segments waiting in pg_wal after two
// minutes), where asynchronous archiving keeps up. A local repository
// stays synchronous: there it kept up and async cost throughput. An
// existing cluster keeps its stored setting (MergeSpec), so this never
// changes a running cluster.
//
// A new cluster of a major whose image has pgBackRest 2.46 or newer
// stores block incremental backups (docs/benchmarks.md: 1.6 MiB instead of
// 83 MiB per incremental after a small change to a large table).
func NewClusterDefaults(s cluster.Spec, given Given) cluster.Spec {
	if s.ArchiveAsync == nil && !given.ArchiveAsync && s.HasObjectStoreRepo() {
		s.ArchiveAsync = &cluster.ArchiveAsyncSpec{}
	}
	s.BlockIncremental = cluster.BlockIncrementalByDefault(s.PostgresVersion)
	return s
}

// mergeArchiveAsync turns asynchronous archiving on or off as given, and
// sets the queue sizes given on the stored ones (a queue flag alone, on a
// cluster archiving synchronously, turns it on).
func mergeArchiveAsync(s *cluster.Spec, f cluster.Spec, given Given) {
	if given.ArchiveAsync && f.ArchiveAsync == nil {
		s.ArchiveAsync = nil
		return
	}
	if !given.ArchiveAsync && !given.PushQueueMax && !given.GetQueueMax {
		return
	}
	a := cluster.ArchiveAsyncSpec{}
	if s.ArchiveAsync != nil {
		a = *s.ArchiveAsync
	}
	pick(given.PushQueueMax, &a.PushQueueMax, f.ArchiveAsync.PushQueueMax)
	pick(given.GetQueueMax, &a.GetQueueMax, f.ArchiveAsync.GetQueueMax)
	s.ArchiveAsync = &a
}

// pick sets *dst to src when the setting was given.
func pick[T any](given bool, dst *T, src T) {
	if given {
		*dst = src
	}
}

// CheckStorageClasses refuses a storage class that does not exist: its
// PVC would stay Pending, and the cluster never start. A user who may not
// read storage classes is let through, as by apply.CheckNamespace.
func CheckStorageClasses(ctx context.Context, c *apply.Clients, spec cluster.Spec) error {
	for _, sc := range []struct{ flag, name string }{
		{"--storage-class", spec.StorageClass}, {"--pgbackrest-storage-class", spec.RepoStorageClass},
	} {
		if sc.name == "" {
			continue
		}
		_, err := c.Client.StorageV1().StorageClasses().Get(ctx, sc.name, metav1.GetOptions{})
		switch {
		case err == nil, apierrors.IsForbidden(err):
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%s: storage class %q does not exist, so the PVC would never be bound: choose one of kubectl get storageclass, or leave it out for the default class; nothing was created", sc.flag, sc.name)
		default:
			return fmt.Errorf("cannot read storage class %q: %w", sc.name, apply.APIError(c, err))
		}
	}
	return nil
}

// CheckKeptBackups refuses to create a cluster again over the backups
// that delete --keep-backups kept: its repository holds the stanza of the
// old database, into which a new one cannot archive. Such a cluster has
// its settings and its repository PVC, but no data PVC and no StatefulSet.
func CheckKeptBackups(ctx context.Context, c *apply.Clients, ns, name string) error {
	exists := func(get func() error) (bool, error) {
		err := get()
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		default:
			return false, apply.APIError(c, err)
		}
	}
	pvcs := c.Client.CoreV1().PersistentVolumeClaims(ns)
	repoPVC, err := exists(func() error { _, err := pvcs.Get(ctx, cluster.RepoPVCName(name), metav1.GetOptions{}); return err })
	if err != nil || !repoPVC {
		return err
	}
	dataPVC, err := exists(func() error { _, err := pvcs.Get(ctx, cluster.DataPVCName(name), metav1.GetOptions{}); return err })
	if err != nil || dataPVC {
		return err
	}
	sts, err := exists(func() error {
		_, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
		return err
	})
	if err != nil || sts {
		return err
	}
	return fmt.Errorf("cluster %q was deleted with --keep-backups: its repository (PVC %s) holds the backups and the WAL of the old database, "+
		"and a new database cannot archive into it. Creating a cluster from kept backups is not supported yet; to start afresh, "+
		"delete the backups first (kubectl pgo delete cluster %s --yes), or choose another name. Nothing was changed",
		name, cluster.RepoPVCName(name), name)
}

// CheckS3Secrets checks, before anything is applied, that the Secrets the
// S3 repository reads exist and have their keys: a missing one would
// leave the pods waiting with no clear reason.
func CheckS3Secrets(ctx context.Context, c *apply.Clients, spec cluster.Spec, m cluster.Material) error {
	if spec.S3 == nil {
		return nil
	}
	ns := spec.Namespace
	need := map[string][]string{}
	if spec.S3.CredentialsSecret != cluster.RepoConfigSecretName(spec.Name) {
		need[spec.S3.CredentialsSecret] = []string{cluster.KeyS3Key, cluster.KeyS3KeySecret}
	} else if m.S3Key == "" || m.S3KeySecret == "" {
		return fmt.Errorf("cluster %q has no S3 keys in Secret %s/%s: give --pgbackrest-s3-key and --pgbackrest-s3-key-secret", spec.Name, ns, spec.S3.CredentialsSecret)
	}
	if spec.S3.CASecret != "" {
		need[spec.S3.CASecret] = append(need[spec.S3.CASecret], cluster.KeyS3CA)
	}
	for name, keys := range need {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("secret %s/%s does not exist: create it with the keys %s (kubectl -n %s create secret generic %s --from-literal=...), or fix the flag; nothing was changed",
				ns, name, strings.Join(keys, ", "), ns, name)
		}
		if err != nil {
			return fmt.Errorf("cannot read Secret %s/%s: %w", ns, name, apply.APIError(c, err))
		}
		if missing := MissingKeys(s, keys); len(missing) > 0 {
			return fmt.Errorf("secret %s/%s has no %s: add it; nothing was changed", ns, name, strings.Join(missing, ", "))
		}
	}
	return nil
}

// CheckCipherSecret checks, before anything is applied, the user's
// passphrase Secret (Spec.CipherSecret): it exists, is no Secret that
// kubectl-pgo deletes with a cluster, and holds a passphrase long enough.
func CheckCipherSecret(ctx context.Context, c *apply.Clients, spec cluster.Spec) error {
	name, ns := spec.CipherSecret, spec.Namespace
	if name == "" {
		return nil
	}
	const flag = "--pgbackrest-repo-cipher-secret"
	s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: Secret %s/%s does not exist: create it with the passphrase under the key %s "+
			`(kubectl -n %s create secret generic %s --from-literal=%s="$(openssl rand -base64 48)"), and keep a copy apart from this Kubernetes cluster; nothing was changed`,
			flag, ns, name, cluster.KeyCipherPass, ns, name, cluster.KeyCipherPass)
	case err != nil:
		return fmt.Errorf("%s: cannot read Secret %s/%s: %w", flag, ns, name, apply.APIError(c, err))
	case s.Labels[cluster.LabelManagedBy] == cluster.FieldManager:
		return fmt.Errorf("%s: Secret %s/%s is kubectl-pgo's and goes with the cluster %q it belongs to: copy the passphrase into a Secret of your own; nothing was changed",
			flag, ns, name, s.Labels[cluster.LabelCluster])
	}
	if err := cluster.CheckCipherPass(ns+"/"+name, s.Data[cluster.KeyCipherPass]); err != nil {
		return fmt.Errorf("%s: %w; nothing was changed", flag, err)
	}
	return nil
}

// MissingKeys are the keys of which s holds no value.
func MissingKeys(s *corev1.Secret, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	return missing
}

// s3Problems are what pgBackRest says when the S3 service refuses it for
// good: waiting does not fix wrong keys, a missing bucket or a wrong CA.
var s3Problems = []struct{ text, what string }{
	{"InvalidAccessKeyId", "the access key is not known to the S3 service"},
	{"SignatureDoesNotMatch", "the secret key is wrong"},
	{"AccessDenied", "the keys may not use the bucket"},
	{"NoSuchBucket", "the bucket does not exist"},
	{"certificate verify failed", "the S3 endpoint's TLS certificate is not trusted: check --pgbackrest-s3-ca-secret"},
	{"unable to get local issuer", "the S3 endpoint's TLS certificate is not trusted: check --pgbackrest-s3-ca-secret"},
	{"unable to verify certificate", "the S3 endpoint's TLS certificate is not trusted: check --pgbackrest-s3-ca-secret"},
	{"S3 request failed with 403", "the S3 service refused the request (403)"},
	{"S3 request failed with 404", "the bucket or the endpoint is wrong (404)"},
}

// S3Refused tells whether pgBackRest's status shows that the S3 repository
// refused it for good, with what to do: an *apply.StopError, which ends
// create's --wait.
func S3Refused(spec cluster.Spec, status string) error {
	if spec.S3 == nil {
		return nil
	}
	for _, p := range s3Problems {
		if !strings.Contains(status, p.text) {
			continue
		}
		s := spec.S3
		return &apply.StopError{Msg: fmt.Sprintf("the S3 repository refused pgBackRest: %s.\npgBackRest said: %s\n"+
			"The cluster was created, but it cannot archive WAL or take backups until this is fixed. "+
			"Check bucket %q at %s, the keys in Secret %s/%s and the CA in %s; then run this create again with the right flags, "+
			"or remove the cluster with: kubectl pgo delete cluster %s -n %s",
			p.what, firstLine(status), s.Bucket, s.Endpoint, spec.Namespace, s.CredentialsSecret,
			orSecret(s.CASecret, "the image's CAs"), spec.Name, spec.Namespace)}
	}
	return nil
}

func orSecret(s, alt string) string {
	if s == "" {
		return alt
	}
	return "Secret " + s
}

// firstLine is the first line of pgBackRest's message: the rest is the
// HTTP request it made.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
