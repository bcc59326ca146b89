package cmd

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// executeRoot runs the full command tree with args and returns what it
// wrote to stdout and stderr.
func executeRoot(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdPGO(streams)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestRootGlobalFlags(t *testing.T) {
	root := NewCmdPGO(genericiooptions.NewTestIOStreamsDiscard())
	tests := []struct {
		name      string
		shorthand string
	}{
		{name: "namespace", shorthand: "n"},
		{name: "context"},
		{name: "kubeconfig"},
		{name: "cluster"},
		{name: "user"},
		{name: "request-timeout"},
		{name: "server", shorthand: "s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flag := root.PersistentFlags().Lookup(tc.name)
			if flag == nil {
				t.Fatalf("root has no persistent --%s flag", tc.name)
			}
			if flag.Shorthand != tc.shorthand {
				t.Errorf("--%s shorthand = %q, want %q", tc.name, flag.Shorthand, tc.shorthand)
			}
		})
	}
}

func TestRootSubcommands(t *testing.T) {
	root := NewCmdPGO(genericiooptions.NewTestIOStreamsDiscard())
	for _, name := range []string{"create", "show", "delete", "version", "completion"} {
		if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("subcommand %q not found (got %v, %v)", name, c.Name(), err)
		}
	}
	// The completion command is ours, with the plugin's help, not cobra's
	// default. (No count of subcommands: it would break with each new one.)
	if c, _, _ := root.Find([]string{"completion"}); !strings.Contains(c.Long, "kubectl_complete-pgo") {
		t.Errorf("completion is not the plugin's own command: %q", c.Short)
	}
}

func TestRootHelpUsesDisplayName(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{args: nil, want: "kubectl pgo [command]"},
		{args: []string{"--help"}, want: "Exit status:\n  0  the command succeeded\n  1  the command failed"},
		{args: []string{"version", "--help"}, want: "kubectl pgo version [flags]"},
		{args: []string{"create"}, want: "kubectl pgo create COMMAND"},
		{args: []string{"show", "-h"}, want: "kubectl pgo show COMMAND"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, _, err := executeRoot(t, tc.args...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("help does not contain %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestRootUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{
			name:    "unknown flag on root",
			args:    []string{"--foo"},
			wantErr: "unknown flag: --foo\nSee 'kubectl pgo --help' for usage.",
		},
		{
			name:    "unknown flag on subcommand",
			args:    []string{"version", "--foo"},
			wantErr: "unknown flag: --foo\nSee 'kubectl pgo version --help' for usage.",
		},
		{
			name:    "unknown shorthand",
			args:    []string{"version", "-z"},
			wantErr: "unknown shorthand flag: 'z' in -z\nSee 'kubectl pgo version --help' for usage.",
		},
		{
			name:    "flag without value",
			args:    []string{"version", "-o"},
			wantErr: "flag needs an argument: 'o' in -o\nSee 'kubectl pgo version --help' for usage.",
		},
		{
			name:    "unknown command with suggestion",
			args:    []string{"verison"},
			wantErr: "unknown command \"verison\" for \"kubectl pgo\"\n\nDid you mean this?\n\tversion\n\nSee 'kubectl pgo --help' for usage.",
		},
		{
			name:    "misspelt command before a flag",
			args:    []string{"verison", "--client"},
			wantErr: "unknown command \"verison\" for \"kubectl pgo\"\n\nDid you mean this?\n\tversion\n\nSee 'kubectl pgo --help' for usage.",
		},
		{
			name:    "unknown subcommand of a group before a flag",
			args:    []string{"create", "nothing", "--bogus"},
			wantErr: "unknown command \"nothing\" for \"kubectl pgo create\"\nSee 'kubectl pgo create --help' for usage.",
		},
		{
			name:    "unknown subcommand of a group",
			args:    []string{"create", "nothing"},
			wantErr: "unknown command \"nothing\" for \"kubectl pgo create\"\nSee 'kubectl pgo create --help' for usage.",
		},
		{
			name:    "argument to a command without arguments",
			args:    []string{"version", "extra"},
			wantErr: "unexpected argument \"extra\": \"kubectl pgo version\" takes no arguments\nSee 'kubectl pgo version --help' for usage.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := executeRoot(t, tc.args...)
			if err == nil {
				t.Fatalf("expected an error, got none; stdout:\n%s", out)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("error:\n%s\nwant:\n%s", err, tc.wantErr)
			}
			// main prints the error; cobra must not print it or the usage.
			if out != "" || errOut != "" {
				t.Errorf("cobra printed output on error:\nstdout: %q\nstderr: %q", out, errOut)
			}
		})
	}
}

func TestFlagErrorNamesTheCommand(t *testing.T) {
	err := flagError(NewCmdPGO(genericiooptions.NewTestIOStreamsDiscard()), bytes.ErrTooLarge)
	if !strings.HasSuffix(err.Error(), "See 'kubectl pgo --help' for usage.") {
		t.Errorf("got %q", err)
	}
}

func TestRootWrapConfig(t *testing.T) {
	tests := []struct {
		name        string
		qps         float32
		burst       int
		counter     bool
		wantQPS     float32
		wantBurst   int
		wantWrapped bool
	}{
		{name: "client-go defaults raised for the fan-out", wantQPS: 50, wantBurst: 100},
		{name: "limits set by the caller are kept", qps: 3, burst: 7, wantQPS: 3, wantBurst: 7},
		{name: "the request counter wraps the transport", counter: true, wantQPS: 50, wantBurst: 100, wantWrapped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s rootSettings
			if tc.counter {
				s.counter = kube.NewRequestCounter(false)
			}
			c := s.wrapConfig(genericiooptions.NewTestIOStreamsDiscard())(&rest.Config{QPS: tc.qps, Burst: tc.burst})
			if c.QPS != tc.wantQPS || c.Burst != tc.wantBurst {
				t.Errorf("QPS, burst = %v, %d; want %v, %d", c.QPS, c.Burst, tc.wantQPS, tc.wantBurst)
			}
			if !strings.HasPrefix(c.UserAgent, "kubectl-pgo/") {
				t.Errorf("user agent %q", c.UserAgent)
			}
			if (c.WrapTransport != nil) != tc.wantWrapped {
				t.Errorf("transport wrapped: %v, want %v", c.WrapTransport != nil, tc.wantWrapped)
			}
		})
	}
}
