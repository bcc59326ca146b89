package kube

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
)

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestApply(t *testing.T) {
	configMap := object("v1", "ConfigMap", "pg", "hippo-config")
	configMap.Object["data"] = map[string]any{"postgresql.conf": "max_connections = 100"}

	tests := []struct {
		name         string
		obj          *unstructured.Unstructured
		opts         []ApplyOption
		wantResource schema.GroupVersionResource
		wantNS       string
		wantDryRun   []string
		wantErr      string
	}{
		{
			name:         "namespaced object",
			obj:          configMap,
			wantResource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			wantNS:       "pg",
		},
		{
			name:         "grouped kind",
			obj:          object("apps/v1", "StatefulSet", "pg", "hippo"),
			wantResource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"},
			wantNS:       "pg",
		},
		{
			name:         "cluster-scoped object",
			obj:          object("v1", "Namespace", "", "pg"),
			wantResource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		},
		{
			name:         "server dry run",
			obj:          configMap,
			opts:         []ApplyOption{DryRun(true)},
			wantResource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			wantNS:       "pg",
			wantDryRun:   []string{metav1.DryRunAll},
		},
		{
			name:         "dry run off",
			obj:          configMap,
			opts:         []ApplyOption{DryRun(false)},
			wantResource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			wantNS:       "pg",
		},
		{
			name:    "namespaced kind without namespace",
			obj:     object("v1", "Secret", "", "hippo"),
			wantErr: "apply Secret hippo: Secret is namespaced but the object has no namespace",
		},
		{
			name:    "unknown kind",
			obj:     object("example.com/v1", "Widget", "pg", "w"),
			wantErr: "apply Widget pg/w: the server does not know example.com/v1, Kind=Widget: ",
		},
		{
			name:    "no kind",
			obj:     object("", "", "pg", "x"),
			wantErr: "apply pg/x: object has no apiVersion or kind",
		},
		{
			name:    "no name",
			obj:     object("v1", "ConfigMap", "pg", ""),
			wantErr: "apply ConfigMap pg/: object has no name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClient(scheme.Scheme)
			var got k8stesting.PatchActionImpl
			client.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
				got = action.(k8stesting.PatchActionImpl)
				obj := &unstructured.Unstructured{}
				if err := json.Unmarshal(got.GetPatch(), &obj.Object); err != nil {
					return true, nil, err
				}
				return true, obj, nil
			})
			mapper := testrestmapper.TestOnlyStaticRESTMapper(scheme.Scheme)

			applied, err := Apply(context.Background(), client, mapper, tc.obj, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tc.wantErr)
				}
				if n := len(client.Actions()); n != 0 {
					t.Errorf("sent %d requests despite the error", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got.GetPatchType() != types.ApplyPatchType {
				t.Errorf("patch type = %q, want %q", got.GetPatchType(), types.ApplyPatchType)
			}
			if got.GetResource() != tc.wantResource || got.GetNamespace() != tc.wantNS || got.GetName() != tc.obj.GetName() {
				t.Errorf("patched %v %s/%s, want %v %s/%s", got.GetResource(), got.GetNamespace(), got.GetName(), tc.wantResource, tc.wantNS, tc.obj.GetName())
			}
			opts := got.GetPatchOptions()
			if opts.FieldManager != "kubectl-pgo" {
				t.Errorf("field manager = %q, want kubectl-pgo", opts.FieldManager)
			}
			if opts.Force == nil || !*opts.Force {
				t.Errorf("force = %v, want true", opts.Force)
			}
			if strings.Join(opts.DryRun, ",") != strings.Join(tc.wantDryRun, ",") {
				t.Errorf("dry run = %q, want %q", opts.DryRun, tc.wantDryRun)
			}
			if applied.GetName() != tc.obj.GetName() || applied.GetKind() != tc.obj.GetKind() {
				t.Errorf("returned %s %s, want the applied object", applied.GetKind(), applied.GetName())
			}
			var body map[string]any
			if err := json.Unmarshal(got.GetPatch(), &body); err != nil {
				t.Fatalf("patch body is not JSON: %v", err)
			}
			if body["kind"] != tc.obj.GetKind() || body["apiVersion"] != tc.obj.GetAPIVersion() {
				t.Errorf("patch body lacks apiVersion/kind: %s", got.GetPatch())
			}
		})
	}
}

// staleMapper fails like a discovery cache that predates a CRD until Reset.
type staleMapper struct {
	meta.RESTMapper
	stale  bool
	resets int
}

func (m *staleMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if m.stale {
		return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
	}
	return m.RESTMapper.RESTMapping(gk, versions...)
}

func (m *staleMapper) Reset() {
	m.stale = false
	m.resets++
}

func TestApplyRefreshesStaleDiscovery(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(scheme.Scheme)
	client.PrependReactor("patch", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, object("v1", "ConfigMap", "pg", "c"), nil
	})
	mapper := &staleMapper{RESTMapper: testrestmapper.TestOnlyStaticRESTMapper(scheme.Scheme), stale: true}

	if _, err := Apply(context.Background(), client, mapper, object("v1", "ConfigMap", "pg", "c")); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if mapper.resets != 1 {
		t.Errorf("mapper reset %d times, want 1", mapper.resets)
	}
}

func TestApplyReportsServerErrors(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(scheme.Scheme)
	client.PrependReactor("patch", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errString("admission webhook denied the request")
	})
	mapper := testrestmapper.TestOnlyStaticRESTMapper(scheme.Scheme)
	_, err := Apply(context.Background(), client, mapper, object("v1", "Service", "pg", "hippo"))
	want := "apply Service pg/hippo: admission webhook denied the request"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
