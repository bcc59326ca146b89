package lifecycle

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// Object is one object of a cluster found for deletion.
type Object struct {
	Resource schema.GroupVersionResource
	Obj      *unstructured.Unstructured
}

// Ref names the object as kubectl does: "statefulset.apps/hippo".
func (o Object) Ref() string { return apply.ObjectRef(o.Obj) }

// Refs names the objects, separated by commas.
func Refs(objs []Object) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Ref()
	}
	return strings.Join(names, ", ")
}

// Find lists the cluster's objects, in the order of
// cluster.ManagedResources, split into those to delete and those that
// keepBackups keeps.
func Find(ctx context.Context, c *apply.Clients, ns, name string, keepBackups bool) (doomed, kept []Object, err error) {
	selector := cluster.ManagedSelector(name).String()
	for _, gvr := range cluster.ManagedResources {
		list, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, nil, fmt.Errorf("cannot list the %s of cluster %q; nothing was deleted: %w", kindName(gvr), name, apply.APIError(c, err))
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if obj.GetDeletionTimestamp() != nil {
				continue
			}
			// Pods of a workload go with it.
			if gvr.Resource == "pods" && metav1.GetControllerOf(obj) != nil {
				continue
			}
			if obj.GetKind() == "" {
				obj.SetGroupVersionKind(gvr.GroupVersion().WithKind(kindOf(gvr)))
			}
			o := Object{Resource: gvr, Obj: obj}
			if keepBackups && cluster.KeptWithBackups(name, gvr.GroupResource(), obj.GetName()) {
				kept = append(kept, o)
			} else {
				doomed = append(doomed, o)
			}
		}
	}
	return doomed, kept, nil
}

func kindName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// kindOf is the kind of a ManagedResources entry, for objects a list
// returned without one.
func kindOf(gvr schema.GroupVersionResource) string {
	kinds := map[string]string{
		"cronjobs": "CronJob", "jobs": "Job", "statefulsets": "StatefulSet", "deployments": "Deployment",
		"pods": "Pod", "services": "Service", "persistentvolumeclaims": "PersistentVolumeClaim",
		"secrets": "Secret", "configmaps": "ConfigMap",
	}
	if k, ok := kinds[gvr.Resource]; ok {
		return k
	}
	return gvr.Resource
}

// DeletePermissions are what deleting objs needs: delete each of their
// kinds.
func DeletePermissions(objs []Object) []apply.Permission {
	var perms []apply.Permission
	seen := map[schema.GroupVersionResource]bool{}
	for _, obj := range objs {
		if !seen[obj.Resource] {
			seen[obj.Resource] = true
			perms = append(perms, apply.Permission{Verb: "delete", Group: obj.Resource.Group, Resource: obj.Resource.Resource})
		}
	}
	return perms
}

// DeleteOptions are what Delete needs besides the clients.
type DeleteOptions struct {
	Name, Namespace string
	// Timeout bounds the wait for the database to stop and, with Wait,
	// for every object to go; Poll is how often they are looked at.
	Wait    bool
	Timeout time.Duration
	Poll    time.Duration
	// Out takes a line per object deleted, and the progress of the waits.
	Out io.Writer
}

// Delete deletes doomed (found by Find) in stages: first what runs
// backups, then the database, whose pod is waited for: it archives its
// last WAL to the repository host as it stops. Then the repository host,
// and last what they mounted. With o.Wait it returns once every object is
// gone.
func Delete(ctx context.Context, c *apply.Clients, o DeleteOptions, doomed []Object) error {
	deadline := time.Now().Add(o.Timeout)
	del := func(stage int) error {
		for _, obj := range doomed {
			if deleteStage(obj.Resource) != stage {
				continue
			}
			err := c.Dynamic.Resource(obj.Resource).Namespace(o.Namespace).Delete(ctx, obj.Obj.GetName(), metav1.DeleteOptions{
				PropagationPolicy: ptrTo(metav1.DeletePropagationBackground),
				Preconditions:     &metav1.Preconditions{UID: ptrTo(obj.Obj.GetUID())},
			})
			switch {
			case err == nil:
				fmt.Fprintf(o.Out, "%s deleted\n", obj.Ref())
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				// Gone already, or replaced by another object of the
				// same name that this command did not look at.
			default:
				return fmt.Errorf("cannot delete %s: %w", obj.Ref(), apply.APIError(c, err))
			}
		}
		return nil
	}
	for stage := 0; stage <= 3; stage++ {
		if err := del(stage); err != nil {
			return err
		}
		if stage == 1 {
			if err := o.waitPodsGone(ctx, c, cluster.DatabaseSelector(o.Name), "the database pod to stop", deadline); err != nil {
				return err
			}
		}
	}
	if o.Wait {
		return o.waitGone(ctx, c, doomed, deadline)
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

// deleteStage orders deletion: 0 backup Jobs, 1 the database, 2 the
// repository host, 3 the rest.
func deleteStage(gvr schema.GroupVersionResource) int {
	switch gvr.Resource {
	case "cronjobs", "jobs":
		return 0
	case "statefulsets":
		return 1
	case "deployments":
		return 2
	}
	return 3
}

// waitPodsGone waits until no pod matches the selector.
func (o DeleteOptions) waitPodsGone(ctx context.Context, c *apply.Clients, selector labels.Set, what string, deadline time.Time) error {
	last := ""
	err := kube.WaitFor(ctx, o.Poll, time.Until(deadline), func(ctx context.Context) (bool, error) {
		pods, err := c.Client.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
		if err != nil {
			if e := apply.WaitAPIError(err); e != nil {
				return false, e
			}
			return false, nil
		}
		if len(pods.Items) == 0 {
			return true, nil
		}
		names := make([]string, len(pods.Items))
		for i, p := range pods.Items {
			names[i] = p.Name
		}
		if s := strings.Join(names, ", "); s != last {
			fmt.Fprintf(o.Out, "Waiting for %s: %s\n", what, s)
			last = s
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w (run the same command again to finish the deletion)", what, o.timeoutError(ctx, err))
	}
	return nil
}

// waitGone waits until every deleted object, and every pod of the
// cluster, is gone.
func (o DeleteOptions) waitGone(ctx context.Context, c *apply.Clients, doomed []Object, deadline time.Time) error {
	var remaining []string
	err := kube.WaitFor(ctx, o.Poll, time.Until(deadline), func(ctx context.Context) (bool, error) {
		remaining = remaining[:0]
		for _, obj := range doomed {
			cur, err := c.Dynamic.Resource(obj.Resource).Namespace(o.Namespace).Get(ctx, obj.Obj.GetName(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				if e := apply.WaitAPIError(err); e != nil {
					return false, e
				}
				remaining = append(remaining, obj.Ref())
			case cur.GetUID() == obj.Obj.GetUID():
				remaining = append(remaining, obj.Ref())
			}
		}
		pods, err := c.Client.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(o.Name).String()})
		if err == nil {
			for _, p := range pods.Items {
				remaining = append(remaining, "pod/"+p.Name)
			}
		}
		return len(remaining) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the objects of cluster %q to go: %w; still there: %s", o.Name, o.timeoutError(ctx, err), strings.Join(remaining, ", "))
	}
	return nil
}

// timeoutError names the timeout in a wait's timeout, rather than what
// remained of it.
func (o DeleteOptions) timeoutError(ctx context.Context, err error) error {
	if wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("timed out after %s", o.Timeout)
	}
	return err
}
