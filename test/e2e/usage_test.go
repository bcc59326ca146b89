package e2e

import (
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// Mistakes, through kubectl's plugin discovery: exit status 1 and a message that says what to
// do, as kubectl's own commands do.
func TestUsageMistakesThroughKubectl(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"verison"}, want: []string{`error: unknown command "verison" for "kubectl pgo"`, "Did you mean this?\n\tversion\n", "See 'kubectl pgo --help' for usage."}},
		{args: []string{"version", "--bogus"}, want: []string{"error: unknown flag: --bogus", "See 'kubectl pgo version --help' for usage."}},
		{args: []string{"version", "-o", "wide"}, want: []string{`error: invalid output format "wide": allowed formats are table, json, yaml`}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := env.PGO(t, tc.args...)
			if res.ExitCode != 1 {
				t.Errorf("exit status %d, want 1", res.ExitCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.Stderr)
				}
			}
			if res.Stdout != "" {
				t.Errorf("stdout is not empty:\n%s", res.Stdout)
			}
		})
	}
}
