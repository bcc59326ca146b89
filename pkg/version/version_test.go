package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestGetReflectsLinkerVariables(t *testing.T) {
	old := [3]string{Version, GitCommit, BuildDate}
	t.Cleanup(func() { Version, GitCommit, BuildDate = old[0], old[1], old[2] })
	// What -ldflags "-X ...version.Version=v1.0.0" does before main runs.
	Version, GitCommit, BuildDate = "v1.0.0", "0123abc", "2025-06-01T00:00:00Z"

	got := Get()
	want := Info{
		Version:   "v1.0.0",
		GitCommit: "0123abc",
		BuildDate: "2025-06-01T00:00:00Z",
		GoVersion: runtime.Version(),
		Compiler:  runtime.Compiler,
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if got != want {
		t.Errorf("Get() = %+v, want %+v", got, want)
	}
	if ua := UserAgent(); !strings.HasPrefix(ua, "kubectl-pgo/v1.0.0 (") {
		t.Errorf("UserAgent() = %q", ua)
	}
}
