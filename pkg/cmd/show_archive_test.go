package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/util/exec"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

func runShowArchive(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewShowArchiveOptions(streams)
	o.exec = exec
	cmd := newCmdShowArchive(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// archiveExec answers psql with the archiver capture, and pgbackrest check
// with its capture and exit code.
func archiveExec(t *testing.T, calls *[]fakecluster.ExecCall, archiver, check string, checkCode int) execFunc {
	var mu sync.Mutex
	return func(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		*calls = append(*calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
		mu.Unlock()
		switch command[0] {
		case "psql":
			return fakecluster.RepoTestdata(t, ""+archiver), "", nil
		case "pgbackrest":
			out := fakecluster.RepoTestdata(t, ""+check)
			if checkCode != 0 {
				return "", out, &kube.ExecError{Namespace: ns, Pod: pod, Container: container, Command: command, Code: checkCode, Err: exec.CodeExitError{Code: checkCode}}
			}
			return out, "", nil
		}
		t.Errorf("unexpected exec %q", command)
		return "", "", nil
	}
}

func TestShowArchive(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShowArchive(t, f, archiveExec(t, &calls, "archiver-ok.json", "check-ok.txt", 0), "hippo")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-archive.golden", out)
	if len(calls) != 2 {
		t.Fatalf("execs = %+v", calls)
	}
	for _, c := range calls {
		if c.Pod != "hippo-0" || c.Container != "database" {
			t.Errorf("exec in %s/%s, want hippo-0/database", c.Pod, c.Container)
		}
	}

	out, _, err = runShowArchive(t, f, archiveExec(t, &calls, "archiver-ok.json", "check-ok.txt", 0), "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s ArchiveStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !s.Healthy || s.Archiver == nil || s.Archiver.FailedCount != 0 || s.Archiver.ReadyCount != 0 || s.Check == nil || !s.Check.OK ||
		s.Check.ArchivedWAL != "00000001000000000000000F" {
		t.Errorf("status = %s", out)
	}
}

func TestShowArchiveFailing(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShowArchive(t, f, archiveExec(t, &calls, "archiver-failing.json", "check-repo-down.txt", 49), "hippo")
	if err == nil || !strings.HasPrefix(err.Error(), "WAL archiving fails:\n  cluster default/hippo: the last archive attempt failed (segment 000000010000000000000011 at 2026-11-26T07:45:16Z); pgbackrest check failed with exit code 49: ERROR: [049]: timeout connecting to 'hippo-backrest-shared-repo:8432'") {
		t.Errorf("error = %v", err)
	}
	checkGolden(t, "show-archive-failing.golden", out)
}

func TestShowArchiveNoCheck(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShowArchive(t, f, archiveExec(t, &calls, "archiver-ok.json", "check-ok.txt", 0), "hippo", "--no-check")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Command[0] != "psql" || strings.Contains(out, "pgbackrest check") {
		t.Errorf("execs %+v, output:\n%s", calls, out)
	}
}

func TestShowArchiveDatabaseDown(t *testing.T) {
	objects := renderedClusterObjects(t, "hippo", "default")
	f := kubefake.NewFactory(objects[:len(objects)-1]...) // without the database pod
	_, _, err := runShowArchive(t, f, noExec(t), "hippo")
	if err == nil || !strings.HasPrefix(err.Error(), `cannot show the archiving of cluster "hippo": the database is not running: no running pod matches`) {
		t.Errorf("error = %v", err)
	}
}

func TestShowArchiveRequests(t *testing.T) {
	t.Run("one list, then the execs", func(t *testing.T) {
		f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
		var calls []fakecluster.ExecCall
		if _, _, err := runShowArchive(t, f, archiveExec(t, &calls, "archiver-ok.json", "check-ok.txt", 0), "hippo"); err != nil {
			t.Fatal(err)
		}
		var reqs []string
		for _, a := range f.Clientset.Actions() {
			reqs = append(reqs, a.GetVerb()+" "+a.GetResource().Resource)
		}
		if got := strings.Join(reqs, ", "); got != "list pods" || len(calls) != 2 {
			t.Errorf("requests = %s and %d execs, want list pods and 2 execs", got, len(calls))
		}
	})
	t.Run("a missing cluster is named as such", func(t *testing.T) {
		_, _, err := runShowArchive(t, kubefake.NewFactory(), noExec(t), "hippo")
		if err == nil || !strings.HasPrefix(err.Error(), `cluster "hippo" not found in namespace "default"`) {
			t.Errorf("error = %v", err)
		}
	})
}
