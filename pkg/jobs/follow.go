package jobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// maxLogKept bounds how much of the log Follow keeps for the Outcome: the
// end of it, where pgBackRest reports the label or the error.
const maxLogKept = 64 << 10

// FollowOptions tell Follow where to write.
type FollowOptions struct {
	// Container is the container whose log is streamed.
	Container string
	// Log receives the container's log, line by line, as it comes.
	Log io.Writer
	// Status receives what happens before and around the log: the pod
	// waiting to be scheduled, the image being pulled, a reconnection.
	Status func(msg string)
	// Interval is how often the Job and its pod are polled while no log
	// is streamed; one second when zero.
	Interval time.Duration
}

// Outcome is how a followed Job ended.
type Outcome struct {
	Job *batchv1.Job
	// Pod is the Job's (last) pod, when there was one.
	Pod string
	// Succeeded is the Job's Complete condition, or its container's exit
	// code 0 when that came first.
	Succeeded bool
	// Reason and Message are those of the Job's Failed condition
	// (BackoffLimitExceeded, DeadlineExceeded, ...).
	Reason, Message string
	// ExitCode is the container's exit code, and FinishedAt when, once it
	// terminated.
	ExitCode   *int32
	FinishedAt *time.Time
	// Log is the end of the container's log (up to 64 KiB): the streamed
	// log, or the termination message when nothing could be streamed.
	Log string
}

// Follow waits for a Job to finish, streaming the log of its pod to
// opts.Log as it goes, and reports how it ended. It returns an error only
// when it could not follow (the Job was deleted, ctx ended, the API
// failed); a Job that failed is an Outcome with Succeeded false.
func Follow(ctx context.Context, client kubernetes.Interface, namespace, name string, opts FollowOptions) (Outcome, error) {
	f := &follower{client: client, ns: namespace, name: name, opts: opts, streamed: map[string]bool{}}
	if f.opts.Interval <= 0 {
		f.opts.Interval = time.Second
	}
	if f.opts.Log == nil {
		f.opts.Log = io.Discard
	}
	if f.opts.Status == nil {
		f.opts.Status = func(string) {}
	}
	return f.run(ctx)
}

type follower struct {
	client     kubernetes.Interface
	ns, name   string
	opts       FollowOptions
	streamed   map[string]bool
	lastStatus string
	log        []byte
}

func (f *follower) status(msg string) {
	if msg != f.lastStatus {
		f.lastStatus = msg
		f.opts.Status(msg)
	}
}

func (f *follower) run(ctx context.Context) (Outcome, error) {
	jobs := f.client.BatchV1().Jobs(f.ns)
	for {
		job, err := jobs.Get(ctx, f.name, metav1.GetOptions{})
		if err != nil {
			return Outcome{}, fmt.Errorf("follow Job %s/%s: %w", f.ns, f.name, err)
		}
		pod, err := f.newestPod(ctx)
		if err != nil {
			return Outcome{}, err
		}
		if Finished(job) || succeeded(pod, f.opts.Container) {
			// Print what was not streamed yet, e.g. the log of a pod that
			// ran between two polls.
			if pod != nil && !f.streamed[pod.Name] && containerStarted(pod, f.opts.Container) {
				f.streamed[pod.Name] = true
				if err := f.stream(ctx, pod.Name); err != nil {
					f.status(fmt.Sprintf("could not read the log of pod %s: %v", pod.Name, err))
				}
			}
			return f.outcome(job, pod), nil
		}
		if lost := f.nodeLost(ctx, pod); lost != "" {
			o := f.outcome(job, pod)
			o.Reason, o.Message = ReasonNodeNotReady, lost
			return o, nil
		}
		switch {
		case pod == nil && State(job) == StateSuspended:
			f.status(fmt.Sprintf("Job %s is suspended", f.name))
		case pod == nil:
			f.status(fmt.Sprintf("waiting for the pod of Job %s", f.name))
		case !f.streamed[pod.Name] && containerStarted(pod, f.opts.Container):
			f.streamed[pod.Name] = true
			if err := f.stream(ctx, pod.Name); err != nil {
				if ctx.Err() != nil {
					return Outcome{}, ctx.Err()
				}
				f.status(fmt.Sprintf("stopped following the log of pod %s: %v; waiting for the Job to finish", pod.Name, err))
			}
			continue // the container has ended: look at the Job again now
		case !f.streamed[pod.Name]:
			f.status(podWaiting(pod, f.opts.Container))
		}
		select {
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		case <-time.After(f.opts.Interval):
		}
	}
}

// ReasonNodeNotReady is the Outcome's Reason when the node of the Job's pod stopped answering
// before the pod finished: what ran there cannot finish, and its pod is not replaced until the
// node returns (or the node controller evicts it, minutes later).
const ReasonNodeNotReady = "NodeNotReady"

// nodeLost says, when the node of a running pod is not Ready, which node and since when; ""
// while it is Ready, before the pod is scheduled, or when the nodes cannot be read (a user may
// not be allowed to; then Follow waits as before).
func (f *follower) nodeLost(ctx context.Context, pod *corev1.Pod) string {
	if pod == nil || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ""
	}
	node, err := f.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if msg := kube.NodeNotReady(node); msg != "" {
		return msg + fmt.Sprintf("; pod %s cannot finish there, and its Job ends as failed once the node is back", pod.Name)
	}
	return ""
}

// newestPod returns the Job's most recent pod, or nil.
func (f *follower) newestPod(ctx context.Context) (*corev1.Pod, error) {
	list, err := f.client.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + f.name})
	if err != nil {
		return nil, fmt.Errorf("list the pods of Job %s/%s: %w", f.ns, f.name, err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	pods := list.Items
	kube.SortOldestFirst(pods)
	return &pods[len(pods)-1], nil
}

// stream copies the container's log to opts.Log until it ends. A broken
// stream is resumed where it stopped, from the timestamps of the lines.
func (f *follower) stream(ctx context.Context, pod string) error {
	var last time.Time
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			f.status(fmt.Sprintf("the log stream of pod %s broke (%v); reconnecting", pod, err))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		logOpts := &corev1.PodLogOptions{Container: f.opts.Container, Follow: true, Timestamps: true}
		if !last.IsZero() {
			logOpts.SinceTime = &metav1.Time{Time: last.Truncate(time.Second)}
		}
		var rc io.ReadCloser
		rc, err = f.client.CoreV1().Pods(f.ns).GetLogs(pod, logOpts).Stream(ctx)
		if err != nil {
			continue
		}
		err = f.copyLines(rc, &last)
		rc.Close()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}

// copyLines writes each line without its timestamp, skipping the lines at
// or before last (a resumed stream starts at the second of the last line).
func (f *follower) copyLines(r io.Reader, last *time.Time) error {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		ts, text, ok := strings.Cut(line, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			text = line // not timestamped (e.g. a fake client)
		} else {
			if !last.IsZero() && !t.After(*last) {
				continue
			}
			*last = t
		}
		if _, err := io.WriteString(f.opts.Log, text+"\n"); err != nil {
			return err
		}
		f.keep(text + "\n")
	}
	if err := scanner.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (f *follower) keep(s string) {
	f.log = append(f.log, s...)
	if len(f.log) > maxLogKept {
		f.log = f.log[len(f.log)-maxLogKept:]
	}
}

func (f *follower) outcome(job *batchv1.Job, pod *corev1.Pod) Outcome {
	o := Outcome{Job: job, Log: string(f.log)}
	if c := finishedCondition(job); c != nil {
		o.Succeeded = c.Type == batchv1.JobComplete
		if !o.Succeeded {
			o.Reason, o.Message = c.Reason, c.Message
		}
	} else {
		o.Succeeded = succeeded(pod, f.opts.Container)
	}
	if pod != nil {
		o.Pod = pod.Name
		if t := terminated(pod, f.opts.Container); t != nil {
			code := t.ExitCode
			o.ExitCode = &code
			if !t.FinishedAt.IsZero() {
				at := t.FinishedAt.UTC()
				o.FinishedAt = &at
			}
			if o.Log == "" {
				o.Log = t.Message
			}
		}
	}
	return o
}

func containerStatus(pod *corev1.Pod, container string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == container {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// succeeded tells whether the container of a Job's pod exited 0. Follow
// stops there rather than at the Job's Complete condition, which comes
// seconds later (the kubelet reports the pod's phase only once the pod's
// sandbox is torn down, and the Job controller counts phases). A backup
// Job has one pod and no retries (backoffLimit 0), so the Job cannot end
// otherwise. A failure waits for the Job's Failed condition and its
// reason.
func succeeded(pod *corev1.Pod, container string) bool {
	if pod == nil {
		return false
	}
	s := containerStatus(pod, container)
	return s != nil && s.State.Terminated != nil && s.State.Terminated.ExitCode == 0
}

// containerStarted tells whether the container runs or ran: its log can
// be read.
func containerStarted(pod *corev1.Pod, container string) bool {
	if s := containerStatus(pod, container); s != nil && (s.State.Running != nil || s.State.Terminated != nil) {
		return true
	}
	// The phase can be ahead of the container statuses.
	return pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func terminated(pod *corev1.Pod, container string) *corev1.ContainerStateTerminated {
	if s := containerStatus(pod, container); s != nil {
		if s.State.Terminated != nil {
			return s.State.Terminated
		}
		return s.LastTerminationState.Terminated
	}
	return nil
}

// podWaiting says why a pod has not started its container yet.
func podWaiting(pod *corev1.Pod, container string) string {
	msg := fmt.Sprintf("pod %s is %s", pod.Name, pod.Status.Phase)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			return msg + ", not scheduled yet: " + c.Message
		}
	}
	if s := containerStatus(pod, container); s != nil && s.State.Waiting != nil {
		msg += " (" + s.State.Waiting.Reason
		if s.State.Waiting.Message != "" {
			msg += ": " + s.State.Waiting.Message
		}
		msg += ")"
	}
	return msg
}
