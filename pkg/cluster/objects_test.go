package cluster

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCheckOwnership(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string // empty: accepted
	}{
		{"this cluster's", Labels("hippo", ComponentDatabase), ""},
		{"no labels", nil, "Service pg/hippo already exists and was not created by kubectl-pgo (it has no label app.kubernetes.io/managed-by=kubectl-pgo)"},
		{"another tool's", map[string]string{LabelManagedBy: "Helm", LabelCluster: "hippo"}, "was not created by kubectl-pgo"},
		{"another cluster's", Labels("hippo-x", ComponentRepo), `belongs to the kubectl-pgo cluster "hippo-x", not "hippo"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOwnership("hippo", "Service pg/hippo", tc.labels)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckOwnership = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckOwnership = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeptWithBackups(t *testing.T) {
	core := func(r string) schema.GroupResource { return schema.GroupResource{Resource: r} }
	kept := map[string]bool{}
	for _, obj := range renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}) {
		gvk := obj.GroupVersionKind()
		gr := core(strings.ToLower(gvk.Kind) + "s")
		if gvk.Group != "" {
			gr.Group = gvk.Group
		}
		if KeptWithBackups("hippo", gr, obj.GetName()) {
			kept[obj.GetKind()+"/"+obj.GetName()] = true
		}
	}
	want := []string{"PersistentVolumeClaim/hippo-pgbr-repo", "Secret/hippo-backrest-repo-config", "ConfigMap/hippo-pgo-config"}
	if len(kept) != len(want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	for _, w := range want {
		if !kept[w] {
			t.Errorf("%s is not kept", w)
		}
	}
}

// Every kind Render makes is one that delete looks for.
func TestManagedResourcesCoverRender(t *testing.T) {
	managed := map[string]bool{}
	for _, gvr := range ManagedResources {
		managed[gvr.Group+"/"+gvr.Resource] = true
	}
	for _, obj := range renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}) {
		gvk := obj.GroupVersionKind()
		resource := strings.ToLower(gvk.Kind) + "s"
		if !managed[gvk.Group+"/"+resource] {
			t.Errorf("%s is rendered but not in ManagedResources", gvk.Kind)
		}
		for k, v := range ManagedSelector("hippo") {
			if obj.GetLabels()[k] != v {
				t.Errorf("%s/%s does not match ManagedSelector: %s=%q", gvk.Kind, obj.GetName(), k, obj.GetLabels()[k])
			}
		}
	}
}

// The container names that commands exec into are those of the templates.
func TestContainerNames(t *testing.T) {
	_, _, pods, _ := typed(t, renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}))
	names := map[string][]string{}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			names[p.Labels[LabelComponent]] = append(names[p.Labels[LabelComponent]], c.Name)
		}
	}
	want := map[string][]string{
		ComponentDatabase: {ContainerDatabase, ContainerPGBackRest},
		ComponentRepo:     {ContainerPGBackRest},
	}
	for component, w := range want {
		if strings.Join(names[component], ",") != strings.Join(w, ",") {
			t.Errorf("%s pod has containers %v, want %v", component, names[component], w)
		}
	}
}
