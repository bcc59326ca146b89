package rotate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// Request is what every rotation needs besides the clients.
type Request struct {
	// Spec is the cluster's stored settings.
	Spec cluster.Spec
	Exec apply.ExecFunc
	// Progress takes a line per step.
	Progress io.Writer
	// Poll and Timeout bound each wait: for the pods' mounted files, the
	// reloads, the probe and the restarts.
	Poll, Timeout time.Duration
	Now           func() time.Time
	// WaitForJobs waits for a backup or dump Job of the cluster to end
	// before rotating; without it such a Job refuses the rotation.
	WaitForJobs bool
}

func (r Request) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r Request) poll() time.Duration {
	if r.Poll <= 0 {
		return 2 * time.Second
	}
	return r.Poll
}

// AnnotationRotated on a pod is the time kubectl pgo rotate last changed
// a Secret the pod mounts, and what: patching it makes the kubelet sync
// the pod at once, so the mounted copies change in seconds rather than
// at its next periodic sync.
const AnnotationRotated = "kubectl-pgo/rotated"

// Check says what a rotation holds back (Hold), and refuses it before
// anything changes while the primary or the repository host is not ready
// (the rotation's last step is pgbackrest check, which needs both, and a
// pod that restarts in the middle would load half of the change), or while
// a restore or an upgrade Job runs. A backup or dump Job that runs is
// waited for (Hold.Running) when req.WaitForJobs, and refused otherwise.
// The cluster's backup schedules are suspended for the rotation
// (Hold.Schedules). Without checkRunning (a client dry run) it lists the
// schedules only, and reads no Jobs nor pods.
//
// Before that it asks whether the user may do what every rotation does
// (patch Secrets and pods, exec; patch CronJobs when there are
// schedules) and what this one does besides (extra), so that a rotation
// is not forbidden halfway.
func Check(ctx context.Context, c *apply.Clients, req Request, what string, checkRunning bool, extra ...apply.Permission) (Hold, error) {
	spec := req.Spec
	var h Hold
	schedules, err := heldSchedules(ctx, c, spec)
	if err != nil {
		return h, err
	}
	h.Schedules = schedules
	if !checkRunning {
		return h, nil
	}
	perms := append([]apply.Permission{
		{Verb: "patch", Resource: "secrets"}, {Verb: "patch", Resource: "pods"},
		{Verb: "create", Resource: "pods", Subresource: "exec"},
	}, extra...)
	if len(schedules) > 0 {
		perms = append(perms, apply.Permission{Verb: "patch", Resource: "cronjobs", Group: "batch"})
	}
	if err := apply.CheckPermissions(ctx, c, spec.Namespace, fmt.Sprintf("rotate the %s of cluster %q", what, spec.Name), perms); err != nil {
		return h, fmt.Errorf("%w; nothing was changed", err)
	}
	if h.Running, err = runningJobs(ctx, c, req, what); err != nil {
		return h, fmt.Errorf("%w. Nothing was changed", err)
	}
	return h, checkReady(ctx, c, spec, what)
}

// checkReady refuses while the primary or the repository host is not
// ready.
func checkReady(ctx context.Context, c *apply.Clients, spec cluster.Spec, what string) error {
	name, ns := spec.Name, spec.Namespace
	ready, status, err := apply.InstanceReady(ctx, c, ns, spec.PrimaryInstance())
	if err != nil {
		return err
	}
	if !ready {
		return fmt.Errorf("the primary of cluster %q is not ready (%s): the %s of a cluster whose database is down cannot be rotated; nothing was changed. Run this again once kubectl pgo show cluster %s -n %s shows it ready",
			name, status, what, name, ns)
	}
	if spec.HasLocalRepo() {
		ready, status, err := apply.RepoHostReady(ctx, c, ns, name)
		if err != nil {
			return err
		}
		if !ready {
			return fmt.Errorf("the repository host of cluster %q is not ready (%s): WAL archiving cannot be checked after a rotation of the %s, so it is refused; nothing was changed. Run this again once kubectl pgo show cluster %s -n %s shows it ready",
				name, status, what, name, ns)
		}
	}
	return nil
}

// mark patches AnnotationRotated on the pods (see there); a pod that is
// gone is passed over.
func mark(ctx context.Context, c *apply.Clients, ns string, pods []string, what string, now time.Time) {
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, AnnotationRotated, what+" "+now.UTC().Format(time.RFC3339))
	for _, p := range pods {
		_, _ = c.Client.CoreV1().Pods(ns).Patch(ctx, p, "application/merge-patch+json", patch, metav1.PatchOptions{FieldManager: cluster.FieldManager})
	}
}

// databasePods are the pods of every instance, primary first.
func databasePods(spec cluster.Spec) []string {
	pods := []string{spec.PrimaryPod()}
	for _, n := range spec.ReplicaInstances() {
		pods = append(pods, cluster.InstancePodName(n))
	}
	return pods
}

// waitUntil polls done until it holds or the deadline passes; the error
// names what did not happen, and the last error done returned.
func waitUntil(ctx context.Context, req Request, deadline time.Time, what string, done func(ctx context.Context) (bool, error)) error {
	var last error
	err := kube.WaitFor(ctx, req.poll(), time.Until(deadline), func(ctx context.Context) (bool, error) {
		ok, err := done(ctx)
		last = err
		return ok, nil
	})
	switch {
	case err == nil:
		return nil
	case last != nil:
		return fmt.Errorf("%s: %w (last: %v)", what, err, last)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// writeFirst is writeSecret for a rotation's first change, what it
// writes: its error says that nothing was changed, and to run the rotation
// again when the Secret changed since it was read.
func writeFirst(ctx context.Context, c *apply.Clients, s *corev1.Secret, what string) (*corev1.Secret, error) {
	written, err := writeSecret(ctx, c, s)
	switch {
	case apierrors.IsConflict(err):
		return nil, fmt.Errorf("secret %s/%s changed since it was read; nothing was changed: run this again", s.Namespace, s.Name)
	case err != nil:
		return nil, fmt.Errorf("cannot write %s into Secret %s/%s: %w; nothing was changed", what, s.Namespace, s.Name, apply.APIError(c, err))
	}
	return written, nil
}

// writeSecret writes the data of s with a merge patch guarded by the
// resourceVersion s was read at (the API server refuses it with a
// conflict when the Secret changed since): the verb patch, which the
// ClusterRole kubectl-pgo-user grants. Keys are set, none removed.
func writeSecret(ctx context.Context, c *apply.Clients, s *corev1.Secret) (*corev1.Secret, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": s.ResourceVersion}, "data": s.Data})
	if err != nil {
		return nil, err
	}
	return c.Client.CoreV1().Secrets(s.Namespace).Patch(ctx, s.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: cluster.FieldManager})
}
