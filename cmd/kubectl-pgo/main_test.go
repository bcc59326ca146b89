package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runMainEnv makes the test binary act as kubectl-pgo, with the arguments after "--".
const runMainEnv = "KPGO_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"kubectl-pgo"}, os.Args[i+1:]...)
				break
			}
		}
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// TestBadInput checks what a user sees for mistakes: one "error: " line (or block) on stderr,
// nothing on stdout, exit status 1, and a way forward.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{
			name:       "misspelt command",
			args:       []string{"verison"},
			wantStderr: "error: unknown command \"verison\" for \"kubectl pgo\"\n\nDid you mean this?\n\tversion\n\nSee 'kubectl pgo --help' for usage.\n",
		},
		{
			name:       "misspelt command with a flag",
			args:       []string{"versoin", "--client"},
			wantStderr: "error: unknown command \"versoin\" for \"kubectl pgo\"\n\nDid you mean this?\n\tversion\n\nSee 'kubectl pgo --help' for usage.\n",
		},
		{
			name:       "unknown flag",
			args:       []string{"version", "--bogus"},
			wantStderr: "error: unknown flag: --bogus\nSee 'kubectl pgo version --help' for usage.\n",
		},
		{
			name: "unknown global flag",
			args: []string{"--namspace", "x", "version"},
			// cobra still finds the command after it, whose help covers the global flags too.
			wantStderr: "error: unknown flag: --namspace\nSee 'kubectl pgo version --help' for usage.\n",
		},
		{
			name:       "invalid output format",
			args:       []string{"version", "--client", "-o", "wide"},
			wantStderr: "error: invalid output format \"wide\": allowed formats are table, json, yaml\n",
		},
		{
			name:       "unsupported shell",
			args:       []string{"completion", "tcsh"},
			wantStderr: "error: unsupported shell \"tcsh\": choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runPlugin(t, tc.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if stderr != tc.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tc.wantStderr)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
		})
	}
}

func TestSuccessExitsZero(t *testing.T) {
	stdout, stderr, code := runPlugin(t, "version", "--client")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "client") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func runPlugin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	// No kubeconfig is read by these commands; an empty one keeps the user's out of it.
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "KUBECONFIG="+os.DevNull)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}
