package jobs

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// pg_basebackup backups, made and recorded like dumps (see pgdump.go): a
// Job in the PostgreSQL image runs pg_basebackup against the cluster's
// Service (tar format, gzip-compressed, WAL streamed) into
// /pgbasebackup/<cluster>-backups/<UTC timestamp>/ on a PVC, and is kept
// (no TTL) as the base backup's record.

// ComponentPGBaseBackup is the component of pg_basebackup Jobs.
const ComponentPGBaseBackup = "pgbasebackup"

// BackupTypePGBaseBackup is the --backup-type of pg_basebackup backups.
const BackupTypePGBaseBackup = "pgbasebackup"

// PGBaseBackupMount is where the base backup PVC is mounted.
const PGBaseBackupMount = "/pgbasebackup"

// DefaultPGBaseBackupPVCName is the default PVC of a cluster's base backups.
func DefaultPGBaseBackupPVCName(clusterName string) string {
	return "backup-" + clusterName + "-pgbasebackup-pvc"
}

// PGBaseBackupSelector selects a cluster's pg_basebackup Jobs.
func PGBaseBackupSelector(clusterName string) labels.Set {
	l := cluster.ClusterSelector(clusterName)
	l[cluster.LabelComponent] = ComponentPGBaseBackup
	return l
}

// PGBaseBackupJob describes a pg_basebackup Job.
type PGBaseBackupJob struct {
	Cluster, Namespace, Image string
	Options                   []string
	PVC                       string
	Time                      time.Time
	Deadline                  time.Duration
	Suffix                    string
}

const pgbasebackupScript = `set -eu
d="$PGBASEBACKUP_DIR"
mkdir -p "$(dirname "$d")"
echo "kubectl-pgo: base backup to $d"
pg_basebackup --pgdata="$d" --format=tar --gzip --wal-method=stream --checkpoint=fast --progress --verbose "$@"
echo "` + SizeMarker + `$(du -sb "$d" | cut -f1)"
`

// Render returns the Job.
func (p PGBaseBackupJob) Render() *batchv1.Job {
	ts := p.Time.UTC().Format(PGDumpTimestampLayout)
	dir := fmt.Sprintf("%s/%s-backups/%s", PGBaseBackupMount, p.Cluster, ts)
	suffix := p.Suffix
	if suffix == "" {
		suffix = RandomSuffix()
	}
	l := cluster.Labels(p.Cluster, ComponentPGBaseBackup)
	l[LabelBackupType] = BackupTypePGBaseBackup
	l[LabelPGDumpTimestamp] = ts
	l[LabelPGDumpPVC] = p.PVC
	ann := map[string]string{
		AnnotationPGDumpDatabase: "all",
		AnnotationPGDumpPath:     dir,
		AnnotationPGDumpCommand:  "pg_basebackup --format=tar --gzip --wal-method=stream --checkpoint=fast --pgdata=" + dir + " " + joinArgs(p.Options),
	}
	env := append(pgEnv(p.Cluster), corev1.EnvVar{Name: "PGBASEBACKUP_DIR", Value: dir})
	command := append([]string{"sh", "-c", pgbasebackupScript, "pgbasebackup"}, p.Options...)
	return pgJob(fmt.Sprintf("%s-pgbasebackup-%s", p.Cluster, suffix), p.Namespace, p.Image, p.PVC, PGBaseBackupMount, l, ann, env, command, p.Deadline, false)
}
