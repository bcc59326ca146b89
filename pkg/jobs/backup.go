package jobs

import (
	"crypto/rand"
	_ "embed"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ComponentBackup is the app.kubernetes.io/component of backup Jobs and
// their pods.
const ComponentBackup = "backup"

// Labels of a backup Job and its pod, besides the cluster's.
const (
	// LabelBackupType is the tool that made the backup: pgbackrest (v4
	// also had pgdump and pgbasebackup).
	LabelBackupType = "kubectl-pgo.io/backup-type"
	// LabelPGBackRestType is the pgBackRest backup type asked for: full,
	// diff or incr.
	LabelPGBackRestType = "kubectl-pgo.io/pgbackrest-type"
)

// AnnotationBackupCommand on a backup Job is its pgbackrest command line,
// for whoever looks at the Job with kubectl.
const AnnotationBackupCommand = "kubectl-pgo.io/backup-command"

// BackupTypePGBackRest is the value of LabelBackupType (and of the
// --backup-type flag) for pgBackRest backups.
const BackupTypePGBackRest = "pgbackrest"

// Defaults of a backup Job.
const (
	// DefaultBackupDeadline bounds a backup that hangs.
	DefaultBackupDeadline = 2 * time.Hour
	// DefaultBackupTTL keeps a finished Job, its pod and its log for a
	// week, so that `show backup` lists recent backup Jobs and a failure
	// can still be read.
	DefaultBackupTTL = 7 * 24 * time.Hour
)

// RepoHostContainer is the container of the repository host's pod that the
// backup Job copies.
const RepoHostContainer = "pgbackrest"

// BackupJobName is the name of a backup Job: the cluster, the type and a
// random suffix, e.g. hippo-backup-full-x7k2p. It stays within the 63
// characters of a label value (the Job's pods carry the name in a label)
// for the longest cluster name.
func BackupJobName(clusterName, backupType, suffix string) string {
	return fmt.Sprintf("%s-backup-%s-%s", clusterName, backupType, suffix)
}

// RandomSuffix returns five random lowercase letters and digits, like the
// suffixes of generateName.
func RandomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // as k8s.io/apimachinery's rand.String
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// positiveOr is v, or def when v is not positive: the default of a
// deadline, a TTL or a count left unset.
func positiveOr[T int32 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// jobLabels are the labels of a Job of the cluster that makes or restores
// a backup of backupType, and its suffix: suffix, or a random one
// (RandomSuffix) when it is empty.
func jobLabels(clusterName, component, backupType, suffix string) (map[string]string, string) {
	l := cluster.Labels(clusterName, component)
	l[LabelBackupType] = backupType
	if suffix == "" {
		suffix = RandomSuffix()
	}
	return l, suffix
}

// BackupJob describes a backup Job.
type BackupJob struct {
	// Cluster is the cluster to back up; Namespace is its namespace.
	Cluster   string
	Namespace string
	// RepoHost is the cluster's repository host Deployment (or, with no
	// local repository, cluster.RepoHostDeployment's). The Job runs
	// its image and copies its security context and the volumes and
	// mounts of its pgbackrest container: the repository PVC, and
	// pgbackrest.conf with the TLS files at pgBackRest's default path.
	RepoHost *appsv1.Deployment
	// Type is full, diff or incr.
	Type string
	// Repo is the repository to back up to; 0 for pgBackRest's default
	// (repo1).
	Repo int
	// Options are the user's options for pgbackrest backup, validated.
	Options repo.BackupOptions
	// Verbose logs at the detail level: one line per file copied, with
	// the percentage done.
	Verbose bool
	// Standby are the options of a backup from a standby
	// (cluster.StandbyBackupArgs); empty for one from the primary.
	Standby []string
	// Deadline and TTL are DefaultBackupDeadline and DefaultBackupTTL when
	// zero.
	Deadline, TTL time.Duration
	// Suspend creates the Job suspended.
	Suspend bool
	// Suffix ends the Job's name; RandomSuffix() when empty.
	Suffix string

	// lockPath is set by Render: see BackupLockDir.
	lockPath string
}

// BackupLockDir is where backup Jobs keep pgBackRest's lock files: a
// directory at the root of the repository PVC, not the pod's own /tmp.
// Every backup Job mounts that PVC on the same node (the repository
// host's), so pgBackRest's lock sees a backup running in another Job's
// pod: one a schedule started beside an on-demand one fails with "unable
// to acquire lock" instead of running twice at once. The database side's
// pgBackRest, which every backup reaches over TLS, takes the stanza's
// backup lock too, which is what refuses the second one of a cluster
// without a repository PVC (S3 only).
const BackupLockDir = "kubectl-pgo-lock"

// Args is the pgbackrest command line of the Job, after the program name.
// The user's options come last; the plugin adds --start-fast and the
// console log level unless the user set them.
func (b BackupJob) Args() []string {
	args := []string{"--stanza=" + repo.StanzaName, "backup"}
	if !b.Options.Has("type") {
		args = append(args, "--type="+b.Type)
	}
	if b.Repo > 0 && !b.Options.Has("repo") {
		args = append(args, fmt.Sprintf("--repo=%d", b.Repo))
	}
	// An on-demand backup starts now, not after the next regular
	// checkpoint, which can be many minutes away.
	if !b.Options.Has("start-fast") {
		args = append(args, "--start-fast")
	}
	if !b.Options.Has("log-level-console") {
		level := "info"
		if b.Verbose {
			level = "detail"
		}
		args = append(args, "--log-level-console="+level)
	}
	if b.lockPath != "" {
		args = append(args, "--lock-path="+b.lockPath)
	}
	args = append(args, b.Standby...)
	return append(args, b.Options.Args...)
}

//go:embed templates/backup-job.yaml
var backupJobYAML string

var backupJobTemplate = parseTemplate("backup-job.yaml", backupJobYAML)

type backupJobValues struct {
	Name, Namespace, Image, ImagePullPolicy        string
	Labels, Annotations, RepoHostSelector          map[string]string
	Suspend                                        bool
	ActiveDeadlineSeconds, TTLSecondsAfterFinished int64
	Command                                        []string
	Resources                                      corev1.ResourceRequirements
	PodSecurityContext                             *corev1.PodSecurityContext
	SecurityContext                                *corev1.SecurityContext
	Env                                            []corev1.EnvVar
	VolumeMounts                                   []corev1.VolumeMount
	Volumes                                        []corev1.Volume
}

// Render returns the backup Job.
func (b BackupJob) Render() (*batchv1.Job, error) {
	if b.Cluster == "" || b.Namespace == "" || b.RepoHost == nil {
		return nil, fmt.Errorf("backup Job: the cluster, its namespace and its repository host are required")
	}
	if err := repo.CheckBackupType(b.Type); err != nil {
		return nil, fmt.Errorf("backup Job: %w", err)
	}
	podSpec := b.RepoHost.Spec.Template.Spec
	container, volumes, err := mountsOf(podSpec, RepoHostContainer, "Deployment "+b.RepoHost.Namespace+"/"+b.RepoHost.Name)
	if err != nil {
		return nil, err
	}
	// The Deployment's own selector finds its pod; the cluster's labels
	// if it has none (it always has one once stored).
	selector := map[string]string(cluster.RepoSelector(b.Cluster))
	if s := b.RepoHost.Spec.Selector; s != nil && len(s.MatchLabels) > 0 {
		selector = s.MatchLabels
	}
	// Only a repository PVC ties the Job to the repository host's node;
	// an S3-only cluster has neither.
	if !slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.PersistentVolumeClaim != nil }) {
		selector = nil
	}
	deadline, ttl := positiveOr(b.Deadline, DefaultBackupDeadline), positiveOr(b.TTL, DefaultBackupTTL)
	l, suffix := jobLabels(b.Cluster, ComponentBackup, BackupTypePGBackRest, b.Suffix)
	l[LabelPGBackRestType] = b.Type
	// Without a repository PVC (S3 only) pgBackRest's lock stays in the
	// pod: the Jobs' queue (StartBackup) still keeps on-demand backups apart.
	if selector != nil {
		repoMount, err := pvcMountPath(container, volumes)
		if err != nil {
			return nil, fmt.Errorf("repository host %s/%s: %w", b.RepoHost.Namespace, b.RepoHost.Name, err)
		}
		b.lockPath = path.Join(repoMount, BackupLockDir)
	}
	args := b.Args()

	podSC, sc := securityContexts(podSpec, container)
	pullPolicy := container.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}
	v := backupJobValues{
		Name:                    BackupJobName(b.Cluster, b.Type, suffix),
		Namespace:               b.Namespace,
		Image:                   container.Image,
		ImagePullPolicy:         string(pullPolicy),
		Labels:                  l,
		Annotations:             map[string]string{AnnotationBackupCommand: "pgbackrest " + strings.Join(args, " ")},
		RepoHostSelector:        selector,
		Suspend:                 b.Suspend,
		ActiveDeadlineSeconds:   int64(deadline / time.Second),
		TTLSecondsAfterFinished: int64(ttl / time.Second),
		// tini forwards the deadline's SIGTERM to pgBackRest and reaps
		// its worker processes.
		Command:            append([]string{"tini", "--", "pgbackrest"}, args...),
		Resources:          container.Resources,
		PodSecurityContext: podSC,
		SecurityContext:    sc,
		Env:                container.Env,
		VolumeMounts:       container.VolumeMounts,
		Volumes:            volumes,
	}
	return renderJob(backupJobTemplate, "backup", v)
}

// mountsOf returns the named container of a pod spec and the volumes it
// mounts, in the order of its mounts.
func mountsOf(spec corev1.PodSpec, name, owner string) (corev1.Container, []corev1.Volume, error) {
	for _, c := range spec.Containers {
		if c.Name != name {
			continue
		}
		var volumes []corev1.Volume
		for _, m := range c.VolumeMounts {
			i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
			if i < 0 {
				return corev1.Container{}, nil, fmt.Errorf("%s: container %s mounts volume %s, which the pod does not have", owner, name, m.Name)
			}
			if !slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
				volumes = append(volumes, *spec.Volumes[i].DeepCopy())
			}
		}
		return *c.DeepCopy(), volumes, nil
	}
	return corev1.Container{}, nil, fmt.Errorf("%s has no container %s: it was not created by kubectl pgo create cluster", owner, name)
}

// pvcMountPath is where the container mounts its one PVC: the repository.
func pvcMountPath(c corev1.Container, volumes []corev1.Volume) (string, error) {
	for _, m := range c.VolumeMounts {
		for _, v := range volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				return m.MountPath, nil
			}
		}
	}
	return "", fmt.Errorf("container %s mounts no PersistentVolumeClaim: it was not created by kubectl pgo create cluster", c.Name)
}

// securityContexts are those of a pod spec and its container, or the
// restricted ones where it has none: what a Job copied from a pod runs
// with.
func securityContexts(spec corev1.PodSpec, c corev1.Container) (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	podSC, sc := spec.SecurityContext, c.SecurityContext
	if podSC == nil {
		podSC = restrictedPodSecurityContext()
	}
	if sc == nil {
		sc = restrictedSecurityContext()
	}
	return podSC, sc
}

func restrictedPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}
