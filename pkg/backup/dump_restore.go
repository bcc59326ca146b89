package backup

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// DumpQuery chooses the dump (or base backup) to restore into a cluster.
type DumpQuery struct {
	Cluster   string
	Namespace string
	// BackupType is pgdump or pgbasebackup, for the errors.
	BackupType string
	// PVC holds the dumps; they may be another cluster's.
	PVC string
	// Name is the dump's name (its UTC timestamp); else the latest made at
	// or before Target; else the latest.
	Name   string
	Target time.Time
}

// FindDump returns the completed dump (or base backup) to restore, from
// the Jobs that selector picks: the one named, the latest made at or
// before the target, or the latest on the PVC. what names the kind, for
// the errors.
func FindDump(ctx context.Context, client kubernetes.Interface, q DumpQuery, selector labels.Set, what string) (*Dump, error) {
	ns := q.Namespace
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, q.PVC, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("PVC %s does not exist in namespace %q: there are no %ss to restore there; nothing was changed", q.PVC, ns, what)
		}
		return nil, fmt.Errorf("read PVC %s in namespace %s: %w", q.PVC, ns, err)
	}
	selector[jobs.LabelPGDumpPVC] = q.PVC
	all, err := ListDumps(ctx, client, ns, selector.String(), false)
	if err != nil {
		return nil, err
	}
	var found []Dump
	for _, d := range all {
		if d.JobStatus == jobs.StateSucceeded {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("PVC %s has no completed %ss for cluster %q: make one with kubectl pgo backup %s --backup-type=%s; nothing was changed", q.PVC, what, q.Cluster, q.Cluster, q.BackupType)
	}
	// Dumps of several clusters may share a PVC: the newest last.
	sort.SliceStable(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	switch {
	case q.Name != "":
		var names []string
		for i := range found {
			if found[i].Name == q.Name {
				return &found[i], nil
			}
			names = append(names, fmt.Sprintf("%s (cluster %s, %s)", found[i].Name, found[i].Cluster, found[i].Database))
		}
		return nil, fmt.Errorf("%s %s does not exist on PVC %s; its %ss are: %s. Nothing was changed", what, q.Name, q.PVC, what, strings.Join(names, ", "))
	case !q.Target.IsZero():
		var pick *Dump
		for i := range found {
			if !found[i].Time.After(q.Target) {
				pick = &found[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("no %s on PVC %s was made at or before %s: the oldest is %s. Nothing was changed", what, q.PVC, q.Target.UTC().Format(time.RFC3339), found[0].Name)
		}
		return pick, nil
	}
	return &found[len(found)-1], nil
}

// DumpRestore is the restore of a dump into a database of a cluster, with
// pg_restore (psql for a pg_dumpall file).
type DumpRestore struct {
	Cluster   string
	Namespace string
	// Image is the cluster's PostgreSQL image, PostgresVersion its major.
	Image           string
	PostgresVersion int
	Dump            *Dump
	Database        string
	// Options are pg_restore's, checked by ParseToolOptions.
	Options  []string
	Deadline time.Duration
}

// RestoreDatabase is the database a dump is restored into: the one asked
// for, else the dumped one (postgres for a pg_dumpall).
func RestoreDatabase(d *Dump, asked string) string {
	switch {
	case asked != "":
		return asked
	case d.All:
		return "postgres"
	}
	return d.Database
}

// CheckDumpRestore refuses a restore into a database that does not exist,
// or while a backup or restore of the cluster runs. Nothing is changed.
func CheckDumpRestore(ctx context.Context, client kubernetes.Interface, exec Exec, r DumpRestore, now time.Time) error {
	if v := r.Dump.PostgresVersion; v > r.PostgresVersion {
		return fmt.Errorf("dump %s is of PostgreSQL %d (cluster %s), and cluster %s runs PostgreSQL %d: a dump loads into the same or a newer major, not an older one. "+
			"Restore it into a cluster of PostgreSQL %d or newer (kubectl pgo create cluster NAME --postgres-version=%d). Nothing was changed",
			r.Dump.Name, v, r.Dump.Cluster, r.Cluster, r.PostgresVersion, v, v)
	}
	if err := CheckDatabase(ctx, exec, r.Namespace, r.Cluster, r.Database); err != nil {
		return fmt.Errorf("%w. Nothing was changed", err)
	}
	if err := jobs.CheckNoActive(ctx, client, r.Namespace, r.Cluster, jobs.RestoreConflicts, "a restore", now); err != nil {
		return fmt.Errorf("%w. Nothing was changed", err)
	}
	return nil
}

// StartDumpRestore creates the restore Job.
func StartDumpRestore(ctx context.Context, client kubernetes.Interface, r DumpRestore) (*batchv1.Job, error) {
	job := jobs.PGDumpRestoreJob{Cluster: r.Cluster, Namespace: r.Namespace, Image: r.Image, Database: r.Database, Path: r.Dump.Path,
		PVC: r.Dump.PVC, All: r.Dump.All, Options: r.Options, Deadline: r.Deadline}.Render()
	created, err := client.BatchV1().Jobs(r.Namespace).Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("create restore Job %s in namespace %s: %w", job.Name, r.Namespace, err)
	}
	return created, nil
}

// WaitDumpRestore follows the restore Job for at most timeout, its log
// and progress to errOut, and returns an error unless it succeeded.
func WaitDumpRestore(ctx context.Context, client kubernetes.Interface, job *batchv1.Job, timeout time.Duration, errOut io.Writer, interval time.Duration) error {
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := followDump(waitCtx, client, job, errOut, errOut, interval)
	if err != nil {
		return fmt.Errorf("could not follow restore job %s: %w", job.Name, err)
	}
	if !out.Succeeded {
		return DumpJobFailed("restore", job.Name, job.Namespace, out)
	}
	return nil
}
