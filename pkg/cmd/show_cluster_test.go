package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// archiverOtherDatabase is what psql prints of the archiver of a database
// that is not the stanza's.
const archiverOtherDatabase = `{"archived_count":0,"failed_count":4,"last_archived_wal":null,"last_archived_time":null,` +
	`"last_failed_wal":"000000010000000000000001","last_failed_time":"2026-11-26T07:53:29.375721+00:00","system_identifier":"7712385150973042703"}`

// clusterObjects are the settings, pods and StatefulSet of a running
// cluster.
func clusterObjects(t *testing.T, name, ns string) []runtime.Object {
	return []runtime.Object{
		fakecluster.SettingsConfigMap(t, name, ns),
		fakecluster.RunningPod(ns, cluster.PodName(name), fakecluster.PodLabels(name, cluster.ComponentDatabase), "database", "pgbackrest"),
		fakecluster.RunningPod(ns, cluster.RepoHostName(name)+"-abc-xyz", fakecluster.PodLabels(name, cluster.ComponentRepo), "pgbackrest"),
	}
}

// fakeExec answers pgbackrest info and psql by pod.
type fakeExec struct {
	mu    sync.Mutex
	calls []string
	info  map[string]string // by namespace
	psql  map[string]string
	err   map[string]error // by namespace/container
}

func (e *fakeExec) exec(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, ns+"/"+pod+"/"+container+": "+strings.Join(command, " "))
	if err := e.err[ns+"/"+container]; err != nil {
		return "", "", err
	}
	switch container {
	case repoContainer:
		if command[0] != "pgbackrest" {
			return "", "", errors.New("unexpected command")
		}
		return e.info[ns], "", nil
	case databaseContainer:
		if command[0] == "sh" {
			return e.status(ns)
		}
		if command[0] != "psql" {
			return "", "", errors.New("unexpected command")
		}
		return e.psql[ns], "", nil
	}
	return "", "", errors.New("unknown container " + container)
}

// status answers statusCommand as sh would: the pgbackrest part fails with
// the ExecError set for the repository container.
func (e *fakeExec) status(ns string) (string, string, error) {
	code, stderr, info := 0, "", e.info[ns]
	var execErr *kube.ExecError
	if errors.As(e.err[ns+"/"+repoContainer], &execErr) {
		code, stderr, info = execErr.Code, execErr.Stderr, ""
	}
	stdout := fmt.Sprintf("%s\n%s 0\n%s\n%s %d\n", e.psql[ns], inspect.StatusMarker, info, inspect.StatusMarker, code)
	return stdout, inspect.StatusMarker + "\n" + stderr, nil
}

func executeShow(t *testing.T, f *kubefake.Factory, e *fakeExec, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewShowClusterOptions(streams)
	o.exec = e.exec
	o.now = func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }
	cmd := newCmdShowCluster(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestShowClusterJSON(t *testing.T) {
	f := kubefake.NewFactory(clusterObjects(t, "hippo", "default")...)
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
	out, _, err := executeShow(t, f, e, "hippo", "-o", "json")
	if err != nil {
		t.Fatalf("show cluster: %v", err)
	}
	var info ClusterInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if info.Name != "hippo" || info.Namespace != "default" || info.Status != inspect.StatusReady || info.StorageType != "local" {
		t.Errorf("got %s/%s status %q storage %q", info.Namespace, info.Name, info.Status, info.StorageType)
	}
	if !info.Database.Ready || !info.RepoHost.Ready || info.RepoHost.Pod != "hippo-backrest-shared-repo-abc-xyz" || len(info.Pods) != 2 {
		t.Errorf("pods: %+v %+v %+v", info.Database, info.RepoHost, info.Pods)
	}
	if info.Stanza.Status != "no backups" || info.Stanza.Code != 2 || info.Stanza.ArchiveMax != "000000010000000000000004" ||
		info.Stanza.SystemID != 7712375608805392399 || info.Database.SystemID != 7712375608805392399 {
		t.Errorf("stanza: %+v", info.Stanza)
	}
	a := info.Archiving
	wantTime := time.Date(2026, 11, 26, 7, 16, 51, 483940000, time.UTC)
	if a.ArchivedCount != 3 || a.FailedCount != 0 || a.LastArchivedWAL != "000000010000000000000003" ||
		a.LastArchivedTime == nil || !a.LastArchivedTime.Equal(wantTime) || a.Failing {
		t.Errorf("archiving: %+v", a)
	}
	if len(info.Errors) != 0 {
		t.Errorf("errors: %v", info.Errors)
	}
	// One exec, in the database container: psql, then pgbackrest info.
	if len(e.calls) != 1 || !strings.HasPrefix(e.calls[0], "default/hippo-0/database: sh -c ") ||
		!strings.Contains(e.calls[0], "pgbackrest --stanza=db --output=json --io-timeout=10 info") || !strings.Contains(e.calls[0], " psql --no-psqlrc") {
		t.Errorf("execs: %q, want one of psql and pgbackrest info in the database container", e.calls)
	}
}

func TestShowClusterTable(t *testing.T) {
	f := kubefake.NewFactory(clusterObjects(t, "hippo", "default")...)
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
	out, _, err := executeShow(t, f, e, "hippo")
	if err != nil {
		t.Fatal(err)
	}
	rows := tableFields(out)
	want := [][]string{
		{"NAME", "STATUS", "STORAGE", "DATABASE", "REPO", "HOST", "STANZA", "ARCHIVED", "FAILED", "LAST", "ARCHIVED", "WAL", "LAST", "ARCHIVED"},
		{"hippo", "ready", "local", "2/2", "1/1", "no", "backups", "3", "0", "000000010000000000000003"},
	}
	for i, w := range want {
		if i >= len(rows) || strings.Join(rows[i][:len(w)], " ") != strings.Join(w, " ") {
			t.Errorf("row %d = %v, want %v\n%s", i, rows[i], w, out)
		}
	}
	if !strings.Contains(out, "\nPOD ") || !strings.Contains(out, "hippo-0 ") || !strings.Contains(out, "pgbackrest-repo") {
		t.Errorf("no pods table:\n%s", out)
	}
}

// -A reads every cluster; one that cannot be read is shown with its error
// and makes the command fail, without hiding the others.
func TestShowClusterAllNamespaces(t *testing.T) {
	objs := append(clusterObjects(t, "hippo", "a"), clusterObjects(t, "zebra", "b")...)
	objs = append(objs, clusterObjects(t, "rhino", "c")...)
	f := kubefake.NewFactory(objs...)
	e := &fakeExec{
		info: map[string]string{"a": fakecluster.InfoWALNoBackups, "b": fakecluster.InfoUnknownCA, "c": fakecluster.InfoWALNoBackups},
		psql: map[string]string{"a": fakecluster.ArchiverOK, "b": fakecluster.ArchiverOK, "c": fakecluster.ArchiverOK},
		err:  map[string]error{"c/database": errors.New(`pods "rhino-0" is forbidden: cannot create resource "pods/exec"`)},
	}
	out, _, err := executeShow(t, f, e, "-A", "-o", "json")
	if err == nil || !strings.Contains(err.Error(), `cluster c/rhino: psql and pgbackrest info in pod rhino-0: pods "rhino-0" is forbidden`) {
		t.Errorf("error = %v, want the exec error of c/rhino", err)
	}
	var list ClusterList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 3 {
		t.Fatalf("got %d clusters, want 3", len(list.Items))
	}
	got := map[string]ClusterInfo{}
	for _, c := range list.Items {
		got[c.Namespace+"/"+c.Name] = c
	}
	if c := got["a/hippo"]; c.Status != inspect.StatusReady || len(c.Errors) != 0 {
		t.Errorf("a/hippo: %+v", c)
	}
	if c := got["b/zebra"]; c.Status != inspect.StatusStanzaError || c.Stanza.Status != "error" || !strings.Contains(c.Stanza.Message, "unknown ca") {
		t.Errorf("b/zebra: status %q stanza %+v", c.Status, c.Stanza)
	}
	if c := got["c/rhino"]; len(c.Errors) != 1 || !strings.HasPrefix(c.Stanza.Error, "unknown") || !strings.HasPrefix(c.Archiving.Error, "unknown") {
		t.Errorf("c/rhino: %+v", c)
	}

	// The table has a NAMESPACE column.
	out, _, _ = executeShow(t, f, e, "-A")
	if rows := tableFields(out); len(rows) != 4 || rows[0][0] != "NAMESPACE" || rows[1][0] != "a" || rows[3][1] != "rhino" {
		t.Errorf("table:\n%s", out)
	}
}

func TestShowClusterNotFound(t *testing.T) {
	f := kubefake.NewFactory(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	_, _, err := executeShow(t, f, &fakeExec{}, "hippo")
	want := `cluster "hippo" not found in namespace "default"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
	out, errOut, err := executeShow(t, f, &fakeExec{})
	if err != nil || out != "" || errOut != "No clusters found in namespace \"default\".\n" {
		t.Errorf("empty namespace: %v %q %q", err, out, errOut)
	}
	out, _, err = executeShow(t, f, &fakeExec{}, "-o", "json")
	if err != nil || strings.TrimSpace(out) != "{\n    \"items\": []\n}" {
		t.Errorf("empty list as JSON: %v %q", err, out)
	}
}

func TestShowClusterRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hippo", "-A"}, "a cluster NAME and -A cannot be used together"},
		{[]string{"Hippo"}, `cluster name "Hippo" is not valid`},
		{[]string{"a", "b"}, "takes at most one cluster name, got 2 arguments"},
		{[]string{"-o", "wide"}, `invalid output format "wide"`},
	} {
		f := kubefake.NewFactory()
		_, _, err := executeShow(t, f, &fakeExec{}, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.args, err, tc.want)
		}
		assertNoRequests(t, f)
	}
}

// A stanza of another database (a repository kept by delete
// --keep-backups) is an error of the stanza.
func TestShowClusterStanzaOfAnotherDatabase(t *testing.T) {
	f := kubefake.NewFactory(clusterObjects(t, "hippo", "default")...)
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": archiverOtherDatabase}}
	out, _, err := executeShow(t, f, e, "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info ClusterInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Status != inspect.StatusStanzaError || info.Stanza.Status != "error" ||
		!strings.Contains(info.Stanza.Message, "the stanza belongs to another database: system identifier 7712375608805392399 in the repository, 7712385150973042703 in the running database") {
		t.Errorf("status %q, stanza %+v", info.Status, info.Stanza)
	}
}

// A cluster whose only repository is S3 has no repository host: it is
// ready without one, and pgbackrest info runs in the database pod.
func TestShowClusterS3Only(t *testing.T) {
	s := cluster.Spec{Name: "hippo", Namespace: "default", StorageType: []cluster.StorageType{cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "b", Endpoint: "s3.example:9000", CredentialsSecret: "keys"}}
	s.Default()
	data, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.SettingsConfigMapName("hippo"), Namespace: "default", Labels: cluster.Labels("hippo", cluster.ComponentConfig)},
		Data:       map[string]string{cluster.SettingsKey: string(data)},
	}
	db := fakecluster.RunningPod("default", cluster.PodName("hippo"), fakecluster.PodLabels("hippo", cluster.ComponentDatabase), "database", "pgbackrest")
	db.Labels[cluster.LabelPGBackRestCommands] = "true"
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
	out, _, err := executeShow(t, kubefake.NewFactory(cm, db), e, "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info ClusterInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Status != inspect.StatusReady || info.StorageType != "s3" || info.RepoHost.Deployment != "" || info.Stanza.Status != "no backups" {
		t.Errorf("S3-only cluster: %+v", info)
	}
	if len(e.calls) != 1 || !strings.HasPrefix(e.calls[0], "default/hippo-0/database: sh -c") {
		t.Errorf("execs %q, want one in the database container", e.calls)
	}
}

// With the repository host down, psql still runs in the database pod and
// the stanza is unknown, without an exec into the missing pod.
func TestShowClusterRepoHostDown(t *testing.T) {
	objs := clusterObjects(t, "hippo", "default")
	repoPod := objs[2].(*corev1.Pod)
	repoPod.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	repoPod.Status.Conditions[0].Status = corev1.ConditionFalse
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
	out, _, err := executeShow(t, kubefake.NewFactory(objs...), e, "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info ClusterInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Status != inspect.StatusNotReady || !strings.Contains(info.Stanza.Error, "no running repository host pod") || info.Archiving.Error != "" {
		t.Errorf("repository host down: %+v", info)
	}
	if len(e.calls) != 1 || !strings.HasPrefix(e.calls[0], "default/hippo-0/database: psql") {
		t.Errorf("execs %q, want psql alone", e.calls)
	}
}

// A pod whose node stopped answering is named with its node under the pods table.
func TestShowClusterNodeNotReady(t *testing.T) {
	objects := clusterObjects(t, "hippo", "default")
	lost := objects[1].(*corev1.Pod)
	lost.Spec.NodeName = "kpgo-node-2"
	// The node controller marks the pods of a lost node not ready.
	for i := range lost.Status.Conditions {
		if lost.Status.Conditions[i].Type == corev1.PodReady {
			lost.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	objects = append(objects, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kpgo-node-2"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionUnknown, LastTransitionTime: metav1.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC),
	}}}})
	f := kubefake.NewFactory(objects...)
	e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
	out, _, err := executeShow(t, f, e, "hippo")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\npod hippo-0: node kpgo-node-2 is not ready (Ready=Unknown since 2026-12-04T08:00:00Z)\n"; !strings.Contains(out, want) {
		t.Errorf("show cluster lacks %q:\n%s", want, out)
	}
	if strings.Count(out, "is not ready") != 1 {
		t.Errorf("only the database pod's node is not ready:\n%s", out)
	}
}
