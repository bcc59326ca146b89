package cmd

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/version"
)

var fakeServer = &apiversion.Info{
	Major:      "1",
	Minor:      "33",
	GitVersion: "v1.33.1",
	GitCommit:  "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
	GoVersion:  "go1.24.2",
	Compiler:   "gc",
	Platform:   "linux/arm64",
}

// setClientVersion stamps the build variables as ldflags would.
func setClientVersion(t *testing.T) version.Info {
	t.Helper()
	old := [3]string{version.Version, version.GitCommit, version.BuildDate}
	t.Cleanup(func() { version.Version, version.GitCommit, version.BuildDate = old[0], old[1], old[2] })
	version.Version, version.GitCommit, version.BuildDate = "v0.3.0", "abc1234", "2025-01-02T03:04:05Z"
	return version.Get()
}

func runVersion(t *testing.T, f *kubefake.Factory, args ...string) (string, error) {
	t.Helper()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	cmd := NewCmdVersion(f, streams)
	// As under the root command, which owns error printing.
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// tableFields splits table output into lines of whitespace-separated words;
// alignment itself is covered by the printers golden tests.
func tableFields(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

func TestVersion(t *testing.T) {
	client := setClientVersion(t)
	platform := runtime.GOOS + "/" + runtime.GOARCH
	header := []string{"COMPONENT", "VERSION", "GIT", "COMMIT", "GO", "VERSION", "PLATFORM"}
	clientRow := []string{"client", "v0.3.0", "abc1234", runtime.Version(), platform}
	serverRow := []string{"server", "v1.33.1", fakeServer.GitCommit, "go1.24.2", "linux/arm64"}

	tests := []struct {
		name      string
		args      []string
		wantTable [][]string
		wantDoc   *Versions
		decode    func([]byte, any) error
	}{
		{name: "default table", wantTable: [][]string{header, clientRow, serverRow}},
		{name: "explicit table", args: []string{"-o", "table"}, wantTable: [][]string{header, clientRow, serverRow}},
		{name: "client only table", args: []string{"--client"}, wantTable: [][]string{header, clientRow}},
		{
			name:    "json",
			args:    []string{"-o", "json"},
			wantDoc: &Versions{ClientVersion: client, ServerVersion: fakeServer},
			decode:  json.Unmarshal,
		},
		{
			name:    "yaml",
			args:    []string{"--output=yaml"},
			wantDoc: &Versions{ClientVersion: client, ServerVersion: fakeServer},
			decode:  func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) },
		},
		{
			name:    "client only json",
			args:    []string{"--client", "-o", "json"},
			wantDoc: &Versions{ClientVersion: client},
			decode:  json.Unmarshal,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory()
			f.FakeDiscovery().FakedServerVersion = fakeServer
			out, err := runVersion(t, f, tc.args...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantTable != nil {
				got := tableFields(out)
				if !equalRows(got, tc.wantTable) {
					t.Errorf("table:\n%s\nwant rows %q", out, tc.wantTable)
				}
				return
			}
			var got Versions
			if err := tc.decode([]byte(out), &got); err != nil {
				t.Fatalf("decode output: %v\n%s", err, out)
			}
			if !equalVersions(got, *tc.wantDoc) {
				t.Errorf("got %+v (server %+v), want %+v (server %+v)", got, got.ServerVersion, *tc.wantDoc, tc.wantDoc.ServerVersion)
			}
		})
	}
}

func TestVersionJSONFieldNames(t *testing.T) {
	setClientVersion(t)
	f := kubefake.NewFactory()
	f.FakeDiscovery().FakedServerVersion = fakeServer
	out, err := runVersion(t, f, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	// Same keys as kubectl version -o json, so scripts can share jq filters.
	for _, key := range []string{`"clientVersion"`, `"serverVersion"`, `"gitVersion": "v1.33.1"`, `"gitCommit": "abc1234"`, `"platform"`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON output lacks %s:\n%s", key, out)
		}
	}
}

func TestVersionServerErrors(t *testing.T) {
	tests := []struct {
		name       string
		factoryErr error
		serverErr  error
		wantErr    string
	}{
		{
			name:      "server answers with an error",
			serverErr: apierrors.NewUnauthorized("token expired"),
			wantErr:   "the Kubernetes API server at https://fake.invalid refused the version request: token expired",
		},
		{
			name:      "server not reached",
			serverErr: errors.New("dial tcp: i/o timeout"),
			wantErr:   "could not reach the Kubernetes API server at https://fake.invalid: dial tcp: i/o timeout",
		},
		{
			name:       "no usable kubeconfig",
			factoryErr: errors.New("invalid configuration: no configuration has been provided"),
			wantErr:    "could not determine the Kubernetes API server: invalid configuration: no configuration has been provided",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setClientVersion(t)
			f := kubefake.NewFactory()
			f.Err = tc.factoryErr
			if tc.serverErr != nil {
				f.Clientset.PrependReactor("get", "version", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
					return true, nil, tc.serverErr
				})
			}
			out, err := runVersion(t, f)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if rows := tableFields(out); len(rows) != 2 || rows[1][0] != "client" || rows[1][1] != "v0.3.0" {
				t.Errorf("client version not printed before the error:\n%s", out)
			}
		})
	}
}

// TestVersionUnreachableServer goes through the real root command and
// kubeconfig loading against an address nothing listens on.
func TestVersionUnreachableServer(t *testing.T) {
	setClientVersion(t)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: nowhere
  context:
    cluster: nowhere
    user: nobody
users:
- name: nobody
  user:
    token: not-a-token
current-context: nowhere
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantClient string
		wantInErr  string
	}{
		{name: "table", args: nil, wantClient: "client      v0.3.0"},
		{name: "json", args: []string{"-o", "json"}, wantClient: `"version": "v0.3.0"`},
		{name: "yaml", args: []string{"-o", "yaml"}, wantClient: "version: v0.3.0"},
		{
			// The URL in the error shows the timeout reached the request.
			name: "request timeout", args: []string{"--request-timeout", "2s"},
			wantClient: "client      v0.3.0", wantInErr: "/version?timeout=2s",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--kubeconfig", kubeconfig, "version"}, tc.args...)
			out, _, err := executeRoot(t, args...)
			if err == nil {
				t.Fatalf("expected an error for an unreachable server; output:\n%s", out)
			}
			if want := "could not reach the Kubernetes API server at https://127.0.0.1:1: "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want prefix %q", err, want)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantInErr)
			}
			if !strings.Contains(out, tc.wantClient) {
				t.Errorf("client version missing from output:\n%s", out)
			}
			if strings.Contains(out, "\nserver ") || strings.Contains(out, "serverVersion") {
				t.Errorf("output has a server version:\n%s", out)
			}
		})
	}
}

func TestVersionInvalidOutput(t *testing.T) {
	f := kubefake.NewFactory()
	out, err := runVersion(t, f, "-o", "wide")
	want := `invalid output format "wide": allowed formats are table, json, yaml`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if out != "" {
		t.Errorf("printed output despite the error:\n%s", out)
	}
	if n := len(f.Clientset.Actions()); n != 0 {
		t.Errorf("contacted the server %d times before validating flags", n)
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func equalVersions(a, b Versions) bool {
	if a.ClientVersion != b.ClientVersion {
		return false
	}
	if a.ServerVersion == nil || b.ServerVersion == nil {
		return a.ServerVersion == nil && b.ServerVersion == nil
	}
	return *a.ServerVersion == *b.ServerVersion
}
