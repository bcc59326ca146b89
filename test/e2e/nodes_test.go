package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// readyNodes returns the names of the cluster's Ready nodes, and fails the test unless there are
// as many as the local cluster was started with (KPGO_E2E_NODES, set by hack/e2e.sh).
func readyNodes(t *testing.T, env *framework.Env) []string {
	t.Helper()
	nodes, err := env.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ready []string
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, n.Name)
			}
		}
	}
	want := 1
	if s := os.Getenv("KPGO_E2E_NODES"); s != "" {
		if want, err = strconv.Atoi(s); err != nil {
			t.Fatalf("KPGO_E2E_NODES=%q: %v", s, err)
		}
	}
	if len(ready) != want {
		t.Fatalf("%d nodes are Ready (%v), want %d", len(ready), ready, want)
	}
	return ready
}

// volumeConflict matches the scheduler's reasons for a pod whose volume is bound to another node.
var volumeConflict = regexp.MustCompile(`volume node affinity conflict|didn't match PersistentVolume's node affinity`)

// onNode pins a test pod to a node.
func onNode(node string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node} }
}

// Every node runs pods that reach the pods and Services of the other nodes, and exec and logs
// work on each.
func TestNodesReachEachOther(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	nodes := readyNodes(t, env)
	if len(nodes) < 2 {
		t.Skip("one node: nothing crosses nodes")
	}
	ns := env.Namespace(t)
	ctx := context.Background()

	server := env.Pod(t, ns, "server", map[string]string{"app": "server"}, []string{"bash", "-c",
		"echo serving; initdb -D /tmp/pg >/dev/null && exec postgres -D /tmp/pg -c listen_addresses='*' -k /tmp"}, onNode(nodes[0]))
	if _, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "server"},
			Ports: []corev1.ServicePort{{Port: 5432, TargetPort: intstr.FromInt32(5432)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, node := range nodes {
		name := fmt.Sprintf("client-%d", i)
		p := env.Pod(t, ns, name, nil, []string{"bash", "-c", "echo hello from $(hostname); exec sleep 3600"}, onNode(node))
		if p.Spec.NodeName != node {
			t.Fatalf("%s runs on %s, want %s", name, p.Spec.NodeName, node)
		}
		// By pod IP (across the nodes' bridges) and by Service name (DNS and kube-proxy).
		for _, host := range []string{server.Status.PodIP, "db"} {
			var out string
			err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
				var err error
				out, _, err = kube.ExecCapture(ctx, env.Config, env.Client, ns, name, "main", []string{"pg_isready", "-h", host, "-p", "5432"})
				return err == nil, nil
			})
			if err != nil {
				t.Fatalf("from %s on %s, %s:5432 does not answer: %q", name, node, host, out)
			}
			t.Logf("%s on %s -> %s (server on %s): %s", name, node, host, server.Spec.NodeName, strings.TrimSpace(out))
		}
		logs, err := env.Client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(logs), "hello from "+name) {
			t.Fatalf("logs of %s on %s: %q, %v", name, node, logs, err)
		}
	}
}

// A volume of the default class is bound to the node of its first pod: a pod elsewhere cannot use
// it. A volume of the shared class is used from any node.
func TestVolumesAreNodeLocal(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	nodes := readyNodes(t, env)
	if len(nodes) < 2 {
		t.Skip("one node: every volume is local to it")
	}
	ns := env.Namespace(t)
	ctx := context.Background()
	claim := func(name, class string) {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
			},
		}
		if class != "" {
			pvc.Spec.StorageClassName = ptr.To(class)
		}
		if _, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mount := func(claimName, node string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			onNode(node)(p)
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}
	}
	succeeded := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }
	write := []string{"bash", "-c", "echo written-on-$NODE > /data/proof"}
	read := func(node string) []string {
		return []string{"bash", "-c", "grep -qx written-on-" + node + " /data/proof"}
	}
	withNodeEnv := func(node string, mutate func(*corev1.Pod)) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			mutate(p)
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "NODE", Value: node}}
		}
	}

	// The default class: bound to nodes[1] by its first pod.
	claim("local", "")
	env.Pod(t, ns, "writer", nil, write, withNodeEnv(nodes[1], mount("local", nodes[1])))
	env.WaitPod(t, ns, "writer", 2*time.Minute, succeeded)
	pvc, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "local", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pvNodes(pv); len(got) != 1 || got[0] != nodes[1] {
		t.Fatalf("PV %s may be used on %v, want only %s", pv.Name, got, nodes[1])
	}
	// A pod on another node stays unscheduled, and says why.
	elsewhere := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{Name: "main", Image: framework.Image, ImagePullPolicy: corev1.PullNever,
				Command: read(nodes[1]), SecurityContext: framework.RestrictedSecurityContext()}},
		},
	}
	mount("local", nodes[0])(elsewhere)
	if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, elsewhere, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var why string
	err = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, elsewhere.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if p.Spec.NodeName != "" {
			return false, fmt.Errorf("the pod was scheduled to %s although its volume is bound to %s", p.Spec.NodeName, nodes[1])
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && volumeConflict.MatchString(c.Message) {
				why = c.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("a pod on %s with a volume of %s: %v", nodes[0], nodes[1], err)
	}
	t.Logf("a pod on %s with the volume bound to %s: %s", nodes[0], nodes[1], why)
	// On its own node, the data is there.
	env.Pod(t, ns, "reader", nil, read(nodes[1]), mount("local", nodes[1]))
	env.WaitPod(t, ns, "reader", 2*time.Minute, succeeded)

	// The shared class: written on one node, read on another.
	claim("shared", "shared")
	env.Pod(t, ns, "shared-writer", nil, write, withNodeEnv(nodes[0], mount("shared", nodes[0])))
	env.WaitPod(t, ns, "shared-writer", 2*time.Minute, succeeded)
	env.Pod(t, ns, "shared-reader", nil, read(nodes[0]), mount("shared", nodes[1]))
	env.WaitPod(t, ns, "shared-reader", 2*time.Minute, succeeded)
	t.Logf("a shared volume written on %s was read on %s", nodes[0], nodes[1])
}

// pvNodes is the list of nodes a PV's required node affinity allows (nil: any node).
func pvNodes(pv *corev1.PersistentVolume) []string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return nil
	}
	var nodes []string
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == "kubernetes.io/hostname" && e.Operator == corev1.NodeSelectorOpIn {
				nodes = append(nodes, e.Values...)
			}
		}
	}
	return nodes
}

// The local cluster's network holds still while pods come and go: every bridge keeps the MAC
// address it was given (one left to choose takes its lowest port's, which changed with every pod
// and left the pods' ARP entries for their gateway pointing nowhere: DNS lookups timed out), and
// the cluster DNS says a name outside the cluster domain does not exist rather than failing
// (a failure there makes every search-list lookup of a missing name a "temporary failure").
func TestClusterNetworkHoldsStill(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	nodes := readyNodes(t, env)
	for i := 0; i <= len(nodes); i++ {
		bridge := fmt.Sprintf("kpgo%d", i)
		b, err := os.ReadFile("/sys/class/net/" + bridge + "/addr_assign_type")
		if err != nil {
			t.Fatalf("bridge %s: %v", bridge, err)
		}
		// 3 is NET_ADDR_SET: the address was set, the bridge does not follow its ports'.
		if got := strings.TrimSpace(string(b)); got != "3" {
			t.Errorf("bridge %s: addr_assign_type %s, want 3 (a fixed MAC address)", bridge, got)
		}
	}
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, "10.88.0.1:53")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if addrs, err := resolver.LookupHost(ctx, "kubernetes.default.svc.cluster.local"); err != nil || len(addrs) == 0 {
		t.Errorf("the cluster DNS does not resolve the API server's Service: %v %v", addrs, err)
	}
	_, err := resolver.LookupHost(ctx, "no-such-host.example.")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || dnsErr.IsTemporary {
		t.Errorf("a name outside the cluster domain: %v, want a plain not found (NXDOMAIN)", err)
	}
}
