// Package version owns the build identity of the kubectl-pgo binary. The
// variables are stamped at link time, e.g.
//
//	go build -ldflags "-X github.com/kubectl-pgo/kubectl-pgo/pkg/version.Version=v0.1.0" ./cmd/kubectl-pgo
package version

import (
	"fmt"
	"runtime"
)

// Set through -ldflags -X; they stay vars (not consts) so the linker can
// overwrite them.
var (
	// Version is the release, e.g. v0.1.0.
	Version = "dev"
	// GitCommit is the commit the binary was built from.
	GitCommit = "unknown"
	// BuildDate is the build time in RFC 3339, UTC.
	BuildDate = "unknown"
)

// UserAgent is sent to the API server so audit logs show which tool made
// a request.
func UserAgent() string {
	return fmt.Sprintf("kubectl-pgo/%s (%s/%s) %s", Version, runtime.GOOS, runtime.GOARCH, GitCommit)
}

// Info describes the client binary. The JSON names follow kubectl's
// version output so scripts can treat both alike.
type Info struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Compiler  string `json:"compiler"`
	Platform  string `json:"platform"`
}

// Get returns the build identity of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		GitCommit: GitCommit,
		BuildDate: BuildDate,
		GoVersion: runtime.Version(),
		Compiler:  runtime.Compiler,
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}
