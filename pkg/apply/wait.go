package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// DefaultWaitTimeout is how long --wait waits by default.
const DefaultWaitTimeout = 5 * time.Minute

// WaitStep is one thing --wait waits for. Check returns whether it is
// done, and a line saying where it stands (or what was reached).
type WaitStep struct {
	What  string
	Check func(ctx context.Context) (done bool, status string, err error)
	// Hint says where to look when the step times out.
	Hint string
}

// DatabaseStep waits for the database pod of the current template to be
// ready.
func DatabaseStep(c *Clients, ns, name, what string) WaitStep {
	return WaitStep{
		What:  what,
		Check: func(ctx context.Context) (bool, string, error) { return DatabaseReady(ctx, c, ns, name) },
		Hint:  fmt.Sprintf("kubectl -n %s describe pod %s; kubectl -n %s logs %s -c database", ns, cluster.PodName(name), ns, cluster.PodName(name)),
	}
}

// RepoHostStep waits for the repository host's pod of the current
// template to be ready.
func RepoHostStep(c *Clients, ns, name, what string) WaitStep {
	return WaitStep{
		What:  what,
		Check: func(ctx context.Context) (bool, string, error) { return RepoHostReady(ctx, c, ns, name) },
		Hint:  RepoHostHint(ns, name),
	}
}

func RepoHostHint(ns, name string) string {
	return fmt.Sprintf("kubectl -n %s describe pod -l %s; kubectl -n %s logs deployment/%s", ns, cluster.RepoSelector(name), ns, cluster.RepoHostName(name))
}

// RunWaitSteps waits for each step in turn until deadline, printing a line
// when a step's status changes. done says what was already done, for the
// timeout error.
func RunWaitSteps(ctx context.Context, w io.Writer, poll time.Duration, deadline time.Time, steps []WaitStep, done string) error {
	timeout := time.Until(deadline).Round(time.Second)
	for _, step := range steps {
		last := ""
		var status string
		err := kube.WaitFor(ctx, poll, time.Until(deadline), func(ctx context.Context) (bool, error) {
			done, s, err := step.Check(ctx)
			if err != nil {
				return false, err
			}
			status = s
			if done {
				fmt.Fprintln(w, s)
				return true, nil
			}
			if s != last {
				fmt.Fprintf(w, "Waiting for %s: %s\n", step.What, s)
				last = s
			}
			return false, nil
		})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
				return fmt.Errorf("timed out after %s waiting for %s: %s\n%s; to see why it is not ready: %s",
					timeout, step.What, status, done, step.Hint)
			}
			var refused *StopError
			if errors.As(err, &refused) {
				return err
			}
			return fmt.Errorf("waiting for %s: %w", step.What, err)
		}
	}
	return nil
}

// StopError is an error of a step's Check that ends the wait and is
// returned as it is, without "waiting for ...": e.g. an S3 repository
// that refused pgBackRest for good.
type StopError struct{ Msg string }

func (e *StopError) Error() string { return e.Msg }

// WaitAPIError stops a wait on an error that polling will not fix
// (forbidden, unauthorized); other errors are reported as the status and
// polled again.
func WaitAPIError(err error) error {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return err
	}
	return nil
}

// WaitStatus is what a step's Check returns on err: the end of the wait
// on an error that polling will not fix (WaitAPIError), else err as the
// status, polled again.
func WaitStatus(err error) (bool, string, error) {
	if e := WaitAPIError(err); e != nil {
		return false, "", e
	}
	return false, err.Error(), nil
}

// replicasOf is a workload's replicas: 1 when not set.
func replicasOf(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// DatabaseReady: the StatefulSet has rolled out its current template and
// its pod is ready.
func DatabaseReady(ctx context.Context, c *Clients, ns, name string) (bool, string, error) {
	sts, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
	if err != nil {
		return WaitStatus(err)
	}
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, cluster.PodName(name), metav1.GetOptions{})
	podStatus := ""
	switch {
	case err == nil:
		podStatus = PodProgress(pod)
	case apierrors.IsNotFound(err):
		podStatus = fmt.Sprintf("pod %s not created yet", cluster.PodName(name))
	default:
		if e := WaitAPIError(err); e != nil {
			return false, "", e
		}
		podStatus = err.Error()
	}
	s := sts.Status
	replicas := replicasOf(sts.Spec.Replicas)
	switch {
	case s.ObservedGeneration < sts.Generation:
		return false, "the StatefulSet controller has not seen the new template yet", nil
	case s.UpdatedReplicas < replicas || (s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision):
		return false, fmt.Sprintf("%d of %d pods updated; %s", s.UpdatedReplicas, replicas, podStatus), nil
	case s.ReadyReplicas < replicas || err != nil || !kube.IsPodReady(pod):
		return false, podStatus, nil
	}
	return true, fmt.Sprintf("database pod %s ready", pod.Name), nil
}

// RepoHostReady: the Deployment has rolled out and its one pod is ready,
// which its readiness probe allows only once the stanza exists.
func RepoHostReady(ctx context.Context, c *Clients, ns, name string) (bool, string, error) {
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(name), metav1.GetOptions{})
	if err != nil {
		return WaitStatus(err)
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(name).String()})
	if err != nil {
		return WaitStatus(err)
	}
	var podStates []string
	var ready *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		podStates = append(podStates, PodProgress(p))
		if p.DeletionTimestamp == nil && kube.IsPodReady(p) {
			ready = p
		}
	}
	slices.Sort(podStates)
	podStatus := strings.Join(podStates, "; ")
	if podStatus == "" {
		podStatus = "no pod yet"
	}
	s := d.Status
	replicas := replicasOf(d.Spec.Replicas)
	switch {
	case s.ObservedGeneration < d.Generation:
		return false, "the Deployment controller has not seen the new template yet", nil
	case s.UpdatedReplicas < replicas || s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d pods updated; %s", s.UpdatedReplicas, replicas, podStatus), nil
	case s.ReadyReplicas < replicas || ready == nil:
		return false, podStatus + " (ready once the stanza exists)", nil
	}
	return true, fmt.Sprintf("repository host pod %s ready", ready.Name), nil
}

// PodProgress says where a pod stands: "pod hippo-0 Running, 1 of 2
// containers ready (pgbackrest: not ready)".
func PodProgress(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return fmt.Sprintf("pod %s terminating", p.Name)
	}
	ready := 0
	var notes []string
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.Ready:
			ready++
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			note := cs.Name + ": " + cs.State.Waiting.Reason
			if cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Message != "" {
				note += " (" + cs.State.Waiting.Message + ")"
			}
			notes = append(notes, note)
		case cs.State.Terminated != nil:
			notes = append(notes, fmt.Sprintf("%s: exited with %d", cs.Name, cs.State.Terminated.ExitCode))
		default:
			notes = append(notes, cs.Name+": not ready")
		}
	}
	total := len(p.Spec.Containers)
	s := fmt.Sprintf("pod %s %s, %d of %d containers ready", p.Name, orUnknown(string(p.Status.Phase)), ready, total)
	if p.Status.Phase == corev1.PodPending {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Message != "" {
				notes = append(notes, "unschedulable: "+cond.Message)
			}
		}
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	return s
}
