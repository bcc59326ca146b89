package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// TestReadCommandRequests pins the requests of the read commands (for one
// cluster, or two with -A): typed clients only (no discovery, no RESTMapper), and the few
// reads each needs besides its execs. hack/bench.sh counts the same on
// the real cluster.
func TestReadCommandRequests(t *testing.T) {
	tests := []struct {
		name      string
		run       func(t *testing.T, f *kubefake.Factory) (execs int, err error)
		wantReads string
		wantExecs int
	}{
		{
			name: "show backup",
			run: func(t *testing.T, f *kubefake.Factory) (int, error) {
				var calls []fakecluster.ExecCall
				_, _, err := runShow(t, f, infoExec(t, &calls, "info-full-diff-incr.json"), "hippo")
				return len(calls), err
			},
			wantReads: "list jobs, list pods",
			wantExecs: 1,
		},
		{
			// Two clusters: one list of pods for both, one exec each.
			name: "show backup -A",
			run: func(t *testing.T, f *kubefake.Factory) (int, error) {
				var calls []fakecluster.ExecCall
				_, _, err := runShow(t, f, infoExec(t, &calls, "info-full-diff-incr.json"), "-A")
				return len(calls), err
			},
			wantReads: "list configmaps, list jobs, list pods",
			wantExecs: 2,
		},
		{
			name: "show archive",
			run: func(t *testing.T, f *kubefake.Factory) (int, error) {
				var calls []fakecluster.ExecCall
				_, _, err := runShowArchive(t, f, archiveExec(t, &calls, "archiver-ok.json", "check-ok.txt", 0), "hippo")
				return len(calls), err
			},
			wantReads: "list pods",
			wantExecs: 2,
		},
		{
			// The settings and the pods, then one exec in the database
			// container: psql and pgbackrest info.
			name: "show cluster",
			run: func(t *testing.T, f *kubefake.Factory) (int, error) {
				e := &fakeExec{info: map[string]string{"default": fakecluster.InfoWALNoBackups}, psql: map[string]string{"default": fakecluster.ArchiverOK}}
				_, _, err := executeShow(t, f, e, "hippo")
				return len(e.calls), err
			},
			wantReads: "get configmaps, list pods",
			wantExecs: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(append(clusterObjects(t, "hippo", "default"), clusterObjects(t, "zebra", "pg")...)...)
			f.NoDiscovery = true
			execs, err := tc.run(t, f)
			if err != nil {
				t.Fatal(err)
			}
			var reads []string
			for _, a := range f.Clientset.Actions() {
				reads = append(reads, a.GetVerb()+" "+a.GetResource().Resource)
			}
			slices.Sort(reads)
			if got := strings.Join(reads, ", "); got != tc.wantReads || execs != tc.wantExecs {
				t.Errorf("requests: %s and %d execs, want %s and %d execs", got, execs, tc.wantReads, tc.wantExecs)
			}
		})
	}
}
