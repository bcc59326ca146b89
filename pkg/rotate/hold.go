package rotate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// AnnotationHeld on a schedule's CronJob says that a rotation suspended
// it, and which: the rotation resumes it at its end, and one that was
// interrupted leaves it, so that the next rotation of the cluster resumes
// it too.
const AnnotationHeld = "kubectl-pgo/held-by-rotation"

// waited are the Jobs a rotation waits for (when Request.WaitForJobs) rather
// than refuses: they end by themselves, and leave the cluster as they found
// it. A restore or an upgrade is always refused: it stops the database.
var waited = []string{jobs.ComponentBackup, jobs.ComponentPGDump, jobs.ComponentPGBaseBackup, jobs.ComponentPGDumpRestore}

// Hold is what a rotation holds back while it runs: the cluster's backup
// schedules, suspended so that no scheduled Job starts halfway (a backup
// would fail when the pods restart, a dump when the password changes),
// and the backup and dump Jobs already running, which it waits for.
type Hold struct {
	// Schedules are the CronJobs it suspends, then resumes: the running
	// ones, and those an interrupted rotation left suspended.
	Schedules []string `json:"schedules,omitempty"`
	// Running are the Jobs it waits for, as "kind Job name".
	Running []string `json:"running,omitempty"`
}

// steps says what the hold does, for the prompt and a dry run.
func (h Hold) steps() []string {
	var s []string
	if len(h.Schedules) > 0 {
		s = append(s, fmt.Sprintf("suspend the backup schedules %s until the rotation ends, then resume them (a run that falls due meanwhile starts then)",
			strings.Join(h.Schedules, ", ")))
	}
	if len(h.Running) > 0 {
		s = append(s, fmt.Sprintf("wait until %s ends (bounded by --timeout)", strings.Join(h.Running, ", ")))
	}
	return s
}

// heldSchedules are the cluster's schedules a rotation suspends and
// resumes (see Hold.Schedules).
func heldSchedules(ctx context.Context, c *apply.Clients, spec cluster.Spec) ([]string, error) {
	list, err := backup.ListSchedules(ctx, c, spec.Namespace, spec.Name, "", labels.Everything())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, cj := range list {
		if !suspended(&cj) || cj.Annotations[AnnotationHeld] != "" {
			names = append(names, cj.Name)
		}
	}
	return names, nil
}

// runningJobs are the cluster's Jobs the rotation waits for; one it does
// not wait for (see waited, and Request.WaitForJobs) is a
// *jobs.ConflictError.
func runningJobs(ctx context.Context, c *apply.Clients, req Request, what string) ([]string, error) {
	spec := req.Spec
	active, err := jobs.ActiveJobsOf(ctx, c.Client, spec.Namespace, spec.Name, jobs.RestoreConflicts)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, j := range active {
		if err := refuseJob(req, j, what, req.WaitForJobs); err != nil {
			return nil, err
		}
		names = append(names, j.Labels[cluster.LabelComponent]+" Job "+j.Name)
	}
	return names, nil
}

// refuseJob is the *jobs.ConflictError for a Job the rotation does not
// wait for.
func refuseJob(req Request, j batchv1.Job, what string, wait bool) error {
	if wait && slices.Contains(waited, j.Labels[cluster.LabelComponent]) {
		return nil
	}
	return &jobs.ConflictError{Cluster: req.Spec.Name, Namespace: req.Spec.Namespace, Job: j, Now: req.now(), Action: "a rotation of the " + what}
}

func suspended(cj *batchv1.CronJob) bool { return cj.Spec.Suspend != nil && *cj.Spec.Suspend }

// withHold runs rotation with the hold taken (take), and releases it when
// rotation returns, whatever the outcome.
func withHold[T any](ctx context.Context, c *apply.Clients, req Request, h Hold, what string, rotation func() (T, error)) (T, error) {
	release, err := h.take(ctx, c, req, what)
	if err != nil {
		var none T
		return none, err
	}
	defer release()
	return rotation()
}

// take suspends the schedules, waits until no Job of the cluster runs
// (new ones that are not waited for are refused), and checks again that
// the primary and the repository host are ready. The returned release
// resumes the schedules; call it when the rotation ends, whatever the
// outcome. With nothing to hold it does nothing.
func (h Hold) take(ctx context.Context, c *apply.Clients, req Request, what string) (release func(), err error) {
	spec, w := req.Spec, req.Progress
	release = func() {}
	if len(h.Schedules) == 0 && len(h.Running) == 0 {
		return release, nil
	}
	var held []string
	release = func() {
		ctx := context.WithoutCancel(ctx)
		for _, name := range held {
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}},"spec":{"suspend":false}}`, AnnotationHeld)
			if _, err := c.Client.BatchV1().CronJobs(spec.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: cluster.FieldManager}); err != nil {
				fmt.Fprintf(w, "warning: schedule %s could not be resumed (%v): it stays suspended; resume it with: kubectl patch cronjob %s -n %s -p '{\"spec\":{\"suspend\":false}}'\n",
					name, apply.APIError(c, err), name, spec.Namespace)
				continue
			}
			fmt.Fprintf(w, "schedule %s resumed\n", name)
		}
	}
	for _, name := range h.Schedules {
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}},"spec":{"suspend":true}}`, AnnotationHeld, what+" "+req.now().UTC().Format(time.RFC3339))
		if _, err := c.Client.BatchV1().CronJobs(spec.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: cluster.FieldManager}); err != nil {
			release()
			return func() {}, fmt.Errorf("cannot suspend backup schedule %s for the rotation: %w; nothing else was changed", name, apply.APIError(c, err))
		}
		held = append(held, name)
		fmt.Fprintf(w, "schedule %s suspended until the rotation ends\n", name)
	}
	// A schedule may have started a Job in the moment before it was
	// suspended: the Jobs are listed after.
	seen := map[string]bool{}
	var refused error
	err = waitUntil(ctx, req, time.Now().Add(req.Timeout), "the running Jobs of cluster "+spec.Name+" did not end", func(ctx context.Context) (bool, error) {
		active, err := jobs.ActiveJobsOf(ctx, c.Client, spec.Namespace, spec.Name, jobs.RestoreConflicts)
		if err != nil {
			return false, err
		}
		for _, j := range active {
			if refused = refuseJob(req, j, what, true); refused != nil {
				return true, nil
			}
			if !seen[j.Name] {
				seen[j.Name] = true
				fmt.Fprintf(w, "waiting for %s Job %s to end before rotating the %s\n", j.Labels[cluster.LabelComponent], j.Name, what)
			}
		}
		return len(active) == 0, nil
	})
	if err == nil {
		err = refused
	}
	if err == nil && len(seen) > 0 {
		err = checkReady(ctx, c, spec, what)
	}
	if err != nil {
		release()
		return func() {}, fmt.Errorf("%w; nothing was rotated", err)
	}
	return release, nil
}
