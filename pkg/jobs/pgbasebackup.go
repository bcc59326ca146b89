package jobs

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
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

// PGBaseBackupJob describes a pg_basebackup Job.
type PGBaseBackupJob struct {
	Cluster, Namespace, Image string
	// PVC holds the base backups, each in a folder named for Time.
	PVC     string
	Time    time.Time
	Options []string
	// Deadline is DefaultBackupDeadline when zero.
	Deadline time.Duration
	Suffix   string
	// Scheduled: see PGDumpJob.Scheduled.
	Scheduled bool
}

const pgbasebackupScript = caCheck + `d="$PGBASEBACKUP_DIR"
mkdir -p "$(dirname "$d")"
echo "kubectl-pgo: base backup to $d"
pg_basebackup --pgdata="$d" --format=tar --gzip --wal-method=stream --checkpoint=fast --progress --verbose "$@"
echo "` + SizeMarker + `$(du -sb "$d" | cut -f1)"
`

// Render returns the Job.
func (p PGBaseBackupJob) Render() *batchv1.Job {
	l, suffix := jobLabels(p.Cluster, ComponentPGBaseBackup, BackupTypePGBaseBackup, p.Suffix)
	l[LabelPGDumpPVC] = p.PVC
	dir := fmt.Sprintf("%s/%s-backups/%s", PGBaseBackupMount, p.Cluster, dumpFolder(p.Time, p.Scheduled, l))
	ann := map[string]string{
		AnnotationPGDumpDatabase: "all",
		AnnotationPGDumpPath:     dir,
		AnnotationPGDumpCommand:  "pg_basebackup --format=tar --gzip --wal-method=stream --checkpoint=fast --pgdata=" + dir + " " + joinArgs(p.Options),
	}
	env := append(pgEnv(p.Cluster, p.Scheduled), corev1.EnvVar{Name: "PGBASEBACKUP_DIR", Value: dir})
	command := append([]string{"sh", "-c", pgbasebackupScript, "pgbasebackup"}, p.Options...)
	job := pgJob(p.Cluster, fmt.Sprintf("%s-pgbasebackup-%s", p.Cluster, suffix), p.Namespace, p.Image, p.PVC, PGBaseBackupMount, l, ann, env, command, p.Deadline, false)
	// Beside the database: a restore of the base backup mounts its PVC and the data PVC in one
	// pod, so with node-local volumes both must be on one node. The first Job binds a new PVC
	// of a WaitForFirstConsumer class to the database's node, and later ones follow it there.
	job.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: cluster.DatabaseSelector(p.Cluster),
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: cluster.LabelRole, Operator: metav1.LabelSelectorOpNotIn, Values: []string{cluster.RoleReplica}}}},
			TopologyKey: corev1.LabelHostname,
		}},
	}}
	return job
}

// baseBackupScript restores a base backup: $1 is the data directory, $2
// the base backup's folder, $3 the stanza. It changes nothing before both
// archives have passed gzip's check. From the moment it empties the data
// directory until its last step, PG_VERSION is missing, so that an
// interrupted restore leaves no directory PostgreSQL would start on (the
// database container's initdb refuses a non-empty directory); running the
// restore again starts over. PostgreSQL then starts in archive recovery
// (recovery.signal): it replays the WAL of the backup, stops as soon as the
// data is consistent (recovery_target 'immediate'), and is promoted on a
// new timeline. Promotion is what keeps pgBackRest's archive valid: on the
// old timeline, the database would archive WAL segments under names the
// archive already holds with other contents. restore_command reads the
// archive, so that PostgreSQL sees the timelines there and picks an unused
// one; 'current' keeps the recovery on the backup's own timeline.
const baseBackupScript = `set -euo pipefail
pgdata=$1 dir=$2 stanza=$3
base=$dir/base.tar.gz wal=$dir/pg_wal.tar.gz
case "$pgdata" in
  /?*/?*) ;;
  *) echo "kubectl-pgo: refusing to restore into $pgdata: not a data directory path" >&2; exit 1 ;;
esac
for f in "$base" "$wal"; do
  if [ ! -f "$f" ]; then
    echo "kubectl-pgo: $f is missing: $dir is not a complete base backup; nothing was changed" >&2
    exit 1
  fi
done
extra=$(find "$dir" -maxdepth 1 -name '*.tar.gz' ! -name base.tar.gz ! -name pg_wal.tar.gz)
if [ -n "$extra" ]; then
  echo "kubectl-pgo: the base backup has tablespaces ($extra), which kubectl-pgo does not restore; nothing was changed" >&2
  exit 1
fi
echo "kubectl-pgo: checking $base and $wal"
if ! gzip -t "$base" || ! gzip -t "$wal"; then
  echo "kubectl-pgo: the base backup in $dir is damaged; nothing was changed" >&2
  exit 1
fi
start=$(date +%s)
mkdir -p "$pgdata"
rm -f "$pgdata/PG_VERSION"
echo "kubectl-pgo: emptying $pgdata"
find "$pgdata" -mindepth 1 -delete
echo "kubectl-pgo: extracting base.tar.gz into $pgdata"
tar -xzpf "$base" -C "$pgdata" --transform='s,^\(\./\)\?PG_VERSION$,PG_VERSION.kubectl-pgo,'
if [ ! -f "$pgdata/PG_VERSION.kubectl-pgo" ]; then
  echo "kubectl-pgo: base.tar.gz has no PG_VERSION: it is not a base backup" >&2
  exit 1
fi
echo "kubectl-pgo: extracting pg_wal.tar.gz into $pgdata/pg_wal"
mkdir -p "$pgdata/pg_wal"
tar -xzpf "$wal" -C "$pgdata/pg_wal"
conf=$pgdata/postgresql.auto.conf
touch "$conf"
# The recovery settings of an earlier restore would contradict these.
sed -i -E 's/^[[:space:]]*(restore_command|recovery_target[a-z_]*)[[:space:]]*=/# Disabled by kubectl-pgo restore: &/' "$conf"
cat >>"$conf" <<SETTINGS
# Added by kubectl-pgo restore --backup-type=pgbasebackup: recover to the end
# of the base backup, then be promoted on a new timeline.
restore_command = 'pgbackrest --stanza=$stanza archive-get %f "%p"'
recovery_target = 'immediate'
recovery_target_action = 'promote'
recovery_target_timeline = 'current'
SETTINGS
touch "$pgdata/recovery.signal"
chmod 0700 "$pgdata"
mv "$pgdata/PG_VERSION.kubectl-pgo" "$pgdata/PG_VERSION"
echo "kubectl-pgo: the base backup is in place, in $(( $(date +%s) - start ))s"
`

// renderBaseBackup renders the restore Job of a base backup: the
// pgbackrest container's mounts (the data PVC), and the base backup's PVC,
// read-only.
func (r RestoreJob) renderBaseBackup() (*batchv1.Job, error) {
	b := r.BaseBackup
	if b.PVC == "" || b.Dir == "" || !strings.HasPrefix(b.Dir, PGBaseBackupMount+"/") {
		return nil, fmt.Errorf("restore Job: a base backup needs its PVC and a folder under %s", PGBaseBackupMount)
	}
	if len(r.ExtraArgs) > 0 || r.SourceSecret != "" || r.Recover || !reflect.ValueOf(r.Options).IsZero() {
		return nil, fmt.Errorf("restore Job: a base backup restore takes no pgBackRest options")
	}
	container, volumes, err := containerMounts(r.Database, pgbackrestContainer)
	if err != nil {
		return nil, err
	}
	container.VolumeMounts = append(container.VolumeMounts, corev1.VolumeMount{Name: "pgbasebackup", MountPath: PGBaseBackupMount, ReadOnly: true})
	volumes = append(volumes, corev1.Volume{Name: "pgbasebackup", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: b.PVC, ReadOnly: true}}})
	l := cluster.Labels(r.Cluster, ComponentRestore)
	l[LabelBackupType] = BackupTypePGBaseBackup
	command := []string{"tini", "--", "bash", "-c", baseBackupScript, "kubectl-pgo-restore", r.PGData, b.Dir, repo.StanzaName}
	return r.render(container, volumes, nil, l, "base backup "+b.Name,
		fmt.Sprintf("extract %s/base.tar.gz and pg_wal.tar.gz (PVC %s), recover to the end of the backup and promote", b.Dir, b.PVC), command)
}
