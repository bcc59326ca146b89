package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// Dump is one dump (or base backup), as show backup --backup-type=pgdump
// lists it.
type Dump struct {
	// Cluster and Namespace are those of the cluster that was dumped.
	Cluster   string    `json:"cluster"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Time      time.Time `json:"time"`
	Database  string    `json:"database"`
	All       bool      `json:"dumpAll"`
	Size      *int64    `json:"size,omitempty"`
	PVC       string    `json:"pvc"`
	Path      string    `json:"path"`
	Job       string    `json:"job"`
	JobStatus string    `json:"jobStatus"`
	// PostgresVersion is the major of the dumped cluster; 0 when the
	// dump's Job does not say (made before it was recorded).
	PostgresVersion int `json:"postgresVersion,omitempty"`
}

// DumpList is what show backup --backup-type=pgdump -o json|yaml prints.
type DumpList struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Dumps     []Dump `json:"dumps"`
}

// DumpLists is what show backup --backup-type=pgdump -A|--selector -o
// json|yaml prints: one list per cluster.
type DumpLists struct {
	Items []DumpList `json:"items"`
}

// DumpFromJob is the dump that a Job made (or makes).
func DumpFromJob(j *batchv1.Job) Dump {
	ts := j.Labels[jobs.LabelPGDumpTimestamp]
	t, _ := time.Parse(jobs.PGDumpTimestampLayout, ts)
	if ts == "" {
		// A schedule's dump: its Job was created when it ran.
		t = j.CreationTimestamp.Time
		ts = t.UTC().Format(jobs.PGDumpTimestampLayout)
	}
	return Dump{
		Cluster: j.Labels[cluster.LabelCluster], Namespace: j.Namespace, Name: ts, Time: t.UTC(), Database: j.Annotations[jobs.AnnotationPGDumpDatabase],
		All: j.Annotations[jobs.AnnotationPGDumpAll] == "true", PVC: j.Labels[jobs.LabelPGDumpPVC],
		Path: jobs.DumpPath(j), Job: j.Name, JobStatus: jobs.State(j),
		PostgresVersion: atoiOrZero(j.Annotations[jobs.AnnotationPostgresVersion]),
	}
}

// ListDumps returns the dumps (or base backups) that selector picks,
// sorted by namespace, cluster and name, from the Jobs that made them
// (kept without TTL), in ns (every namespace if empty); with sizes, the
// size of a finished dump comes from the end of its pod's log.
func ListDumps(ctx context.Context, client kubernetes.Interface, ns, selector string, sizes bool) ([]Dump, error) {
	list, err := client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		return nil, fmt.Errorf("list the Jobs %s in %s: %w", selector, where, err)
	}
	var dumps []Dump
	for i := range list.Items {
		d := DumpFromJob(&list.Items[i])
		if d.JobStatus == jobs.StateRunning && jobPodSucceeded(ctx, client, d.Namespace, d.Job) {
			// The pod is done; the Job's Complete condition follows.
			d.JobStatus = jobs.StateSucceeded
		}
		if sizes && d.JobStatus == jobs.StateSucceeded {
			d.Size = jobLogSize(ctx, client, d.Namespace, d.Job)
		}
		dumps = append(dumps, d)
	}
	sort.SliceStable(dumps, func(i, j int) bool {
		if dumps[i].Namespace != dumps[j].Namespace {
			return dumps[i].Namespace < dumps[j].Namespace
		}
		if dumps[i].Cluster != dumps[j].Cluster {
			return dumps[i].Cluster < dumps[j].Cluster
		}
		if dumps[i].Name != dumps[j].Name {
			return dumps[i].Name < dumps[j].Name
		}
		return dumps[i].Job < dumps[j].Job
	})
	return dumps, nil
}

// jobPods are the pods of a Job; none when they cannot be listed.
func jobPods(ctx context.Context, client kubernetes.Interface, ns, job string) []corev1.Pod {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		return nil
	}
	return pods.Items
}

// jobPodSucceeded tells whether the Job's pod has ended with exit code 0.
func jobPodSucceeded(ctx context.Context, client kubernetes.Interface, ns, job string) bool {
	for _, p := range jobPods(ctx, client, ns, job) {
		for _, c := range p.Status.ContainerStatuses {
			if t := c.State.Terminated; c.Name == jobs.PGDumpContainer && t != nil && t.ExitCode == 0 {
				return true
			}
		}
	}
	return false
}

// jobLogSize is the size of the dump that the end of the Job's log says.
func jobLogSize(ctx context.Context, client kubernetes.Interface, ns, job string) *int64 {
	for _, p := range jobPods(ctx, client, ns, job) {
		tail := int64(5)
		raw, err := client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: jobs.PGDumpContainer, TailLines: &tail}).DoRaw(ctx)
		if err == nil {
			if s := sizeFromLog(string(raw)); s != nil {
				return s
			}
		}
	}
	return nil
}

// sizeFromLog reads the size that a dump Job logs last.
func sizeFromLog(log string) *int64 {
	for _, l := range slices.Backward(strings.Split(log, "\n")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), jobs.SizeMarker); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return &n
			}
		}
	}
	return nil
}

// atoiOrZero is the number in s, 0 when there is none.
func atoiOrZero(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
