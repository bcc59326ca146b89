package jobs

import (
	_ "embed"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// ComponentUpgrade is the app.kubernetes.io/component of the Job of
// kubectl pgo upgrade.
const ComponentUpgrade = "upgrade"

// Upgrade modes of pg_upgrade.
const (
	UpgradeLink = "link"
	UpgradeCopy = "copy"
)

// DefaultUpgradeDeadline bounds the upgrade Job.
const DefaultUpgradeDeadline = time.Hour

// UpgradeJob is pg_upgrade of a cluster's data directory from major From
// to To, in Image (both majors' binaries), with the database's mounts:
// the data PVC, its sockets and temporary directories, and the settings it
// includes.
type UpgradeJob struct {
	Cluster, Namespace, Image string
	From, To                  int
	// Mode is UpgradeLink (hard links: fast, no extra space) or
	// UpgradeCopy.
	Mode string
	// PGData is the data directory, Include the line of its
	// postgresql.conf that includes the cluster's settings, Superuser the
	// database's.
	PGData, Include, Superuser string
	// Database is the cluster's StatefulSet (the primary's), whose
	// database container's mounts the Job takes.
	Database *appsv1.StatefulSet
	Deadline time.Duration
}

//go:embed templates/upgrade.sh
var upgradeScript string

// UpgradeJobName names the upgrade Job of a cluster.
func UpgradeJobName(clusterName string) string { return clusterName + "-upgrade" }

// Render returns the Job.
func (u UpgradeJob) Render() (*batchv1.Job, error) {
	if u.Cluster == "" || u.Namespace == "" || u.Image == "" || u.PGData == "" || u.Include == "" || u.Superuser == "" || u.Database == nil {
		return nil, fmt.Errorf("upgrade Job: the cluster, its namespace, the image, the data directory, the include line, the superuser and the StatefulSet are required")
	}
	if u.From <= 0 || u.To <= u.From {
		return nil, fmt.Errorf("upgrade Job: PostgreSQL %d to %d is not an upgrade", u.From, u.To)
	}
	if u.Mode != UpgradeLink && u.Mode != UpgradeCopy {
		return nil, fmt.Errorf("upgrade Job: mode %q is neither %s nor %s", u.Mode, UpgradeLink, UpgradeCopy)
	}
	container, volumes, err := containerMounts(u.Database, databaseContainer)
	if err != nil {
		return nil, err
	}
	env := []corev1.EnvVar{
		{Name: "PGDATA", Value: u.PGData},
		{Name: "FROM", Value: fmt.Sprint(u.From)},
		{Name: "TO", Value: fmt.Sprint(u.To)},
		{Name: "MODE", Value: u.Mode},
		{Name: "INCLUDE", Value: u.Include},
		{Name: "SUPERUSER", Value: u.Superuser},
		// The old major's own libraries (hack/cluster/images.sh): other
		// sonames than the new major's, which never loads them.
		{Name: "LD_LIBRARY_PATH", Value: cluster.CompatLibDir(u.From)},
	}
	v := restoreJobValues{
		Name:      UpgradeJobName(u.Cluster),
		Namespace: u.Namespace,
		Image:     u.Image,
		Labels:    cluster.Labels(u.Cluster, ComponentUpgrade),
		Annotations: map[string]string{
			AnnotationUpgrade: fmt.Sprintf("PostgreSQL %d to %d (--%s)", u.From, u.To, u.Mode),
		},
		ActiveDeadlineSeconds:   int64(positiveOr(u.Deadline, DefaultUpgradeDeadline) / time.Second),
		TTLSecondsAfterFinished: int64(DefaultRestoreTTL / time.Second),
		UID:                     postgresUID,
		Command:                 []string{"tini", "--", "bash", "-c", upgradeScript, "kubectl-pgo-upgrade"},
		Env:                     env,
		Resources:               container.Resources,
		VolumeMounts:            container.VolumeMounts,
		Volumes:                 volumes,
	}
	return renderJob(restoreJobTemplate, "upgrade", v)
}

// AnnotationUpgrade says what an upgrade Job does.
const AnnotationUpgrade = "kubectl-pgo.io/upgrade"
