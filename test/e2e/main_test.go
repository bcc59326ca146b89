package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestMain runs the tests, then the secret leak check: no output of any
// `kubectl pgo` call of the run may hold a password or a private key of a
// test namespace's Secrets (the framework records both; each namespace's
// objects and Job logs are checked before it is deleted).
func TestMain(m *testing.M) {
	code := m.Run()
	framework.StopShared()
	framework.StopEmulators()
	if leaks := framework.CheckPluginOutput(os.Stdout); len(leaks) > 0 {
		fmt.Println("FAIL: secret leak check")
		code = 1
	}
	os.Exit(code)
}
