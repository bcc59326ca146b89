package cmd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// runVerify runs `verify` with args against f.
func runVerify(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewVerifyOptions(streams)
	o.exec = exec
	err := runCommand(newCmdVerify(f, o), args...)
	return out.String(), errOut.String(), err
}

// Bad input is refused before any request.
func TestVerifyBadInputSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", nil, "a cluster name is required: verify NAME"},
		{"two names", []string{"a", "b"}, "verify takes one cluster name, got 2 arguments"},
		{"bad name", []string{"Hippo_1"}, `cluster name "Hippo_1" is not valid`},
		{"repo zero", []string{"hippo", "--repo=0"}, "invalid --repo 0: a repository is numbered 1 to 256"},
		{"repo too high", []string{"hippo", "--repo=257"}, "invalid --repo 257"},
		{"unknown storage type", []string{"hippo", "--pgbackrest-storage-type=ftp"}, `invalid --pgbackrest-storage-type: "ftp" is not a storage type`},
		{"repo and storage type", []string{"hippo", "--repo=1", "--pgbackrest-storage-type=local"}, "--repo and --pgbackrest-storage-type both choose the repository"},
		{"zero timeout", []string{"hippo", "--timeout=0s"}, "invalid --timeout 0s"},
		{"bad output", []string{"hippo", "-o", "wide"}, `invalid output format "wide"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			_, _, err := runVerify(t, f, noExec(t), tc.args...)
			checkRefused(t, f, err, tc.want)
		})
	}
}

// verifyExec answers pgbackrest verify with a captured sample.
func verifyExec(t *testing.T, calls *[]fakecluster.ExecCall, sample string, code int) execFunc {
	stdout := fakecluster.RepoTestdata(t, "verify/"+sample+".stdout")
	stderr := fakecluster.RepoTestdata(t, "verify/"+sample+".stderr")
	return fakecluster.RecordingExec(calls, func(pod, _ string, command []string) (string, string, error) {
		if code != 0 {
			return stdout, stderr, &kube.ExecError{Namespace: "default", Pod: pod, Command: command, Code: code, Stderr: stderr}
		}
		return stdout, stderr, nil
	})
}

func TestVerifyReports(t *testing.T) {
	for _, tc := range []struct {
		sample  string
		code    int
		wantErr []string
		wantOut []string
	}{
		{sample: "ok", wantOut: []string{"repo1   posix   ok       2/2         1/1", "every backup and WAL segment verified"}},
		{sample: "empty", wantOut: []string{"repo1   posix   ok       0/0         0/0"}},
		{
			sample:  "checksum",
			wantErr: []string{`verification of cluster "hippo" failed in repo1`, "20261126-094621F/pg_data/base/1/1259.lz4", "take a new full backup", "--target=LABEL"},
			wantOut: []string{"failed", "0/1", "repo1: backup 20261126-094621F is invalid: 963 of 964 files valid (checksum invalid: 1)", "repo1: invalid checksum '20261126-094621F/pg_data/base/1/1259.lz4'"},
		},
		{
			sample:  "several",
			wantErr: []string{"1249.lz4", "1259.lz4", "2609.lz4"},
			wantOut: []string{"(missing: 1, checksum invalid: 2)", "repo1: file missing '20261126-094621F/pg_data/base/1/2609.lz4'"},
		},
		{
			sample: "aborted", code: 29,
			wantErr: []string{"failed in repo1", "kubectl logs deployment/hippo-backrest-shared-repo"},
			wantOut: []string{"repo1   posix   failed   -", "repo1: pgbackrest verify aborted with exit code 29: [029]: unexpected eof in compressed data"},
		},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			var calls []fakecluster.ExecCall
			out, _, err := runVerify(t, f, verifyExec(t, &calls, tc.sample, tc.code), "hippo")
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", err, want)
				}
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if len(calls) != 1 || calls[0].Container != repoContainer || !slices.Equal(calls[0].Command, repo.VerifyCommand(1)) ||
				!strings.HasPrefix(calls[0].Pod, "hippo-backrest-shared-repo-") {
				t.Errorf("execs = %+v", calls)
			}
		})
	}
}

func TestVerifyJSON(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runVerify(t, f, verifyExec(t, &calls, "checksum", 0), "hippo", "-o", "json")
	if err == nil {
		t.Fatal("no error for an invalid backup")
	}
	var report VerifyReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if report.OK || len(report.Repositories) != 1 || report.Repositories[0].OK || report.Repositories[0].Result == nil ||
		len(report.Repositories[0].Result.Problems) != 1 || report.Repositories[0].Result.Problems[0].File != "20261126-094621F/pg_data/base/1/1259.lz4" {
		t.Errorf("report = %+v", report)
	}
}

// The flags choose among the cluster's repositories; one it does not have
// is an error that lists those it has, and nothing runs.
func TestVerifySelectsRepositories(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    []int
		wantErr string
	}{
		{args: nil, want: []int{1}},
		{args: []string{"--repo=1"}, want: []int{1}},
		{args: []string{"--pgbackrest-storage-type=posix"}, want: []int{1}},
		{args: []string{"--repo=2"}, wantErr: `cluster "hippo" has no repo2: its repositories are repo1 (posix)`},
		{args: []string{"--pgbackrest-storage-type=s3"}, wantErr: `cluster "hippo" has no s3 repository: its repositories are repo1 (posix)`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			var calls []fakecluster.ExecCall
			_, _, err := runVerify(t, f, verifyExec(t, &calls, "ok", 0), append([]string{"hippo"}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range calls {
				for i := 1; i <= maxRepoIndex; i++ {
					if slices.Equal(c.Command, repo.VerifyCommand(i)) {
						got = append(got, i)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("verified repositories %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerifyMissingCluster(t *testing.T) {
	f := kubefake.NewFactory()
	_, _, err := runVerify(t, f, noExec(t), "hippo")
	if err == nil || !strings.Contains(err.Error(), `cluster "hippo" not found in namespace "default"`) {
		t.Errorf("error = %v", err)
	}
}

// twoRepoObjects are renderedClusterObjects with a second repository, in S3.
func twoRepoObjects(t *testing.T) []runtime.Object {
	t.Helper()
	objects := renderedClusterObjects(t, "hippo", "default")
	for _, obj := range objects {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != cluster.SettingsConfigMapName("hippo") {
			continue
		}
		spec, err := cluster.SpecFromConfigMap(cm)
		if err != nil {
			t.Fatal(err)
		}
		spec.StorageType = []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3}
		data, err := yaml.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		cm.Data[cluster.SettingsKey] = string(data)
	}
	return objects
}

// Each repository is verified, and reported, on its own: a bad repo2
// fails the command and is named, while repo1 is reported ok.
func TestVerifyEveryRepository(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    []int
		wantOut []string
	}{
		{args: nil, want: []int{1, 2}, wantOut: []string{"repo1   posix   ok", "repo2   s3      failed", "repo2: invalid checksum"}},
		{args: []string{"--repo=2"}, want: []int{2}, wantOut: []string{"repo2   s3     failed"}},
		{args: []string{"--pgbackrest-storage-type=s3"}, want: []int{2}, wantOut: []string{"repo2   s3     failed"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := kubefake.NewFactory(twoRepoObjects(t)...)
			ok, bad := verifyExec(t, new([]fakecluster.ExecCall), "ok", 0), verifyExec(t, new([]fakecluster.ExecCall), "checksum", 0)
			var calls []fakecluster.ExecCall
			exec := fakecluster.RecordingExec(&calls, func(pod, container string, command []string) (string, string, error) {
				if slices.Contains(command, "--repo=2") {
					return bad(context.Background(), "default", pod, container, command)
				}
				return ok(context.Background(), "default", pod, container, command)
			})
			out, _, err := runVerify(t, f, exec, append([]string{"hippo"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), "failed in repo2") || strings.Contains(err.Error(), "repo1") {
				t.Errorf("error = %v, want repo2 named, and not repo1", err)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			var got []int
			for _, c := range calls {
				for i := 1; i <= 2; i++ {
					if slices.Equal(c.Command, repo.VerifyCommand(i)) {
						got = append(got, i)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("verified repositories %v, want %v", got, tc.want)
			}
		})
	}
}
