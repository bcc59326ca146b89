package jobs

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ComponentRestore is the app.kubernetes.io/component of restore Jobs and
// their pods.
const ComponentRestore = "restore"

// Annotations of a restore Job: what it restores, for whoever looks at it
// with kubectl.
const (
	AnnotationRestoreTarget  = "kubectl-pgo/restore-target"
	AnnotationRestoreOptions = "kubectl-pgo/restore-options"
)

// Defaults of a restore Job.
const (
	// DefaultRestoreDeadline bounds a restore that hangs; a large database
	// restores well within it.
	DefaultRestoreDeadline = 12 * time.Hour
	// DefaultRestoreTTL keeps a finished Job, and its log, for a day;
	// the next restore replaces it anyway.
	DefaultRestoreTTL = 24 * time.Hour
)

// RestoreContainer is the container of a restore Job's pod.
const RestoreContainer = "pgbackrest"

// The containers of the database pod whose mounts the restore Job copies,
// and the uid of the image's postgres user.
const (
	pgbackrestContainer = "pgbackrest"
	databaseContainer   = "database"
	postgresUID         = 26
)

// Keys of a restore source Secret (see RestoreJob.SourceSecret): the
// pgbackrest.conf and the TLS files of another cluster's database side,
// or an object store's CA and a GCS service key; the S3 keys, a GCS token,
// an Azure key and the passphrase reach pgBackRest through the
// environment (RestoreJob.SourceEnv).
const (
	SourceKeyConfig      = "pgbackrest.conf"
	SourceKeyCACert      = "ca.crt"
	SourceKeyCert        = "db.crt"
	SourceKeyKey         = "db.key"
	SourceKeyS3CA        = "s3-ca.crt"
	SourceKeyS3Key       = "s3-key"
	SourceKeyS3KeySecret = "s3-key-secret"
	SourceKeyCipherPass  = "cipher-pass"
	SourceKeyGCSCA       = "gcs-ca.crt"
	SourceKeyGCSKeyFile  = "gcs-key.json"
	SourceKeyGCSToken    = "gcs-token"
	SourceKeyAzureCA     = "azure-ca.crt"
	SourceKeyAzureKey    = "azure-key"
)

// sourcePaths are where the files of a restore source Secret are mounted,
// under pgBackRest's configuration directory: the cluster's own layout.
var sourcePaths = map[string]string{
	SourceKeyConfig: "pgbackrest.conf",
	SourceKeyCACert: "tls/ca.crt",
	SourceKeyCert:   "tls/db.crt",
	SourceKeyKey:    "tls/db.key",
	SourceKeyS3CA:   "s3/ca.crt",
	// A cluster's own layout (cluster.GCSCAFile, GCSKeyFile, AzureCAFile).
	SourceKeyGCSCA:      "gcs/ca.crt",
	SourceKeyGCSKeyFile: "gcs/key.json",
	SourceKeyAzureCA:    "azure/ca.crt",
}

// SourceKeyOfFile is the key of a restore source Secret that holds the
// file of a repository (repo.File) at path in the source's pods: the
// Secret is mounted in the cluster's own layout, so the path stays.
func SourceKeyOfFile(path string) string {
	for k, p := range sourcePaths {
		if pgbackrestConfigDir+"/"+p == path {
			return k
		}
	}
	return ""
}

// SourceTLSFiles are the files of the source Secret of a repository read
// through its repository host: the default of RestoreJob.SourceFiles.
var SourceTLSFiles = []string{SourceKeyConfig, SourceKeyCACert, SourceKeyCert, SourceKeyKey}

// pgbackrestConfigDir is where pgBackRest reads its configuration, in
// every pod: the default path, which its TLS server's workers read too.
const pgbackrestConfigDir = "/etc/pgbackrest"

// RestoreJobName is the name of a cluster's restore Job: one at a time.
func RestoreJobName(clusterName string) string { return clusterName + "-restore" }

// restoreScript runs in the Job: $1 is the data directory, the rest are
// the arguments of pgbackrest. The Job runs only while the database pod is
// gone, so a postmaster.pid left by a database that crashed is stale, and
// pgBackRest would take it for a running database (exit code 38).
const restoreScript = `set -euo pipefail
pgdata=$1
shift
if [ -e "$pgdata/postmaster.pid" ]; then
  echo "kubectl-pgo: removing $pgdata/postmaster.pid: the database pod is gone, so it is stale"
  rm -f "$pgdata/postmaster.pid"
fi
mkdir -p "$pgdata"
chmod 0700 "$pgdata"
echo "kubectl-pgo: pgbackrest $*"
start=$(date +%s)
pgbackrest "$@"
echo "kubectl-pgo: the restore finished in $(( $(date +%s) - start ))s"
`

// recoverScript follows restoreScript when the Job also runs the recovery
// (RestoreJob.Recover): PostgreSQL replays the source's WAL here, with
// archiving off, because that WAL belongs to the source's repository and
// this database will archive to its own. Once promoted, the recovery
// settings pointing at the source are removed, the superuser gets the
// password of this cluster's Secret, and PostgreSQL stops cleanly: the
// database pod then starts an ordinary, promoted data directory, and
// archives the new timeline's history file first.
const recoverScript = `
export PATH="$PG_BIN:$PATH"
echo "kubectl-pgo: recovering in the Job, without archiving"
# No TLS: it listens on its socket only, and the Job may not mount the
# database's certificate (a restore from another cluster mounts that one's).
postgres -D "$pgdata" -c archive_mode=off -c listen_addresses= -c ssl=off &
postmaster=$!
until [ "$(psql -XAtq -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
  if ! kill -0 "$postmaster" 2>/dev/null; then
    wait "$postmaster" || true
    echo "kubectl-pgo: PostgreSQL stopped before the end of the recovery: see its log above" >&2
    exit 1
  fi
  sleep 1
done
echo "kubectl-pgo: promoted on timeline $(psql -XAtq -c 'SELECT timeline_id FROM pg_control_checkpoint()'), after $(( $(date +%s) - start ))s"
psql -XAtq -v ON_ERROR_STOP=1 -v password="$(cat "$PASSWORD_FILE")" -v superuser="$SUPERUSER" <<'SQL'
ALTER SYSTEM RESET restore_command;
ALTER SYSTEM RESET recovery_target;
ALTER SYSTEM RESET recovery_target_time;
ALTER SYSTEM RESET recovery_target_xid;
ALTER SYSTEM RESET recovery_target_lsn;
ALTER SYSTEM RESET recovery_target_name;
ALTER SYSTEM RESET recovery_target_inclusive;
ALTER SYSTEM RESET recovery_target_action;
ALTER SYSTEM RESET recovery_target_timeline;
ALTER ROLE :"superuser" PASSWORD :'password';
SQL
pg_ctl stop -D "$pgdata" -m fast -w -t 120
# The new timeline's history file was written with archiving off: mark it
# (and any other history file not archived) ready, so that the database
# pushes it into this cluster's repository when it starts. Without it, that
# repository would hold WAL and backups of a timeline it knows nothing of.
for h in "$pgdata"/pg_wal/*.history; do
  [ -e "$h" ] || continue
  f=${h##*/}
  [ -e "$pgdata/pg_wal/archive_status/$f.done" ] || touch "$pgdata/pg_wal/archive_status/$f.ready"
done
echo "kubectl-pgo: the data directory is ready, $(( $(date +%s) - start ))s after the start of the restore"
`

// RestoreJob describes a restore Job.
type RestoreJob struct {
	// Cluster is the cluster restored into; Namespace is its namespace.
	Cluster   string
	Namespace string
	// Database is the cluster's StatefulSet. The Job runs its image and
	// copies the volumes and mounts of its pgbackrest container: the data
	// PVC, and the database side's pgBackRest configuration.
	Database *appsv1.StatefulSet
	// PGData is the data directory to restore into.
	PGData string
	// Options are the user's restore options, normalized.
	Options repo.RestoreOptions
	// ExtraArgs are more pgbackrest options, e.g. a --pg1-path or a
	// --repo1-host when restoring from another cluster's repository.
	ExtraArgs []string
	// Deadline and TTL are DefaultRestoreDeadline and DefaultRestoreTTL
	// when zero.
	Deadline, TTL time.Duration

	// SourceSecret, when set, names a Secret (keys SourceKey*) with the
	// pgbackrest.conf and TLS files to use instead of the cluster's own:
	// those of the cluster whose repository is restored from.
	SourceSecret string
	// SourceFiles are the keys of SourceSecret mounted as files
	// (SourceTLSFiles when empty); SourceEnv replaces the cluster's own
	// pgBackRest variables (PGBACKREST_*, its S3 keys and passphrase) with
	// the source repository's, taken from SourceSecret.
	SourceFiles []string
	SourceEnv   []corev1.EnvVar
	// Recover runs PostgreSQL's recovery in the Job too (see
	// recoverScript), for a cluster whose database cannot reach the
	// repository the WAL comes from. The Job then mounts what the
	// database container mounts. PostgresBinDir, PasswordFile and
	// Superuser are needed then.
	Recover        bool
	PostgresBinDir string
	PasswordFile   string
	Superuser      string
	// Image, when set, is the Job's image instead of the database's, and
	// LibraryPath the LD_LIBRARY_PATH of its PostgreSQL: an upgrade image
	// (cluster.UpgradeImageFor), whose pgBackRest is that of a source of a
	// newer major and whose PostgresBinDir holds the cluster's major.
	Image, LibraryPath string

	// BaseBackup, when set, restores a pg_basebackup backup instead of
	// running pgbackrest (see baseBackupScript); Options, ExtraArgs,
	// SourceSecret and Recover must be empty then.
	BaseBackup *BaseBackupSource
}

// BaseBackupSource is a pg_basebackup backup to restore: the folder of its
// base.tar.gz and pg_wal.tar.gz (a path under PGBaseBackupMount) on a PVC.
type BaseBackupSource struct {
	Name, PVC, Dir string
}

// Args is the pgbackrest command line of the Job, after the program name.
func (r RestoreJob) Args() []string {
	args := []string{"--stanza=" + repo.StanzaName}
	args = append(args, r.ExtraArgs...)
	args = append(args, "restore")
	return append(args, r.Options.Args()...)
}

//go:embed templates/restore-job.yaml
var restoreJobYAML string

var restoreJobTemplate = parseTemplate("restore-job.yaml", restoreJobYAML)

type restoreJobValues struct {
	Name, Namespace, Image                         string
	Labels, Annotations                            map[string]string
	ActiveDeadlineSeconds, TTLSecondsAfterFinished int64
	UID                                            int
	Command                                        []string
	Env                                            []corev1.EnvVar
	Resources                                      corev1.ResourceRequirements
	VolumeMounts                                   []corev1.VolumeMount
	Volumes                                        []corev1.Volume
}

// Render returns the restore Job.
func (r RestoreJob) Render() (*batchv1.Job, error) {
	if r.Cluster == "" || r.Namespace == "" || r.PGData == "" || r.Database == nil {
		return nil, fmt.Errorf("restore Job: the cluster, its namespace, its data directory and its StatefulSet are required")
	}
	if r.BaseBackup != nil {
		return r.renderBaseBackup()
	}
	source := pgbackrestContainer
	if r.Recover {
		if r.PostgresBinDir == "" || r.PasswordFile == "" || r.Superuser == "" {
			return nil, fmt.Errorf("restore Job: a recovery in the Job needs the PostgreSQL binaries, the password file and the superuser")
		}
		source = databaseContainer
	}
	container, volumes, err := containerMounts(r.Database, source)
	if err != nil {
		return nil, err
	}
	if r.Image != "" {
		if !r.Recover {
			return nil, fmt.Errorf("restore Job: another image than the database's needs the recovery in the Job")
		}
		container.Image = r.Image
	}
	script := restoreScript
	// The container's environment has the S3 keys and the passphrase.
	env := container.Env
	if r.Recover {
		script += recoverScript
		env = append(env,
			corev1.EnvVar{Name: "PG_BIN", Value: r.PostgresBinDir},
			corev1.EnvVar{Name: "PASSWORD_FILE", Value: r.PasswordFile},
			corev1.EnvVar{Name: "SUPERUSER", Value: r.Superuser})
		if r.LibraryPath != "" {
			env = append(env, corev1.EnvVar{Name: "LD_LIBRARY_PATH", Value: r.LibraryPath})
		}
	}
	if r.SourceSecret != "" {
		if volumes, err = useSourceSecret(container, volumes, r.SourceSecret, r.SourceFiles); err != nil {
			return nil, err
		}
		env = sourceEnv(env, r.SourceEnv)
	}
	args := r.Args()
	target := r.Options.Describe()
	if r.Options.Set != "" {
		target += ", from backup " + r.Options.Set
	}
	// The script runs pgbackrest with the arguments after the data
	// directory.
	command := append([]string{"tini", "--", "bash", "-c", script, "kubectl-pgo-restore", r.PGData}, args...)
	return r.render(container, volumes, env, cluster.Labels(r.Cluster, ComponentRestore), target, strings.Join(args, " "), command)
}

// render fills the restore Job template.
func (r RestoreJob) render(container corev1.Container, volumes []corev1.Volume, env []corev1.EnvVar, l map[string]string, target, options string, command []string) (*batchv1.Job, error) {
	deadline, ttl := positiveOr(r.Deadline, DefaultRestoreDeadline), positiveOr(r.TTL, DefaultRestoreTTL)
	v := restoreJobValues{
		Name:      RestoreJobName(r.Cluster),
		Namespace: r.Namespace,
		Image:     container.Image,
		Labels:    l,
		Annotations: map[string]string{
			AnnotationRestoreTarget:  target,
			AnnotationRestoreOptions: options,
		},
		ActiveDeadlineSeconds:   int64(deadline / time.Second),
		TTLSecondsAfterFinished: int64(ttl / time.Second),
		UID:                     postgresUID,
		Command:                 command,
		Env:                     env,
		Resources:               container.Resources,
		VolumeMounts:            container.VolumeMounts,
		Volumes:                 volumes,
	}
	return renderJob(restoreJobTemplate, "restore", v)
}

// useSourceSecret replaces the volume mounted at pgBackRest's
// configuration directory with the files of the source Secret, laid out
// as the cluster's own: pgbackrest.conf, tls/ and s3/.
func useSourceSecret(c corev1.Container, volumes []corev1.Volume, secret string, files []string) ([]corev1.Volume, error) {
	for _, m := range c.VolumeMounts {
		if m.MountPath != pgbackrestConfigDir {
			continue
		}
		for i := range volumes {
			if volumes[i].Name != m.Name {
				continue
			}
			source, err := sourceVolume(secret, files)
			if err != nil {
				return nil, err
			}
			volumes[i].VolumeSource = source
			return volumes, nil
		}
	}
	return nil, fmt.Errorf("restore Job: container %s mounts nothing at %s", c.Name, pgbackrestConfigDir)
}

// sourceVolume mounts files, keys of the source Secret, at their paths
// (SourceTLSFiles when empty).
func sourceVolume(secret string, files []string) (corev1.VolumeSource, error) {
	if len(files) == 0 {
		files = SourceTLSFiles
	}
	items := make([]corev1.KeyToPath, 0, len(files))
	for _, key := range files {
		p, ok := sourcePaths[key]
		if !ok {
			return corev1.VolumeSource{}, fmt.Errorf("restore source Secret %s: %q is not a file of it", secret, key)
		}
		items = append(items, corev1.KeyToPath{Key: key, Path: p})
	}
	mode := int32(0o440)
	return corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: &mode, Items: items}}, nil
}

// sourceEnv is env without the cluster's own pgBackRest variables, which
// describe its repositories and not the source's, and with the source's.
func sourceEnv(env, source []corev1.EnvVar) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range env {
		if !strings.HasPrefix(e.Name, "PGBACKREST_") {
			out = append(out, e)
		}
	}
	return append(out, source...)
}

// containerMounts returns a container of the database pod template and
// the volumes it mounts.
func containerMounts(sts *appsv1.StatefulSet, name string) (corev1.Container, []corev1.Volume, error) {
	spec := sts.Spec.Template.Spec
	for _, c := range spec.Containers {
		if c.Name != name {
			continue
		}
		var volumes []corev1.Volume
		for _, m := range c.VolumeMounts {
			found := false
			for _, v := range spec.Volumes {
				if v.Name == m.Name {
					volumes = append(volumes, *v.DeepCopy())
					found = true
					break
				}
			}
			if !found {
				return corev1.Container{}, nil, fmt.Errorf("StatefulSet %s/%s: container %s mounts volume %s, which the pod does not have",
					sts.Namespace, sts.Name, c.Name, m.Name)
			}
		}
		return *c.DeepCopy(), volumes, nil
	}
	return corev1.Container{}, nil, fmt.Errorf("StatefulSet %s/%s has no container %s: it was not created by kubectl pgo create cluster",
		sts.Namespace, sts.Name, name)
}
