package restore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// The repository of the fake cluster: one full backup that ended at
// 07:25:29, and WAL archived until 07:40:00 (the file's time stamp).
const (
	testInfo = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000006","min":"000000010000000000000001"}],
"backup":[{"archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"},"backrest":{"format":5,"version":"2.45"},
"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":1,"repository":{"delta":1,"size":1},"size":1},
"label":"20261126-072526F","lsn":{"start":"0/2000028","stop":"0/2000100"},"prior":null,"reference":null,
"timestamp":{"start":1795677926,"stop":1795677929},"type":"full"}],
"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7712377869901631504,"version":"15"}],"name":"db",
"repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`
	testNoBackups = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":null,"min":null}],"backup":[],"cipher":"none",
"db":[{"id":1,"repo-key":1,"system-id":7712371840594409285,"version":"15"}],"name":"db",
"repo":[{"cipher":"none","key":1,"status":{"code":2,"message":"no valid backups"}}],"status":{"code":2,"lock":{"backup":{"held":false}},"message":"no valid backups"}}]`
	testArchived = "1795678800\n" // 2026-11-26 07:40:00 UTC
)

// fixture is a fake cluster "hippo" in namespace "pgo": its objects
// as create cluster renders them, a running database pod and repository
// host, and an exec that answers like the real containers.
type fixture struct {
	f        *kubefake.Factory
	info     string
	psql     string
	jobFails bool
	jobRuns  bool // the Job never finishes

	mu    sync.Mutex
	execs []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	spec := cluster.Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()
	m := cluster.Material{
		PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
			RepoCert: []byte("c"), RepoKey: []byte("k")},
		Password: "p",
	}
	rendered, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	var objects []runtime.Object
	for _, u := range rendered {
		var obj runtime.Object
		switch u.GetKind() {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatal(err)
		}
		objects = append(objects, obj)
	}
	objects = append(objects,
		readyPod("hippo-0", cluster.Labels("hippo", cluster.ComponentDatabase), "database", "pgbackrest"),
		readyPod("hippo-backrest-shared-repo-abc", podLabels("hippo", cluster.ComponentRepo), "pgbackrest"),
	)
	fx := &fixture{
		f:    kubefake.NewFactory(objects...),
		info: testInfo,
		psql: "f||00000002000000000000000B\n",
	}
	fx.f.NS = "pgo"
	c := fx.f.Clientset
	podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	// The StatefulSet controller: the pod goes at 0 replicas and comes
	// back at 1.
	c.PrependReactor("patch", "statefulsets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch := string(action.(k8stesting.PatchAction).GetPatch())
		switch {
		case strings.Contains(patch, `"replicas":0`):
			_ = c.Tracker().Delete(podsGVR, "pgo", "hippo-0")
		case strings.Contains(patch, `"replicas":1`):
			_ = c.Tracker().Add(readyPod("hippo-0", cluster.Labels("hippo", cluster.ComponentDatabase), "database", "pgbackrest"))
		}
		return false, nil, nil
	})
	// The Job controller: the Job finishes at once.
	c.PrependReactor("create", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		job := action.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		job.UID = types.UID("job-uid")
		cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
		if fx.jobFails {
			cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}
		}
		if !fx.jobRuns {
			job.Status.Conditions = []batchv1.JobCondition{cond}
		}
		return false, nil, nil
	})
	return fx
}

func readyPod(name string, labels map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo", Labels: labels},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return p
}

func (fx *fixture) exec(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
	fx.mu.Lock()
	fx.execs = append(fx.execs, pod+"/"+container+": "+strings.Join(command, " "))
	fx.mu.Unlock()
	switch {
	case slices.Contains(command, "info"):
		return fx.info, "", nil
	case command[0] == "sh":
		return testArchived, "", nil
	case command[0] == "psql":
		return fx.psql, "", nil
	}
	return "", "", fmt.Errorf("unexpected command %q", command)
}

// mutations are the requests that changed something.
func (fx *fixture) mutations() []string {
	var m []string
	for _, a := range fx.f.Clientset.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		m = append(m, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return m
}

// withTimelines gives the repository the backups and timelines of a real
// cluster after a PITR between its full and its incremental backup, and a
// restore to the latest point: timelines 1, 2 and 3.
func withTimelines(fx *fixture) {
	data, err := os.ReadFile("../repo/testdata/info-timelines-3.txt")
	if err != nil {
		panic(err)
	}
	fx.info = string(data)
}

// stopDatabasePod makes the database pod not ready: its WAL is not archived
// before the restore.
func stopDatabasePod(fx *fixture) {
	pods := fx.f.Clientset.CoreV1().Pods("pgo")
	p, err := pods.Get(context.Background(), "hippo-0", metav1.GetOptions{})
	if err != nil {
		panic(err)
	}
	p.Status.Conditions = nil
	if err := fx.f.Clientset.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, p, "pgo"); err != nil {
		panic(err)
	}
}

// addRendered adds the ConfigMaps, Secrets, PVCs and Deployments that
// create cluster renders for spec to the fake clientset c.
func addRendered(t *testing.T, c *fake.Clientset, spec cluster.Spec, m cluster.Material) {
	t.Helper()
	rendered, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rendered {
		var obj runtime.Object
		switch u.GetKind() {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatal(err)
		}
		if err := c.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

func renderedFixtureStatefulSet(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	spec := cluster.Spec{Name: name, Namespace: "pgo"}
	spec.Default()
	objects, err := cluster.Render(spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects {
		if obj.GetKind() == "StatefulSet" {
			return obj
		}
	}
	t.Fatal("no StatefulSet")
	return nil
}

// s3Spec is a cluster whose only repository is in bucket "backups".
func s3Spec(name string) cluster.Spec {
	spec := cluster.Spec{Name: name, Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "backups", Endpoint: "s3.pgo.svc:9000", VerifyTLS: true, CASecret: "s3-ca"}}
	spec.Default()
	return spec
}

// podLabels are the labels of a pod of a cluster with a local repository,
// as its templates render them.
func podLabels(name, component string) map[string]string {
	l := cluster.Labels(name, component)
	if component == cluster.ComponentRepo {
		l[cluster.LabelPGBackRestCommands] = "true"
	}
	return l
}

// cipherAES is the cipher of an encrypted repository.
const cipherAES = "aes-256-cbc"
