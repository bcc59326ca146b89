package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

const deleteClusterLong = `Delete a PostgreSQL cluster made by kubectl pgo create cluster: every object
labelled as the cluster's and managed by kubectl-pgo (StatefulSet, Deployment,
Services, PVCs, Secrets, ConfigMaps, backup Jobs and schedules), found by label.

The database is stopped first (its StatefulSet is deleted and its pod is
waited for), then the repository host, so that PostgreSQL can archive its
last WAL while shutting down. The data PVC goes with the cluster; so do the
backups, unless --keep-backups is given, which keeps the repository PVC
NAME-pgbr-repo, the Secret NAME-backrest-repo-config with the certificates
and the settings ConfigMap NAME-pgo-config.

It asks for confirmation, naming what it deletes, unless --yes (or
--no-prompt) is given; without a terminal to ask on, it refuses instead.`

const deleteClusterExample = `  # Delete a cluster and its backups, after confirming
  kubectl pgo delete cluster hippo

  # Delete it without asking, keeping the repository for a later restore
  kubectl pgo delete cluster hippo --keep-backups --yes`

// DeleteClusterOptions holds the flags and clients of `kubectl pgo delete
// cluster`.
type DeleteClusterOptions struct {
	Name        string
	KeepBackups bool
	Yes         bool
	Wait        bool
	Timeout     time.Duration

	namespace    string
	factory      kube.Factory
	isTerminal   func(io.Reader) bool
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewDeleteClusterOptions returns options with the defaults of the flags.
func NewDeleteClusterOptions(streams genericiooptions.IOStreams) *DeleteClusterOptions {
	return &DeleteClusterOptions{
		Wait:         true,
		Timeout:      apply.DefaultWaitTimeout,
		isTerminal:   isTerminal,
		pollInterval: time.Second,
		IOStreams:    streams,
	}
}

// NewCmdDeleteCluster returns `kubectl pgo delete cluster NAME`.
func NewCmdDeleteCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDeleteCluster(f, NewDeleteClusterOptions(streams))
}

func newCmdDeleteCluster(f kube.Factory, o *DeleteClusterOptions) *cobra.Command {
	streams := o.IOStreams
	cmd := &cobra.Command{
		Use:     "cluster NAME",
		Short:   "Delete a PostgreSQL cluster, and its backups unless --keep-backups",
		Long:    deleteClusterLong,
		Example: deleteClusterExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	fl := cmd.Flags()
	fl.BoolVar(&o.KeepBackups, "keep-backups", false, "Keep the repository PVC, its Secret and the cluster's settings, to restore from later.")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Delete without asking for confirmation.")
	fl.BoolVar(&o.Yes, "no-prompt", false, "The same as --yes (PGO v4's name).")
	fl.BoolVar(&o.Wait, "wait", o.Wait, "Wait until every deleted object is gone.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the database to stop, and with --wait for the objects to go.")
	cmd.ValidArgsFunction = clusterNameCompletion(f)
	return cmd
}

// Complete takes the name and the namespace; it sends no request.
func (o *DeleteClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	var err error
	o.Name, o.namespace, err = clusterAndNamespace(f, cmd, args)
	return err
}

// Validate checks the name and the flags.
func (o *DeleteClusterOptions) Validate(cmd *cobra.Command) error {
	if err := cluster.ValidateName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.Timeout <= 0 {
		return usageErrorf(cmd, "invalid --timeout %s: it must be more than zero", o.Timeout)
	}
	return nil
}

// clusterObject is one object found for deletion.
type clusterObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

func (c clusterObject) ref() string { return apply.ObjectRef(c.obj) }

// Run deletes the cluster.
func (o *DeleteClusterOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	ns := o.namespace
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	doomed, kept, err := o.find(ctx, c)
	if err != nil {
		return err
	}
	if len(doomed) == 0 && len(kept) == 0 {
		return fmt.Errorf("cluster %q not found in namespace %q: no objects labelled %s", o.Name, ns, cluster.ManagedSelector(o.Name))
	}
	if len(doomed) == 0 {
		fmt.Fprintf(o.Out, "cluster %s has nothing left to delete; kept: %s\n", o.Name, refs(kept))
		return nil
	}
	var perms []apply.Permission
	seen := map[schema.GroupVersionResource]bool{}
	for _, obj := range doomed {
		if !seen[obj.gvr] {
			seen[obj.gvr] = true
			perms = append(perms, apply.Permission{Verb: "delete", Group: obj.gvr.Group, Resource: obj.gvr.Resource})
		}
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("delete cluster %q", o.Name), perms); err != nil {
		return err
	}
	if err := o.confirm(doomed, kept); err != nil {
		return err
	}

	deadline := time.Now().Add(o.Timeout)
	del := func(objs []clusterObject) error {
		for _, obj := range objs {
			err := c.Dynamic.Resource(obj.gvr).Namespace(ns).Delete(ctx, obj.obj.GetName(), metav1.DeleteOptions{
				PropagationPolicy: ptrTo(metav1.DeletePropagationBackground),
				Preconditions:     &metav1.Preconditions{UID: ptrTo(obj.obj.GetUID())},
			})
			switch {
			case err == nil:
				fmt.Fprintf(o.Out, "%s deleted\n", obj.ref())
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				// Gone already, or replaced by another object of the
				// same name that this command did not look at.
			default:
				return fmt.Errorf("cannot delete %s: %w", obj.ref(), apply.APIError(c, err))
			}
		}
		return nil
	}
	// First what runs backups, then the database, whose pod is waited
	// for: it archives its last WAL to the repository host as it stops.
	// Then the repository host, and last what they mounted.
	byStage := func(stage int) []clusterObject {
		var out []clusterObject
		for _, obj := range doomed {
			if deleteStage(obj.gvr) == stage {
				out = append(out, obj)
			}
		}
		return out
	}
	if err := del(byStage(0)); err != nil {
		return err
	}
	if err := del(byStage(1)); err != nil {
		return err
	}
	if err := o.waitPodsGone(ctx, c, cluster.DatabaseSelector(o.Name), "the database pod to stop", deadline); err != nil {
		return err
	}
	for stage := 2; stage <= 3; stage++ {
		if err := del(byStage(stage)); err != nil {
			return err
		}
	}
	if o.Wait {
		if err := o.waitGone(ctx, c, doomed, deadline); err != nil {
			return err
		}
	}
	msg := fmt.Sprintf("cluster %s deleted", o.Name)
	if len(kept) > 0 {
		msg += "; kept its backups: " + refs(kept)
	}
	fmt.Fprintln(o.Out, msg)
	return nil
}

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

// find lists the cluster's objects, in the order of
// cluster.ManagedResources, split into those to delete and those
// --keep-backups keeps.
func (o *DeleteClusterOptions) find(ctx context.Context, c *apply.Clients) (doomed, kept []clusterObject, err error) {
	selector := cluster.ManagedSelector(o.Name).String()
	for _, gvr := range cluster.ManagedResources {
		list, err := c.Dynamic.Resource(gvr).Namespace(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, nil, fmt.Errorf("cannot list the %s of cluster %q; nothing was deleted: %w", kindName(gvr), o.Name, apply.APIError(c, err))
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
			co := clusterObject{gvr: gvr, obj: obj}
			if o.KeepBackups && cluster.KeptWithBackups(o.Name, gvr.GroupResource(), obj.GetName()) {
				kept = append(kept, co)
			} else {
				doomed = append(doomed, co)
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

func refs(objs []clusterObject) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.ref()
	}
	return strings.Join(names, ", ")
}

// confirm asks on stdin, naming what goes and what stays.
func (o *DeleteClusterOptions) confirm(doomed, kept []clusterObject) error {
	if o.Yes {
		return nil
	}
	if !o.isTerminal(o.In) {
		return fmt.Errorf("refusing to delete cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete it", o.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This deletes cluster %q in namespace %q:\n", o.Name, o.namespace)
	for _, obj := range doomed {
		fmt.Fprintf(&b, "  %s\n", obj.ref())
	}
	if len(kept) > 0 {
		b.WriteString("and keeps (--keep-backups):\n")
		for _, obj := range kept {
			fmt.Fprintf(&b, "  %s\n", obj.ref())
		}
	} else {
		b.WriteString("The data and every backup are deleted; this cannot be undone (--keep-backups keeps the backups).\n")
	}
	fmt.Fprintf(&b, "Delete cluster %s? [y/N]: ", o.Name)
	yes, err := askYes(o.In, o.Out, b.String())
	if err != nil {
		return err
	}
	if !yes {
		return fmt.Errorf("cancelled: cluster %q was not deleted", o.Name)
	}
	return nil
}

// waitPodsGone waits until no pod matches the selector.
func (o *DeleteClusterOptions) waitPodsGone(ctx context.Context, c *apply.Clients, selector labels.Set, what string, deadline time.Time) error {
	last := ""
	err := kube.WaitFor(ctx, o.pollInterval, time.Until(deadline), func(ctx context.Context) (bool, error) {
		pods, err := c.Client.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
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
func (o *DeleteClusterOptions) waitGone(ctx context.Context, c *apply.Clients, doomed []clusterObject, deadline time.Time) error {
	var remaining []string
	err := kube.WaitFor(ctx, o.pollInterval, time.Until(deadline), func(ctx context.Context) (bool, error) {
		remaining = remaining[:0]
		for _, obj := range doomed {
			cur, err := c.Dynamic.Resource(obj.gvr).Namespace(o.namespace).Get(ctx, obj.obj.GetName(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				if e := apply.WaitAPIError(err); e != nil {
					return false, e
				}
				remaining = append(remaining, obj.ref())
			case cur.GetUID() == obj.obj.GetUID():
				remaining = append(remaining, obj.ref())
			}
		}
		pods, err := c.Client.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(o.Name).String()})
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

// timeoutError names --timeout in a wait's timeout, rather than what
// remained of it.
func (o *DeleteClusterOptions) timeoutError(ctx context.Context, err error) error {
	if wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("timed out after %s", o.Timeout)
	}
	return err
}
