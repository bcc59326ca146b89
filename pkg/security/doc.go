// Package security holds the project-wide security checks that span the
// renderers of several packages: every pod template the plugin can create
// (the cluster's StatefulSet and repository Deployment, and every Job) must
// pass the Pod Security Standards' "restricted" level, so that clusters run
// in namespaces that enforce it. The checks are in its tests; PodTemplates
// finds the pod templates inside any rendered object.
package security

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PodTemplates returns every pod template (a metadata and a spec with
// containers) found anywhere inside obj, whatever its kind: a Pod, the
// template of a Deployment, StatefulSet or Job, or the Job template of a
// CronJob. Searching the whole object, rather than known paths per kind,
// means a new kind of object cannot carry an unchecked pod.
func PodTemplates(obj runtime.Object) ([]corev1.PodTemplateSpec, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	var found []map[string]any
	collect(u, &found)
	out := make([]corev1.PodTemplateSpec, 0, len(found))
	for _, m := range found {
		var tmpl corev1.PodTemplateSpec
		// Only metadata and spec: a Pod's kind and status are not part of a template.
		part := map[string]any{"metadata": m["metadata"], "spec": m["spec"]}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(part, &tmpl); err != nil {
			return nil, err
		}
		out = append(out, tmpl)
	}
	return out, nil
}

func collect(v any, found *[]map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if spec, ok := v["spec"].(map[string]any); ok {
			if _, ok := spec["containers"]; ok {
				*found = append(*found, v)
				return
			}
		}
		for _, child := range v {
			collect(child, found)
		}
	case []any:
		for _, child := range v {
			collect(child, found)
		}
	}
}
