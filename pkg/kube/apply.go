package kube

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// FieldManager is the server-side apply field manager for every object
// kubectl-pgo writes, so `kubectl get -o yaml --show-managed-fields` shows
// which fields the plugin owns.
const FieldManager = "kubectl-pgo"

// ApplyOption changes how Apply sends its request.
type ApplyOption func(*metav1.PatchOptions)

// DryRun makes the API server validate and default the object without
// persisting it (--dry-run=server) when enabled is true.
func DryRun(enabled bool) ApplyOption {
	return func(o *metav1.PatchOptions) {
		if enabled {
			o.DryRun = []string{metav1.DryRunAll}
		}
	}
}

// Apply creates or updates obj with server-side apply and returns the
// object as stored (or as it would be stored, under DryRun). The resource
// is found through mapper, so obj needs apiVersion, kind, name, and a
// namespace if the kind is namespaced.
func Apply(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured, opts ...ApplyOption) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	desc := describe(obj)
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, fmt.Errorf("apply %s: object has no apiVersion or kind", desc)
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("apply %s: object has no name", desc)
	}

	mapping, err := restMapping(ctx, mapper, obj)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", desc, err)
	}

	var resource dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return nil, fmt.Errorf("apply %s: %s is namespaced but the object has no namespace", desc, gvk.Kind)
		}
		resource = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}

	data, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("apply %s: encode: %w", desc, err)
	}

	// Force: the plugin is the source of truth for what it renders, so a
	// field someone changed by hand (kubectl edit, scale) is taken back
	// instead of failing with a conflict.
	force := true
	patchOpts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	for _, opt := range opts {
		opt(&patchOpts)
	}

	applied, err := resource.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, patchOpts)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", desc, err)
	}
	return applied, nil
}

// restMapping resolves obj's kind to a resource, refreshing discovery once
// if the kind is unknown: a CRD may have been installed since the cache was
// filled.
func restMapping(ctx context.Context, mapper meta.RESTMapper, obj *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	m := meta.ToRESTMapperWithContext(mapper)
	mapping, err := m.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		if r, ok := mapper.(meta.ResettableRESTMapper); ok {
			meta.ToResettableRESTMapperWithContext(r).ResetWithContext(ctx)
			mapping, err = m.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the server does not know %s: %w", gvk, err)
	}
	return mapping, nil
}

// describe names an object the way kubectl messages do: Kind ns/name.
func describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	if kind := obj.GetKind(); kind != "" {
		return kind + " " + name
	}
	return name
}
