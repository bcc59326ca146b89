package cmd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/util/exec"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
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

// archiveExec answers psql with the archiver capture, pgbackrest check
// with its capture and exit code, and the listing of the archive with
// segments without a gap.
func archiveExec(t *testing.T, calls *[]fakecluster.ExecCall, archiver, check string, checkCode int) execFunc {
	return archiveExecListing(t, calls, archiver, check, checkCode, "info-wal-complete.txt")
}

// archiveExecListing is archiveExec with the listing of the archive in
// the testdata file listing, which follows the archiver's status in one
// exec.
func archiveExecListing(t *testing.T, calls *[]fakecluster.ExecCall, archiver, check string, checkCode int, listing string) execFunc {
	var mu sync.Mutex
	return func(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		*calls = append(*calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
		mu.Unlock()
		switch command[0] {
		case "sh":
			if !slices.Contains(command, repo.ArchiverQuery) || !slices.Contains(command, "wal") {
				t.Errorf("the archiver and the archive are read with %q", command[len(command)-4:])
			}
			return fakecluster.RepoTestdata(t, archiver) + "\n" + repo.ArchiverSeparator + "\n" + fakecluster.RepoTestdata(t, listing), "", nil
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
	if len(calls) != 1 || calls[0].Command[0] != "sh" || strings.Contains(out, "pgbackrest check") {
		t.Errorf("execs %+v, output:\n%s", calls, out)
	}
}

// WAL missing from the archive (dropped by a full archive-push queue) is
// a failure until a backup starts after it.
func TestShowArchiveWALDropped(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShowArchive(t, f, archiveExecListing(t, &calls, "archiver-ok.json", "check-ok.txt", 0, "info-wal-gap.txt"), "hippo")
	want := "WAL archiving fails:\n  cluster default/hippo: WAL was dropped (the archive-push queue was full) or lost: repo1 is missing WAL 000000010000000000000004 to 000000010000000000000007 (4 segments) after 000000010000000000000003; no point after it can be recovered until a new backup: run kubectl pgo backup hippo"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
	checkGolden(t, "show-archive-wal-dropped.golden", out)

	out, _, _ = runShowArchive(t, f, archiveExecListing(t, &calls, "archiver-ok.json", "check-ok.txt", 0, "info-wal-gap.txt"), "hippo", "-o", "json")
	var s ArchiveStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if s.Healthy || len(s.WALGaps) != 1 || s.WALGaps[0].First != "000000010000000000000004" || s.WALGaps[0].Segments != 4 || s.WALGaps[0].Closed() {
		t.Errorf("status = %s", out)
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
