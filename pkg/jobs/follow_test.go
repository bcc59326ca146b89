package jobs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

func jobPod(job string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: job + "-xyz12", Namespace: "pgo", Labels: map[string]string{batchv1.JobNameLabel: job},
	}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func exited(code int32, message string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodFailed
		if code == 0 {
			p.Status.Phase = corev1.PodSucceeded
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pgbackrest", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: message},
		}}}
	}
}

func unschedulable(p *corev1.Pod) {
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
		Message: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules."}}
}

func followOpts(log *bytes.Buffer, status *[]string) FollowOptions {
	return FollowOptions{Container: "pgbackrest", Log: log, Status: func(m string) { *status = append(*status, m) }, Interval: time.Millisecond}
}

func TestFollowFailedJob(t *testing.T) {
	job := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0, finished(batchv1.JobFailed))
	pod := jobPod(job.Name, exited(56, "ERROR: [056]: unable to find primary cluster - cannot proceed\n"))
	client := fake.NewClientset(job, pod)
	var log bytes.Buffer
	var status []string
	out, err := Follow(context.Background(), client, "pgo", job.Name, followOpts(&log, &status))
	if err != nil {
		t.Fatal(err)
	}
	if out.Succeeded || out.Reason != "BackoffLimitExceeded" || out.ExitCode == nil || *out.ExitCode != 56 || out.Pod != pod.Name {
		t.Errorf("outcome = %+v", out)
	}
	// The fake clientset's log is "fake logs": streamed, and kept.
	if log.String() != "fake logs\n" || out.Log != "fake logs\n" {
		t.Errorf("log %q, outcome log %q", log.String(), out.Log)
	}
}

func TestFollowWaitsForTheJob(t *testing.T) {
	running := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0)
	done := running.DeepCopy()
	finished(batchv1.JobComplete)(done)
	client := fake.NewClientset(running, jobPod(running.Name, unschedulable))
	gets := 0
	client.PrependReactor("get", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if gets < 3 {
			return true, running, nil
		}
		return true, done, nil
	})
	var log bytes.Buffer
	var status []string
	out, err := Follow(context.Background(), client, "pgo", running.Name, followOpts(&log, &status))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Succeeded || out.ExitCode != nil {
		t.Errorf("outcome = %+v", out)
	}
	// Said once, not at every poll.
	if len(status) != 1 || !strings.Contains(status[0], "not scheduled yet: 0/1 nodes are available: 1 node(s) didn't match pod affinity rules.") {
		t.Errorf("status = %q", status)
	}
}

func TestFollowJobGone(t *testing.T) {
	_, err := Follow(context.Background(), fake.NewClientset(), "pgo", "nope", FollowOptions{Container: "pgbackrest"})
	if err == nil || !strings.Contains(err.Error(), "follow Job pgo/nope") {
		t.Errorf("error = %v", err)
	}
}

func TestFollowCancelled(t *testing.T) {
	running := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := Follow(ctx, fake.NewClientset(running), "pgo", running.Name, FollowOptions{Container: "pgbackrest", Interval: time.Millisecond})
	if err == nil {
		t.Error("Follow returned without an error when its context ended")
	}
}

func TestCopyLinesResumes(t *testing.T) {
	var log bytes.Buffer
	f := &follower{opts: FollowOptions{Log: &log}}
	var last time.Time
	first := "2026-11-26T07:38:48.840000000Z line one\n2026-11-26T07:38:49.100000000Z line two\n"
	if err := f.copyLines(strings.NewReader(first), &last); err != nil {
		t.Fatal(err)
	}
	// A resumed stream starts at the second of the last line.
	again := "2026-11-26T07:38:49.100000000Z line two\n2026-11-26T07:38:49.5Z line three\n"
	if err := f.copyLines(strings.NewReader(again), &last); err != nil {
		t.Fatal(err)
	}
	if log.String() != "line one\nline two\nline three\n" {
		t.Errorf("log = %q", log.String())
	}
}

// A container that exited 0 ends the wait before the Job's Complete
// condition; a failure waits for the Job's reason.
func TestFollowStopsAtTheContainersSuccess(t *testing.T) {
	running := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0)
	client := fake.NewClientset(running, jobPod(running.Name, exited(0, "")))
	var log bytes.Buffer
	var status []string
	out, err := Follow(context.Background(), client, "pgo", running.Name, followOpts(&log, &status))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Succeeded || out.ExitCode == nil || *out.ExitCode != 0 || out.Reason != "" {
		t.Errorf("outcome = %+v", out)
	}

	failedPod := jobPod(running.Name, exited(56, ""))
	client = fake.NewClientset(running, failedPod)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Follow(ctx, client, "pgo", running.Name, followOpts(&log, &status)); err == nil {
		t.Error("a failed container ended the wait before the Job failed")
	}
}

// The node of a running backup pod stops answering: Follow ends with NodeNotReady and names the
// node, instead of waiting for a pod that cannot finish.
func TestFollowNodeLost(t *testing.T) {
	job := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0)
	pod := jobPod(job.Name, func(p *corev1.Pod) {
		p.Spec.NodeName = "kpgo-node-3"
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pgbackrest", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	})
	since := metav1.NewTime(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC))
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kpgo-node-3"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionUnknown, LastTransitionTime: since, Message: "Kubelet stopped posting node status.",
	}}}}
	client := fake.NewClientset(job, pod, node)
	var log bytes.Buffer
	var status []string
	out, err := Follow(context.Background(), client, "pgo", job.Name, followOpts(&log, &status))
	if err != nil {
		t.Fatal(err)
	}
	want := "node kpgo-node-3 is not ready (Ready=Unknown since 2026-12-04T08:00:00Z: Kubelet stopped posting node status.); " +
		"pod hippo-backup-full-aaaaa-xyz12 cannot finish there, and its Job ends as failed once the node is back"
	if out.Succeeded || out.Reason != ReasonNodeNotReady || out.Message != want || out.Pod != pod.Name {
		t.Errorf("outcome = %+v\nwant message %q", out, want)
	}

	// A Ready node, or one that cannot be read, changes nothing: the Job's end is awaited.
	ready := node.DeepCopy()
	ready.Status.Conditions[0].Status = corev1.ConditionTrue
	if msg := kube.NodeNotReady(ready); msg != "" {
		t.Errorf("a Ready node: %q", msg)
	}
	f := &follower{client: fake.NewClientset(), ns: "pgo", name: job.Name}
	if msg := f.nodeLost(context.Background(), pod); msg != "" {
		t.Errorf("a node that cannot be read: %q", msg)
	}
}
