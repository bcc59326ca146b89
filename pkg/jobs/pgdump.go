package jobs

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// pg_dump backups.
//
// A dump is made by a Job in the cluster's PostgreSQL image that connects
// to the cluster's Service with the superuser's credentials (environment
// variables from the cluster's Secret, never in the arguments) and writes
// /pgdump/<cluster>-backups/<UTC timestamp>/<database>.dump on a PVC.
//
// Every dump is listed from its Job: the Job's labels and annotations hold
// the cluster, the database, the PVC, the timestamp and the path, and its
// log ends with the dump's size. So that no dump is forgotten, pgdump Jobs
// have no ttlSecondsAfterFinished: they (and their pods' logs) are kept
// until deleted. A dump whose Job was deleted by hand is no longer listed,
// although its file stays on the PVC.

// Components of pg_dump Jobs and their pods.
const (
	ComponentPGDump        = "pgdump"
	ComponentPGDumpRestore = "pgdump-restore"
)

// BackupTypePGDump is the --backup-type of pg_dump backups.
const BackupTypePGDump = "pgdump"

// Labels and annotations of a pgdump Job.
const (
	LabelPGDumpTimestamp     = "kubectl-pgo.io/pgdump-timestamp"
	LabelPGDumpPVC           = "kubectl-pgo.io/pgdump-pvc"
	AnnotationPGDumpDatabase = "kubectl-pgo.io/pgdump-database"
	AnnotationPGDumpPath     = "kubectl-pgo.io/pgdump-path"
	AnnotationPGDumpAll      = "kubectl-pgo.io/pgdump-all"
	AnnotationPGDumpCommand  = "kubectl-pgo.io/pgdump-command"
	// AnnotationPostgresVersion is the PostgreSQL major of the dumped
	// cluster: a dump does not load into an older major.
	AnnotationPostgresVersion = "kubectl-pgo.io/postgres-version"
)

// PGDumpTimestampLayout names a dump's folder: a UTC time.
const PGDumpTimestampLayout = "2006-01-02-15-04-05"

// PGDumpMount is where the dump PVC is mounted.
const PGDumpMount = "/pgdump"

// PGDumpContainer is the container of pgdump Jobs.
const PGDumpContainer = "pgdump"

// SizeMarker starts the last line of a dump Job's log: the size in bytes.
const SizeMarker = "kubectl-pgo: dump size "

// DefaultPGDumpPVCName is the default PVC of a cluster's dumps.
func DefaultPGDumpPVCName(clusterName string) string { return "backup-" + clusterName + "-pgdump-pvc" }

// PGDumpPath is the file of a dump on its PVC.
func PGDumpPath(clusterName, timestamp, database string, all bool) string {
	file := database + ".dump"
	if all {
		file = "all.sql"
	}
	return fmt.Sprintf("%s/%s-backups/%s/%s", PGDumpMount, clusterName, timestamp, file)
}

// PGDumpJob describes a pg_dump (or pg_dumpall) Job.
type PGDumpJob struct {
	Cluster, Namespace, Image string
	// PostgresVersion is the cluster's major, kept on the Job; 0 for none.
	PostgresVersion int
	Database        string
	All             bool
	Options         []string
	PVC             string
	Time            time.Time
	Deadline        time.Duration
	Suffix          string
	// Scheduled renders the template of a schedule's Jobs: the folder is
	// the Job's name, known when the CronJob creates the Job, instead of
	// Time (see JobNameFolder).
	Scheduled bool
}

// JobNameFolder stands for the folder of a scheduled dump in its path: the
// Job's name, which the pod reads from its job-name label. The CronJob
// controller names a Job after its scheduled time, so every run gets its
// own folder. DumpPath replaces it.
const JobNameFolder = "$(JOB_NAME)"

// jobNameEnv gives the pod its Job's name, for JobNameFolder: Kubernetes
// expands $(JOB_NAME) in the variables that follow it.
var jobNameEnv = corev1.EnvVar{Name: "JOB_NAME", ValueFrom: &corev1.EnvVarSource{
	FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['" + batchv1.JobNameLabel + "']"},
}}

// DumpPath is the path of the dump or base backup a Job made, from its
// annotation.
func DumpPath(job *batchv1.Job) string {
	return strings.ReplaceAll(job.Annotations[AnnotationPGDumpPath], JobNameFolder, job.Name)
}

// dumpFolder returns the name of a dump's folder and the Job's labels for it:
// the UTC time, or for a schedule the Job's name.
func dumpFolder(t time.Time, scheduled bool, l map[string]string) string {
	if scheduled {
		return JobNameFolder
	}
	ts := t.UTC().Format(PGDumpTimestampLayout)
	l[LabelPGDumpTimestamp] = ts
	return ts
}

// pgdumpScript resolves the Service once, with retries: pg_dumpall connects
// once per database, and one transient DNS failure would fail the dump.
// The address goes to PGHOSTADDR: PGHOST keeps the Service's name, which
// sslmode=verify-full checks the server's certificate against.
const pgdumpScript = caCheck + `addr=
for i in 1 2 3 4 5; do
  addr=$(getent hosts "$PGHOST" | awk '{print $1; exit}')
  [ -n "$addr" ] && break
  echo "kubectl-pgo: cannot resolve $PGHOST yet (attempt $i of 5)"
  sleep 2
done
[ -n "$addr" ] || { echo "kubectl-pgo: cannot resolve the Service $PGHOST" >&2; exit 1; }
export PGHOSTADDR="$addr"
f="$PGDUMP_FILE"
mkdir -p "$(dirname "$f")"
echo "kubectl-pgo: dumping to $f"
if [ "$PGDUMP_ALL" = true ]; then
  pg_dumpall --verbose -f "$f" "$@"
else
  pg_dump --verbose -Fc -f "$f" "$@"
fi
echo "` + SizeMarker + `$(stat -c %s "$f")"
`

// PGDumpPVC is the PVC of the dumps, for server-side apply.
func PGDumpPVC(clusterName, namespace, name, size, component string) (*corev1.PersistentVolumeClaim, error) {
	q, err := resource.ParseQuantity(size)
	if err != nil {
		return nil, fmt.Errorf("invalid PVC size %q: %w", size, err)
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: cluster.Labels(clusterName, component)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
		},
	}, nil
}

// Render returns the Job.
func (p PGDumpJob) Render() *batchv1.Job {
	db := p.Database
	if p.All {
		db = "all"
	}
	l, suffix := jobLabels(p.Cluster, ComponentPGDump, BackupTypePGDump, p.Suffix)
	l[LabelPGDumpPVC] = p.PVC
	path := PGDumpPath(p.Cluster, dumpFolder(p.Time, p.Scheduled, l), p.Database, p.All)
	prog := "pg_dump -Fc"
	args := append([]string{}, p.Options...)
	if p.All {
		prog = "pg_dumpall"
	} else {
		args = append(args, "--dbname="+p.Database)
	}
	ann := map[string]string{
		AnnotationPGDumpDatabase: db,
		AnnotationPGDumpPath:     path,
		AnnotationPGDumpAll:      fmt.Sprint(p.All),
		AnnotationPGDumpCommand:  fmt.Sprintf("%s -f %s %s", prog, path, joinArgs(args)),
	}
	if p.PostgresVersion != 0 {
		ann[AnnotationPostgresVersion] = fmt.Sprint(p.PostgresVersion)
	}
	env := append(pgEnv(p.Cluster, p.Scheduled),
		corev1.EnvVar{Name: "PGDUMP_FILE", Value: path},
		corev1.EnvVar{Name: "PGDUMP_ALL", Value: fmt.Sprint(p.All)})
	command := append([]string{"sh", "-c", pgdumpScript, "pgdump"}, args...)
	return pgJob(p.Cluster, fmt.Sprintf("%s-pgdump-%s", p.Cluster, suffix), p.Namespace, p.Image, p.PVC, PGDumpMount, l, ann, env, command, p.Deadline, false)
}

// PGDumpRestoreJob describes a pg_restore (or psql, for pg_dumpall) Job.
type PGDumpRestoreJob struct {
	Cluster, Namespace, Image string
	// Database is the target database; Path is the dump's file.
	Database, Path, PVC string
	All                 bool
	Options             []string
	Deadline            time.Duration
	Suffix              string
}

// dumpAllRestoreScript runs a pg_dumpall script with psql: $1 is the file,
// $2 the database to start in. The connecting superuser keeps its password
// (this cluster's, from its Secret): with the dumped cluster's, the
// script's next \connect, and every later command of kubectl-pgo, would
// fail to log in. That matters when the dump is another cluster's.
const dumpAllRestoreScript = `set -euo pipefail
file=$1 db=$2
shift 2
[ -r "$file" ] || { echo "kubectl-pgo: cannot read $file" >&2; exit 1; }
sed -E "s/^(ALTER ROLE \"?${PGUSER}\"? WITH .*) PASSWORD '[^']*'/\1/" "$file" | psql -X --dbname="$db" -f - "$@"
`

// Command is the restore command line.
func (r PGDumpRestoreJob) Command() []string {
	if r.All {
		return append([]string{"bash", "-c", dumpAllRestoreScript, "pgdump-restore", r.Path, r.Database}, r.Options...)
	}
	return append(append([]string{"pg_restore", "--verbose", "--clean", "--if-exists", "--dbname=" + r.Database}, r.Options...), r.Path)
}

// Render returns the Job.
func (r PGDumpRestoreJob) Render() *batchv1.Job {
	l, suffix := jobLabels(r.Cluster, ComponentPGDumpRestore, BackupTypePGDump, r.Suffix)
	command := joinArgs(r.Command())
	if r.All {
		command = strings.TrimSpace(fmt.Sprintf("psql -X --dbname=%s -f %s %s", r.Database, r.Path, joinArgs(r.Options))) + " (keeping the superuser's password)"
	}
	ann := map[string]string{AnnotationPGDumpPath: r.Path, AnnotationPGDumpDatabase: r.Database, AnnotationPGDumpCommand: command}
	return pgJob(r.Cluster, fmt.Sprintf("%s-pgdump-restore-%s", r.Cluster, suffix), r.Namespace, r.Image, r.PVC, PGDumpMount, l, ann, pgEnv(r.Cluster, false), r.Command(), r.Deadline, true)
}

func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

// PGCAMount is where the Jobs that connect to PostgreSQL mount the
// cluster's CA ConfigMap (cluster.CAConfigMapName).
const PGCAMount = "/etc/kubectl-pgo-ca"

// caCheck starts the scripts of the Jobs that connect to PostgreSQL: a
// cluster made before PostgreSQL required TLS has no CA ConfigMap until
// update cluster makes it, and the Job says so rather than libpq's "root
// certificate file does not exist".
const caCheck = `set -eu
if [ ! -s "$PGSSLROOTCERT" ]; then
  echo "kubectl-pgo: the cluster's CA ($PGSSLROOTCERT, from ConfigMap $PGCA_CONFIGMAP) is missing: the cluster was made by an earlier kubectl-pgo; kubectl pgo update cluster $PGHOST brings it up to date" >&2
  exit 1
fi
`

// pgEnv connects libpq to the cluster's Service as the superuser of its
// Secret, over TLS with the server's certificate verified against the
// cluster's CA (sslmode=verify-full); with jobName, it also gives the
// Job's name (jobNameEnv).
func pgEnv(clusterName string, jobName bool) []corev1.EnvVar {
	secret := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: cluster.PostgresSecretName(clusterName)}, Key: key}}
	}
	var env []corev1.EnvVar
	if jobName {
		env = append(env, jobNameEnv)
	}
	return append(env, []corev1.EnvVar{
		{Name: "PGHOST", Value: cluster.ServiceName(clusterName)},
		{Name: "PGPORT", Value: "5432"},
		{Name: "PGUSER", ValueFrom: secret("username")},
		{Name: "PGPASSWORD", ValueFrom: secret("password")},
		{Name: "PGCONNECT_TIMEOUT", Value: "10"},
		{Name: "PGSSLMODE", Value: "verify-full"},
		{Name: "PGSSLROOTCERT", Value: PGCAMount + "/" + cluster.KeyCACert},
		{Name: "PGCA_CONFIGMAP", Value: cluster.CAConfigMapName(clusterName)},
		{Name: "HOME", Value: "/tmp"},
	}...)
}

func pgJob(clusterName, name, ns, image, pvc, mount string, l, ann map[string]string, env []corev1.EnvVar, command []string, deadline time.Duration, readOnly bool) *batchv1.Job {
	deadline = positiveOr(deadline, DefaultBackupDeadline)
	const uid = 26
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l, Annotations: ann},
		Spec: batchv1.JobSpec{
			// One attempt: a failure is reported, not retried.
			BackoffLimit:          ptr.To[int32](0),
			ActiveDeadlineSeconds: ptr.To(int64(deadline / time.Second)),
			// No ttlSecondsAfterFinished: the Job is the dump's record.
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](uid), RunAsGroup: ptr.To[int64](uid), FSGroup: ptr.To[int64](uid),
						FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
						SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:                     PGDumpContainer,
						Image:                    image,
						ImagePullPolicy:          corev1.PullIfNotPresent,
						Command:                  command,
						Env:                      env,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						SecurityContext:          restrictedSecurityContext(),
						VolumeMounts: []corev1.VolumeMount{
							{Name: "pgdump", MountPath: mount, ReadOnly: readOnly},
							{Name: "tmp", MountPath: "/tmp"},
							{Name: "ca", MountPath: PGCAMount, ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "pgdump", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						// Optional: without it (a cluster not yet updated) the pod
						// starts, and its script says what to do (caCheck).
						{Name: "ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: cluster.CAConfigMapName(clusterName)},
							Optional:             ptr.To(true),
						}}},
					},
				},
			},
		},
	}
}
