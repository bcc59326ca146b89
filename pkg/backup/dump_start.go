package backup

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// DumpRequest is a pg_dump (or pg_dumpall, or pg_basebackup) of a cluster
// to a PVC, checked by the command.
type DumpRequest struct {
	Cluster   string
	Namespace string
	// Image is the cluster's PostgreSQL image, which the Job runs, and
	// PostgresVersion its major, kept with a dump.
	Image           string
	PostgresVersion int
	// BackupType is jobs.BackupTypePGDump or jobs.BackupTypePGBaseBackup.
	BackupType string
	// Database is the database that pg_dump dumps, unless All.
	Database string
	All      bool
	// Options are the tool's options, checked by ParseToolOptions.
	Options  []string
	PVC      string
	PVCSize  string
	Deadline time.Duration
}

// base tells whether the request is a pg_basebackup.
func (r DumpRequest) base() bool { return r.BackupType == jobs.BackupTypePGBaseBackup }

// DumpResult is what backup --backup-type=pgdump -o json|yaml prints.
type DumpResult struct {
	Job        string `json:"job"`
	Namespace  string `json:"namespace"`
	Cluster    string `json:"cluster"`
	BackupType string `json:"backupType"`
	Name       string `json:"name"`
	Database   string `json:"database"`
	PVC        string `json:"pvc"`
	Path       string `json:"path"`
	Status     string `json:"status"`
	Size       *int64 `json:"size,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// NewDumpResult is the Result of a dump Job that StartDump started.
func NewDumpResult(r DumpRequest, created *batchv1.Job) DumpResult {
	dump := DumpFromJob(created)
	return DumpResult{Job: created.Name, Namespace: r.Namespace, Cluster: r.Cluster, BackupType: r.BackupType,
		Name: dump.Name, Database: dump.Database, PVC: dump.PVC, Path: dump.Path, Status: Started}
}

// StartDump checks that the database exists (for pg_dump of one
// database) and that no restore of the cluster runs, creates the PVC when
// it is missing, and creates the Job. Nothing is started when it fails
// before the PVC.
func StartDump(ctx context.Context, client kubernetes.Interface, exec Exec, r DumpRequest, now func() time.Time) (*batchv1.Job, error) {
	ns := r.Namespace
	if !r.All && !r.base() {
		if err := CheckDatabase(ctx, exec, ns, r.Cluster, r.Database); err != nil {
			return nil, fmt.Errorf("%w. Nothing was started", err)
		}
	}
	// A dump or base backup taken while the cluster is being restored
	// would hold half of the restore, or fail on a stopped database.
	if err := jobs.CheckNoActive(ctx, client, ns, r.Cluster, []string{jobs.ComponentRestore, jobs.ComponentPGDumpRestore}, "a "+r.BackupType+" backup", now()); err != nil {
		return nil, fmt.Errorf("%w. Nothing was started", err)
	}
	if err := EnsurePVC(ctx, client, ns, r.Cluster, r.PVC, r.PVCSize, r.BackupType); err != nil {
		return nil, err
	}
	job := jobs.PGDumpJob{
		Cluster: r.Cluster, Namespace: ns, Image: r.Image, PostgresVersion: r.PostgresVersion, Database: r.Database, All: r.All,
		Options: r.Options, PVC: r.PVC, Time: now(), Deadline: r.Deadline,
	}.Render()
	if r.base() {
		job = jobs.PGBaseBackupJob{Cluster: r.Cluster, Namespace: ns, Image: r.Image, Options: r.Options,
			PVC: r.PVC, Time: now(), Deadline: r.Deadline}.Render()
	}
	created, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("create %s Job %s in namespace %s: %w", r.BackupType, job.Name, ns, err)
	}
	return created, nil
}

// WaitDump follows the dump Job to its end (its log to log, progress to
// errOut) and fills result. It returns an error when the Job failed
// (result.Status is then Failed) or could not be followed.
func WaitDump(ctx context.Context, client kubernetes.Interface, r DumpRequest, job *batchv1.Job, log, errOut io.Writer, interval time.Duration, result *DumpResult) error {
	waitCtx, cancel := context.WithTimeout(ctx, r.Deadline+WaitGrace)
	defer cancel()
	out, err := followDump(waitCtx, client, job, log, errOut, interval)
	if err != nil {
		return fmt.Errorf("could not follow %s job %s: %w. The backup goes on without this command: kubectl logs -f job/%s -n %s", r.BackupType, job.Name, err, job.Name, job.Namespace)
	}
	if !out.Succeeded {
		result.Status = Failed
		result.Reason = cmp.Or(out.Reason, "Failed")
		return DumpJobFailed(r.BackupType, job.Name, job.Namespace, out)
	}
	result.Status = Succeeded
	result.Size = sizeFromLog(out.Log)
	return nil
}

// followDump follows a Job of the PostgreSQL tools.
func followDump(ctx context.Context, client kubernetes.Interface, job *batchv1.Job, log, errOut io.Writer, interval time.Duration) (jobs.Outcome, error) {
	return jobs.Follow(ctx, client, job.Namespace, job.Name, jobs.FollowOptions{
		Container: jobs.PGDumpContainer, Log: log, Status: statusTo(errOut), Interval: interval,
	})
}

// sqlLiteral quotes s as an SQL string (standard_conforming_strings on).
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CheckDatabase asks PostgreSQL, in the database pod, whether db exists.
func CheckDatabase(ctx context.Context, exec Exec, ns, name, db string) error {
	out, _, err := exec(ctx, ns, cluster.PodName(name), cluster.ContainerDatabase,
		[]string{"psql", "-XAtq", "-c", "SELECT count(*) FROM pg_database WHERE datname = " + sqlLiteral(db)})
	if err != nil {
		return fmt.Errorf("cannot check that database %q exists in cluster %q (is pod %s running?): %w", db, name, cluster.PodName(name), err)
	}
	if strings.TrimSpace(out) != "1" {
		return fmt.Errorf("database %q does not exist in cluster %q", db, name)
	}
	return nil
}
