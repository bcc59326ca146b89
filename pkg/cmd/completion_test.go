package cmd

import (
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	tests := []struct {
		shell string
		// Each generated script names the executable it completes.
		want []string
	}{
		{shell: "bash", want: []string{"# bash completion V2 for kubectl-pgo", "__start_kubectl-pgo"}},
		{shell: "zsh", want: []string{"#compdef kubectl-pgo", "compdef _kubectl-pgo kubectl-pgo"}},
		{shell: "fish", want: []string{"# fish completion for kubectl-pgo", "complete -c kubectl-pgo"}},
		{shell: "powershell", want: []string{"# powershell completion for kubectl-pgo", "Register-ArgumentCompleter"}},
	}
	for _, tc := range tests {
		t.Run(tc.shell, func(t *testing.T) {
			out, errOut, err := executeRoot(t, "completion", tc.shell)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s script lacks %q", tc.shell, w)
				}
			}
			if errOut != "" {
				t.Errorf("unexpected stderr: %q", errOut)
			}
		})
	}
}

func TestCompletionErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{
			name:    "unsupported shell",
			args:    []string{"tcsh"},
			wantErr: "unsupported shell \"tcsh\": choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "no shell",
			args:    nil,
			wantErr: "shell not specified: choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "two shells",
			args:    []string{"bash", "zsh"},
			wantErr: "too many arguments: expected one shell, got [\"bash\" \"zsh\"]\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "case matters",
			args:    []string{"Bash"},
			wantErr: "unsupported shell \"Bash\": choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := executeRoot(t, append([]string{"completion"}, tc.args...)...)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if out != "" {
				t.Errorf("printed a script despite the error")
			}
		})
	}
}

// TestCompletionOfFlagValues exercises the hidden __complete command that
// the scripts (and kubectl_complete-pgo) call.
func TestCompletionOfFlagValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "subcommands", args: []string{"__complete", ""}, want: []string{"completion", "create", "delete", "show", "version"}},
		{name: "shells", args: []string{"__complete", "completion", ""}, want: []string{"bash", "zsh", "fish", "powershell"}},
		{name: "output formats", args: []string{"__complete", "version", "-o", ""}, want: []string{"table", "json", "yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := executeRoot(t, tc.args...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\t") && !strings.Contains(out, w+"\n") {
					t.Errorf("completions lack %q:\n%s", w, out)
				}
			}
		})
	}
}
