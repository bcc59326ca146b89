package kube

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func pod(name string, phase corev1.PodPhase, ready bool, mods ...func(*corev1.Pod)) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pg", Labels: map[string]string{"app": "hippo"}},
		Status: corev1.PodStatus{
			Phase:      phase,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func terminating(p *corev1.Pod) {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	p.Finalizers = []string{"test"}
}

func otherApp(p *corev1.Pod) { p.Labels["app"] = "other" }

func otherNamespace(p *corev1.Pod) { p.Namespace = "elsewhere" }

func TestFindRunningPod(t *testing.T) {
	tests := []struct {
		name    string
		pods    []runtime.Object
		want    string
		wantErr string
	}{
		{
			name: "single ready pod",
			pods: []runtime.Object{pod("hippo-0", corev1.PodRunning, true)},
			want: "hippo-0",
		},
		{
			name: "first ready by name",
			pods: []runtime.Object{pod("hippo-2", corev1.PodRunning, true), pod("hippo-1", corev1.PodRunning, true)},
			want: "hippo-1",
		},
		{
			name: "skips pods that cannot exec",
			pods: []runtime.Object{
				pod("hippo-0", corev1.PodRunning, true, terminating),
				pod("hippo-1", corev1.PodPending, false),
				pod("hippo-2", corev1.PodRunning, false),
				pod("hippo-3", corev1.PodRunning, true),
			},
			want: "hippo-3",
		},
		{
			name:    "nothing matches",
			pods:    []runtime.Object{pod("x", corev1.PodRunning, true, otherApp), pod("y", corev1.PodRunning, true, otherNamespace)},
			wantErr: `no running pod matches "app=hippo" in namespace "pg"`,
		},
		{
			name: "matches but none usable",
			pods: []runtime.Object{
				pod("hippo-1", corev1.PodRunning, false),
				pod("hippo-0", corev1.PodPending, false),
				pod("hippo-2", corev1.PodRunning, true, terminating),
				pod("hippo-3", corev1.PodSucceeded, false),
				pod("hippo-4", "", false),
			},
			wantErr: `no running pod matches "app=hippo" in namespace "pg"; found hippo-0 (Pending), hippo-1 (Running, not ready), hippo-2 (terminating), hippo-3 (Succeeded), hippo-4 (phase unknown)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.pods...)
			got, err := FindRunningPod(context.Background(), client, "pg", "app=hippo")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindRunningPod: %v", err)
			}
			if got.Name != tc.want {
				t.Errorf("got pod %s, want %s", got.Name, tc.want)
			}
		})
	}
}

func TestFindRunningPodBadSelector(t *testing.T) {
	_, err := FindRunningPod(context.Background(), fake.NewClientset(), "pg", "app in (")
	if err == nil || !strings.HasPrefix(err.Error(), `invalid label selector "app in (": `) {
		t.Fatalf("error = %v, want an invalid selector error", err)
	}
}

func TestPickRunningPod(t *testing.T) {
	ready := func(ns, name, cluster string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"cluster": cluster}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
	}
	pending := ready("db", "a-1", "a")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending}
	pods := []corev1.Pod{ready("db", "b-1", "b"), pending, ready("other", "a-0", "a"), ready("db", "a-2", "a")}
	tests := []struct {
		name, namespace, selector string
		want                      string
		wantErr                   string
	}{
		{name: "skips other namespaces and pods not ready", namespace: "db", selector: "cluster=a", want: "a-2"},
		{name: "any namespace", namespace: "", selector: "cluster=a", want: "a-0"},
		{name: "none matches", namespace: "db", selector: "cluster=c", wantErr: `no running pod matches "cluster=c" in namespace "db"`},
		{name: "says why a match was skipped", namespace: "db", selector: "cluster=a,x!=y", want: "a-2"},
		{name: "bad selector", namespace: "db", selector: "cluster=", wantErr: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PickRunningPod(pods, tc.namespace, tc.selector)
			switch {
			case tc.want != "":
				if err != nil || got.Name != tc.want {
					t.Errorf("got %v, %v; want %s", got, err, tc.want)
				}
			case err == nil || !strings.HasPrefix(err.Error(), tc.wantErr):
				t.Errorf("got %v, %v; want error %q", got, err, tc.wantErr)
			}
		})
	}
	if pods[0].Name != "b-1" {
		t.Errorf("the caller's slice was reordered: %s first", pods[0].Name)
	}
}

// A pod on a node that stopped answering, and one the scheduler cannot place, are named with
// why; a pod on a Ready node, or on a node that cannot be read, has no problem.
func TestPodProblems(t *testing.T) {
	on := func(node string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = node } }
	node := func(name string, status corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: status, Message: "Kubelet stopped posting node status.",
			LastTransitionTime: metav1.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC),
		}}}}
	}
	pending := pod("pending", corev1.PodPending, false, func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Message: "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node affinity conflict."}}
	})
	pods := []*corev1.Pod{
		pod("lost", corev1.PodRunning, false, on("n2")),
		pod("lost-too", corev1.PodRunning, false, on("n2")),
		pod("fine", corev1.PodRunning, true, on("n1")),
		pod("unknown-node", corev1.PodRunning, false, on("n9")),
		pending, nil,
	}
	client := fake.NewClientset(node("n1", corev1.ConditionTrue), node("n2", corev1.ConditionUnknown))
	gets := 0
	client.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) { gets++; return false, nil, nil })
	got := PodProblems(context.Background(), client, pods)
	lost := "node n2 is not ready (Ready=Unknown since 2026-12-04T08:00:00Z: Kubelet stopped posting node status.)"
	want := map[string]string{
		"lost": lost, "lost-too": lost,
		"pending": "not scheduled: 0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node affinity conflict.",
	}
	if !maps.Equal(got, want) {
		t.Errorf("PodProblems = %q\nwant %q", got, want)
	}
	if gets != 2 {
		t.Errorf("%d node reads, want 2 (each node of a pod not ready, once)", gets)
	}
}
