// What show backup reports of a cluster: its repositories' backups and
// timelines (pgbackrest info), and its backup Jobs.

package inspect

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Target is a cluster to read.
type Target struct{ Name, Namespace string }

// ClusterBackups is one cluster in `show backup -o json|yaml`.
type ClusterBackups struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Repository is the stanza as pgbackrest info reports it; absent when
	// it could not be read (see Error).
	Repository *repo.Summary `json:"repository,omitempty"`
	// Jobs are the cluster's backup Jobs, oldest first.
	Jobs  []BackupJobInfo `json:"jobs"`
	Error string          `json:"error,omitempty"`
}

// BackupJobInfo is a backup Job.
type BackupJobInfo struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	State      string     `json:"state"`
	Created    time.Time  `json:"created"`
	Start      *time.Time `json:"start,omitempty"`
	Completion *time.Time `json:"completion,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// ClusterBackupsList is `show backup -A|--selector -o json|yaml`.
type ClusterBackupsList struct {
	Items []ClusterBackups `json:"items"`
}

// Repository runs pgbackrest info in the pod that runs pgBackRest's
// commands, and sums up the stanza of repoN (every repository when n is 0)
// with its timelines.
func Repository(ctx context.Context, exec Exec, namespace, pod string, n int) (repo.Summary, error) {
	var historyRepos []int // every one
	if n > 0 {
		historyRepos = []int{n}
	}
	execCtx, cancel := context.WithTimeout(ctx, ExecTimeout)
	defer cancel()
	// One exec reads the backups and the timelines' history files.
	stdout, _, err := exec(execCtx, namespace, pod, repoContainer, repo.InfoCommand([]string{"--stanza=" + repo.StanzaName}, n, historyRepos))
	if err != nil {
		return repo.Summary{}, kube.ExplainExec("run pgbackrest info in the repository pod", namespace, pod, err)
	}
	info, err := repo.ParseInfoOutput(stdout)
	if err != nil {
		return repo.Summary{}, err
	}
	stanza, err := FindStanza(info.Stanzas)
	if err != nil {
		return repo.Summary{}, err
	}
	sum := repo.Summarize(stanza)
	if stanza.Err() == nil {
		timelines, err := info.TimelinesOf(stanza)
		if err != nil {
			return repo.Summary{}, err
		}
		sum.AddTimelines(timelines)
	}
	return sum, nil
}

// RepoPods lists the pods that run pgBackRest's commands (the
// repository hosts, and the database pods of S3-only clusters) of every
// kubectl-pgo cluster in the targets' namespace, or in all namespaces.
func RepoPods(ctx context.Context, client kubernetes.Interface, targets []Target) (*corev1.PodList, error) {
	selector := labels.Set{cluster.LabelPGBackRestCommands: "true", cluster.LabelManagedBy: cluster.FieldManager}
	ns := targetsNamespace(targets)
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("cannot list the repository hosts' pods: %w", err)
	}
	return list, nil
}

// targetsNamespace is the namespace of every target, or "" (all) when
// they are in several.
func targetsNamespace(targets []Target) string {
	ns := targets[0].Namespace
	for _, t := range targets {
		if t.Namespace != ns {
			return ""
		}
	}
	return ns
}

// BackupJobs returns the backup Jobs of the targets, by target, oldest
// first: one request for the namespace, or for all namespaces.
func BackupJobs(ctx context.Context, client kubernetes.Interface, targets []Target) (map[Target][]BackupJobInfo, error) {
	ns := targetsNamespace(targets)
	selector := labels.Set{cluster.LabelComponent: jobs.ComponentBackup, cluster.LabelManagedBy: cluster.FieldManager}
	if len(targets) == 1 {
		selector = jobs.BackupSelector(targets[0].Name)
	}
	list, err := client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("cannot list the backup Jobs: %w", err)
	}
	items := list.Items
	kube.SortOldestFirst(items)
	byName := map[[2]string]Target{}
	for _, t := range targets {
		byName[[2]string{t.Namespace, t.Name}] = t
	}
	out := map[Target][]BackupJobInfo{}
	for i := range items {
		job := &items[i]
		t, ok := byName[[2]string{job.Namespace, job.Labels[cluster.LabelCluster]}]
		if !ok {
			continue
		}
		out[t] = append(out[t], backupJobInfo(job))
	}
	return out, nil
}

func backupJobInfo(job *batchv1.Job) BackupJobInfo {
	info := BackupJobInfo{
		Name:    job.Name,
		Type:    job.Labels[jobs.LabelPGBackRestType],
		State:   jobs.State(job),
		Created: job.CreationTimestamp.UTC(),
	}
	if t := job.Status.StartTime; t != nil {
		start := t.UTC()
		info.Start = &start
	}
	if t := job.Status.CompletionTime; t != nil {
		stop := t.UTC()
		info.Completion = &stop
	}
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			info.Reason = c.Reason
			stop := c.LastTransitionTime.UTC()
			info.Completion = &stop
		}
	}
	return info
}
