package lifecycle

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// UpdateOptions are what Update needs besides the clients.
type UpdateOptions struct {
	Request
	// Exec reads the repository host's configuration: required with
	// Wait.
	Exec apply.ExecFunc
}

// Update changes the stored settings of an existing cluster by those
// given, and applies the objects whose rendering changes.
func Update(ctx context.Context, c *apply.Clients, o UpdateOptions) error {
	name, ns := o.Spec.Name, o.Spec.Namespace
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("update cluster %q", name), Permissions(o.DryRun != apply.DryRunClient, o.Wait)); err != nil {
		return err
	}

	stored, existing, err := readSettings(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if !existing {
		return fmt.Errorf("cluster %q not found in namespace %q (there is no ConfigMap %s): check the name and -n, or create it with kubectl pgo create cluster %s",
			name, ns, cluster.SettingsConfigMapName(name), name)
	}
	spec := MergeSpec(stored, o.Spec, o.Given)
	if err := cluster.CheckImmutable(stored, spec); err != nil {
		return fmt.Errorf("cluster %q cannot be updated: these settings cannot change; nothing was changed:\n  - %s", name, bulleted(err))
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("the new settings of cluster %q are not valid; nothing was changed:\n  - %s", name, bulleted(err))
	}
	if err := CheckKeptBackups(ctx, c, ns, name); err != nil {
		return err
	}

	progress := progress(o.Output, o.Out, o.ErrOut)
	if len(newReplicas(stored, spec)) > 0 && o.DryRun != apply.DryRunClient {
		chooseReplicaBootstrap(ctx, c, o.Exec, &spec, progress)
	}
	changes := cluster.Changes(stored, spec)

	// Unlike create, update never generates the certificates and the
	// password: new ones would lock the pods out.
	material, err := readMaterial(ctx, c, spec, true, true, o.Now())
	if err != nil {
		return err
	}
	objects, err := changedObjects(stored, spec, material)
	if err != nil {
		return err
	}
	rendered, err := cluster.Render(spec, material)
	if err != nil {
		return err
	}
	outdated, err := outdatedObjects(ctx, c, name, rendered, objects)
	if err != nil {
		return err
	}
	if len(changes) == 0 && len(outdated) == 0 {
		fmt.Fprintf(progress, "cluster %s unchanged: its settings already are those given\n", name)
		return nil
	}
	objects = mergeObjects(rendered, objects, outdated)
	before, err := apply.CurrentObjects(ctx, c, name, objects)
	if err != nil {
		return err
	}

	suffix := map[string]string{apply.DryRunClient: " (dry run)", apply.DryRunServer: " (server dry run)"}[o.DryRun]
	fmt.Fprintf(progress, "cluster %s in namespace %s%s:\n", name, ns, suffix)
	for _, ch := range changes {
		fmt.Fprintf(progress, "  %s\n", ch)
	}
	if len(outdated) > 0 {
		var refs []string
		for _, obj := range outdated {
			refs = append(refs, apply.ObjectRef(obj))
		}
		fmt.Fprintf(progress, "  made by an earlier kubectl-pgo, brought up to date: %s\n", strings.Join(refs, ", "))
	}
	restarts := restartedWorkloads(spec, objects)
	for _, r := range restarts {
		if r.say == "" {
			r.say = "the " + r.what + " restarts to read the new configuration"
		}
		fmt.Fprintf(progress, "  %s\n", r.say)
	}

	lines := lines(o.Output, o.Out)
	applied := objects
	if o.DryRun == apply.DryRunClient {
		if lines != nil {
			for _, obj := range objects {
				fmt.Fprintf(lines, "%s configured%s\n", apply.ObjectRef(obj), suffix)
			}
		}
	} else {
		res, err := applyObjects(ctx, c, objects, before, o.DryRun == apply.DryRunServer, lines, suffix)
		if err != nil {
			return fmt.Errorf("%w\n(%d of %d changed objects of cluster %q were applied before this error; run the same command again once it is fixed)",
				err, len(res.applied), len(objects), name)
		}
		applied = res.applied
		if o.DryRun == apply.DryRunNone {
			if err := removeInstances(ctx, c, stored, spec, progress); err != nil {
				return err
			}
		}
	}
	if err := printObjects(o.Output, o.Out, applied); err != nil {
		return err
	}
	if o.DryRun != apply.DryRunNone {
		fmt.Fprintf(progress, "cluster %s updated%s\n", name, suffix)
		return nil
	}
	if !o.Wait {
		fmt.Fprintf(progress, "cluster %s updated; not waiting for the restarts (kubectl pgo show cluster %s shows when the pods are ready)\n", name, name)
		return nil
	}
	start := time.Now()
	var steps []apply.WaitStep
	for _, r := range restarts {
		steps = append(steps, r.steps(c, o.Exec, ns, name)...)
	}
	if err := apply.RunWaitSteps(ctx, progress, o.Poll, start.Add(o.Timeout), steps, fmt.Sprintf("The settings of cluster %q were applied", name)); err != nil {
		return err
	}
	fmt.Fprintf(progress, "cluster %s updated (%s): the next backup and expire use the new settings\n", name, time.Since(start).Round(time.Second))
	return nil
}

// changedObjects renders the cluster with the old and the new settings and
// returns the new objects that differ, in the order to apply them.
func changedObjects(old, new cluster.Spec, m cluster.Material) ([]*unstructured.Unstructured, error) {
	before, err := cluster.Render(old, m)
	if err != nil {
		return nil, fmt.Errorf("the stored settings cannot be rendered: %w", err)
	}
	after, err := cluster.Render(new, m)
	if err != nil {
		return nil, err
	}
	previous := map[string]*unstructured.Unstructured{}
	for _, obj := range before {
		previous[objectKey(obj)] = obj
	}
	var out []*unstructured.Unstructured
	for _, obj := range after {
		if prev, ok := previous[objectKey(obj)]; !ok || !equality.Semantic.DeepEqual(prev.Object, obj.Object) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// outdatedObjects are the objects of the cluster, rendered with spec, that
// an earlier kubectl-pgo made otherwise, and that changed (the objects
// whose rendering the settings change) lacks: those missing (the CA
// ConfigMap), the Secrets and ConfigMaps whose data differs (pg_hba.conf
// that requires TLS, a database certificate reissued for new names), and
// the StatefulSets and the Deployment whose pods were made from other
// files (their config hash), which restart. Nothing else is compared: a
// field the server defaults would always differ.
func outdatedObjects(ctx context.Context, c *apply.Clients, name string, rendered, changed []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	skip := map[string]bool{}
	for _, obj := range changed {
		skip[objectKey(obj)] = true
	}
	var out []*unstructured.Unstructured
	for _, obj := range rendered {
		if skip[objectKey(obj)] {
			continue
		}
		cur, err := apply.GetObject(ctx, c, obj)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			out = append(out, obj)
			continue
		}
		if err := cluster.CheckOwnership(name, apply.DescribeObject(obj), cur.GetLabels()); err != nil {
			return nil, err
		}
		if renderedDiffers(obj, cur) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// renderedDiffers compares what outdatedObjects compares of an object.
func renderedDiffers(want, cur *unstructured.Unstructured) bool {
	var fields []string
	switch want.GetKind() {
	case "Secret", "ConfigMap":
		fields = []string{"data"}
	case "StatefulSet", "Deployment":
		fields = []string{"spec", "template", "metadata", "annotations", cluster.AnnotationConfigHash}
	default:
		return false
	}
	w, _, _ := unstructured.NestedFieldNoCopy(want.Object, fields...)
	g, _, _ := unstructured.NestedFieldNoCopy(cur.Object, fields...)
	return !equality.Semantic.DeepEqual(w, g)
}

// mergeObjects returns the changed and the outdated objects together, in
// the order to apply them (rendered's).
func mergeObjects(rendered, changed, outdated []*unstructured.Unstructured) []*unstructured.Unstructured {
	if len(outdated) == 0 {
		return changed
	}
	in := map[string]*unstructured.Unstructured{}
	for _, obj := range append(append([]*unstructured.Unstructured{}, changed...), outdated...) {
		in[objectKey(obj)] = obj
	}
	var out []*unstructured.Unstructured
	for _, obj := range rendered {
		if o, ok := in[objectKey(obj)]; ok {
			out = append(out, o)
		}
	}
	return out
}

func objectKey(u *unstructured.Unstructured) string { return u.GetKind() + "/" + u.GetName() }

// scaleStatefulSet sets the replicas of an instance's StatefulSet.
func scaleStatefulSet(ctx context.Context, c *apply.Clients, ns, name string, replicas int) error {
	if err := kube.ScaleStatefulSet(ctx, c.Client, ns, name, replicas, cluster.FieldManager); err != nil {
		return fmt.Errorf("scaling StatefulSet %s to %d: %w", name, replicas, apply.APIError(c, err))
	}
	return nil
}

// applyChanged renders the cluster with the old and the new settings and
// applies the objects that differ, writing a line each to lines (unless
// nil).
func applyChanged(ctx context.Context, c *apply.Clients, old, next cluster.Spec, now time.Time, lines io.Writer) error {
	material, err := readMaterial(ctx, c, next, true, true, now)
	if err != nil {
		return err
	}
	objects, err := changedObjects(old, next, material)
	if err != nil {
		return err
	}
	before, err := apply.CurrentObjects(ctx, c, next.Name, objects)
	if err != nil {
		return err
	}
	_, err = applyObjects(ctx, c, objects, before, false, lines, "")
	return err
}
