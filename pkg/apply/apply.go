package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// Values of --dry-run.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// DefaultWaitTimeout is how long --wait waits by default.
const DefaultWaitTimeout = 5 * time.Minute

// Clients are what a command needs to talk to the API server.
type Clients struct {
	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
}

// ExecFunc runs a command in a container of a pod and returns its
// output: kube.Exec with the clients bound, or a fake in tests.
type ExecFunc func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// CheckNamespace fails clearly when the namespace does not exist. A user
// who may not read namespaces is let through: the requests that follow
// say what is wrong, if anything.
func CheckNamespace(ctx context.Context, c *Clients, ns string) error {
	_, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil, apierrors.IsForbidden(err):
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q does not exist: create it (kubectl create namespace %s) or choose another with -n", ns, ns)
	default:
		return APIError(c, err)
	}
}

// APIError says whether the API server was reached at all: a status error
// is its answer, anything else a failure to reach it.
func APIError(c *Clients, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	hint := ""
	if strings.TrimSuffix(c.Config.Host, "/") == "http://localhost:8080" {
		// client-go's default when no kubeconfig was found at all.
		hint = " (no kubeconfig was found: set --kubeconfig or KUBECONFIG, or create ~/.kube/config)"
	}
	return fmt.Errorf("cannot reach the Kubernetes API server at %s%s: %w", c.Config.Host, hint, err)
}

// Permission is one thing a command needs to be allowed to do.
type Permission struct {
	Verb, Group, Resource, Subresource string
}

func (p Permission) String() string {
	r := p.Resource
	if p.Group != "" {
		r += "." + p.Group
	}
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	return p.Verb + " " + r
}

// CheckPermissions asks the API server (SelfSubjectAccessReview) whether
// the user may do all of perms in the namespace, and lists what is
// missing. It is a courtesy: it turns a create that would fail halfway
// into one that fails before the first change. When the review itself
// cannot be made, the check is skipped and the requests speak for
// themselves.
func CheckPermissions(ctx context.Context, c *Clients, ns, doing string, perms []Permission) error {
	var mu sync.Mutex
	var denied []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, p := range perms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource,
				},
			}}
			res, err := c.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil || res.Status.Allowed || res.Status.EvaluationError != "" {
				return
			}
			mu.Lock()
			denied = append(denied, p.String())
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(denied) == 0 {
		return nil
	}
	slices.Sort(denied)
	return fmt.Errorf("forbidden: you may not %s in namespace %q; missing permissions: %s (check with kubectl auth can-i --list -n %s, and ask your cluster administrator for a Role that allows them)",
		doing, ns, strings.Join(denied, ", "), ns)
}

// ObjectRef names an object the way kubectl's messages do:
// "statefulset.apps/hippo".
func ObjectRef(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	return kindRef(gvk.GroupKind()) + "/" + obj.GetName()
}

func kindRef(gk schema.GroupKind) string {
	s := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		s += "." + gk.Group
	}
	return s
}

// DescribeObject names an object for an error: "Service pg/hippo".
func DescribeObject(obj *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

// RenderedResources are the kinds of object cluster.Render makes (a
// unit test keeps the list in step).
var RenderedResources = []schema.GroupResource{
	{Resource: "secrets"},
	{Resource: "configmaps"},
	{Resource: "persistentvolumeclaims"},
	{Resource: "services"},
	{Group: "apps", Resource: "statefulsets"},
	{Group: "apps", Resource: "deployments"},
}

// CurrentObjects reads the current state of each object (nil where it does
// not exist), and refuses objects that are not the cluster's.
func CurrentObjects(ctx context.Context, c *Clients, name string, objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	before := make([]*unstructured.Unstructured, len(objects))
	for i, obj := range objects {
		cur, err := GetObject(ctx, c, obj)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			if err := cluster.CheckOwnership(name, DescribeObject(obj), cur.GetLabels()); err != nil {
				return nil, err
			}
		}
		before[i] = cur
	}
	return before, nil
}

// ObjectChanged compares an object before and after an apply. A real
// apply changes the resourceVersion only when it writes; a dry run leaves
// it, so the objects are compared instead.
func ObjectChanged(before, after *unstructured.Unstructured, dryRun bool) bool {
	if !dryRun {
		return before.GetResourceVersion() != after.GetResourceVersion()
	}
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetManagedFields(nil)
		c.SetResourceVersion("")
		c.SetGeneration(0)
		unstructured.RemoveNestedField(c.Object, "status")
		return c.Object
	}
	return !equality.Semantic.DeepEqual(strip(before), strip(after))
}

// GetObject reads the current state of obj, or nil if it does not exist.
func GetObject(ctx context.Context, c *Clients, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the server does not know %s: %w", gvk, APIError(c, err))
	}
	cur, err := c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", DescribeObject(obj), APIError(c, err))
	}
	return cur, nil
}

// PrintObjects prints objects as YAML documents or as a JSON List,
// without their managedFields, as kubectl does; either can be fed to
// kubectl apply -f.
func PrintObjects(w io.Writer, format string, objects []*unstructured.Unstructured) error {
	items := make([]any, len(objects))
	for i, obj := range objects {
		c := obj.DeepCopy()
		c.SetManagedFields(nil)
		items[i] = c.Object
	}
	if format == string(printers.FormatJSON) {
		return printers.PrintJSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for _, item := range items {
		if _, err := io.WriteString(w, "---\n"); err != nil {
			return err
		}
		if err := printers.PrintYAML(w, item); err != nil {
			return err
		}
	}
	return nil
}

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

// DatabaseReady: the StatefulSet of the cluster's first instance has
// rolled out its current template and its pod is ready.
func DatabaseReady(ctx context.Context, c *Clients, ns, name string) (bool, string, error) {
	return InstanceReady(ctx, c, ns, cluster.StatefulSetName(name))
}

// InstanceStep waits for the pod of an instance (cluster.InstanceName) of
// the current template to be ready.
func InstanceStep(c *Clients, ns, instance, what string) WaitStep {
	pod := cluster.InstancePodName(instance)
	return WaitStep{
		What:  what,
		Check: func(ctx context.Context) (bool, string, error) { return InstanceReady(ctx, c, ns, instance) },
		Hint:  fmt.Sprintf("kubectl -n %s describe pod %s; kubectl -n %s logs %s -c database", ns, pod, ns, pod),
	}
}

// InstanceReady: the StatefulSet of an instance has rolled out its current
// template and its pod is ready.
func InstanceReady(ctx context.Context, c *Clients, ns, instance string) (bool, string, error) {
	sts, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, instance, metav1.GetOptions{})
	if err != nil {
		return WaitStatus(err)
	}
	podName := cluster.InstancePodName(instance)
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	podStatus := ""
	switch {
	case err == nil:
		podStatus = PodProgress(pod)
	case apierrors.IsNotFound(err):
		podStatus = fmt.Sprintf("pod %s not created yet", podName)
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
