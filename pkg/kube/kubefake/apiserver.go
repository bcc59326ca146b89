package kubefake

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// What an API server does that the fakes do not: server-side apply,
// access reviews, and one store for the typed and the dynamic client.

// AllowAccess makes every SelfSubjectAccessReview answer allowed, or
// denied for the verb/resource pairs in deny ("patch secrets").
func (f *Factory) AllowAccess(deny ...string) {
	f.Clientset.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		a := review.Spec.ResourceAttributes
		key := a.Verb + " " + a.Resource
		review = review.DeepCopy()
		review.Status.Allowed = true
		for _, d := range deny {
			if d == key {
				review.Status.Allowed = false
			}
		}
		return true, review, nil
	})
}

// ServerSideApply makes the dynamic fake answer server-side apply like an
// API server: create or replace, with a resourceVersion that changes only
// when the object does.
func (f *Factory) ServerSideApply() {
	tracker := f.Dynamic.Tracker()
	f.Dynamic.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch := action.(k8stesting.PatchActionImpl)
		if patch.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		obj := &unstructured.Unstructured{}
		if err := json.Unmarshal(patch.GetPatch(), &obj.Object); err != nil {
			return true, nil, err
		}
		gvr, ns := patch.GetResource(), patch.GetNamespace()
		dryRun := len(patch.GetPatchOptions().DryRun) > 0
		cur, err := tracker.Get(gvr, ns, obj.GetName())
		switch {
		case apierrors.IsNotFound(err):
			obj.SetResourceVersion("1")
			if !dryRun {
				if err := tracker.Create(gvr, obj, ns); err != nil {
					return true, nil, err
				}
			}
			return true, obj, nil
		case err != nil:
			return true, nil, err
		}
		old := toUnstructured(cur)
		if sameContent(old, obj) {
			return true, old, nil
		}
		if dryRun {
			obj.SetResourceVersion(old.GetResourceVersion())
			return true, obj, nil
		}
		rv, _ := strconv.Atoi(old.GetResourceVersion())
		obj.SetResourceVersion(strconv.Itoa(rv + 1))
		return true, obj, tracker.Update(gvr, obj, ns)
	})
}

func toUnstructured(obj runtime.Object) *unstructured.Unstructured {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetResourceVersion("")
		c.SetManagedFields(nil)
		c.SetCreationTimestamp(metav1.Time{})
		unstructured.RemoveNestedField(c.Object, "status")
		return c.Object
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// MirrorToTyped copies the Secrets and ConfigMaps of namespace "default"
// from the dynamic fake into the typed fake (two separate stores).
func (f *Factory) MirrorToTyped(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, res := range []string{"secrets", "configmaps"} {
		list, err := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: res}).Namespace("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			var obj runtime.Object = &corev1.Secret{}
			if res == "configmaps" {
				obj = &corev1.ConfigMap{}
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, obj); err != nil {
				t.Fatal(err)
			}
			if err := f.Clientset.Tracker().Add(obj); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ClearActions forgets the requests both fakes saw.
func (f *Factory) ClearActions() {
	f.Clientset.ClearActions()
	f.Dynamic.ClearActions()
}

// Writes are the create, update, patch and delete requests the fakes
// saw, as "verb resource", access reviews aside.
func (f *Factory) Writes() []string {
	var out []string
	for _, actions := range [][]k8stesting.Action{f.Clientset.Actions(), f.Dynamic.Actions()} {
		for _, a := range actions {
			switch a.GetVerb() {
			case "create", "update", "patch", "delete":
				if a.GetResource().Resource == "selfsubjectaccessreviews" {
					continue
				}
				out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
			}
		}
	}
	return out
}

// Deletes are the objects the dynamic fake deleted, in order, as
// resource/name.
func (f *Factory) Deletes() []string {
	var out []string
	for _, a := range f.Dynamic.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			out = append(out, d.GetResource().Resource+"/"+d.GetName())
		}
	}
	return out
}
