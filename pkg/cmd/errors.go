package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// notRunning words a kube.FindRunningPod failure (kube.NotRunning).
func notRunning(err error) string { return kube.NotRunning(err) }

// usageError is a mistake in how a command was invoked. Its message ends
// with a pointer to the command's help, the way kubectl's does; main prints
// it after "error: ".
type usageError struct {
	msg         string
	commandPath string
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%s\nSee '%s --help' for usage.", e.msg, e.commandPath)
}

// usageErrorf returns a usageError for cmd. Use it in RunE/Args for bad
// arguments or flag combinations, not for failures at run time.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), commandPath: cmd.CommandPath()}
}

// flagError is the root's FlagErrorFunc; children inherit it, so every
// bad flag names the command whose help to read.
func flagError(cmd *cobra.Command, err error) error {
	// Groups take no arguments, so a word before the bad flag is a mistyped
	// command (`kubectl pgo versoin --client`); that is the mistake to
	// report, with suggestions, as kubectl does.
	if isGroup(cmd) && cmd.Flags().NArg() > 0 {
		return unknownCommand(cmd, cmd.Flags().Arg(0))
	}
	return usageErrorf(cmd, "%v", err)
}

// unknownCommand reports an argument that is not a subcommand of cmd, with
// cobra's spelling suggestions.
func unknownCommand(cmd *cobra.Command, arg string) error {
	msg := fmt.Sprintf("unknown command %q for %q", arg, cmd.CommandPath())
	// Cobra sets this default only on its own error path, which we bypass.
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	return usageErrorf(cmd, "%s", msg)
}

// runGroup is the RunE of commands that only hold subcommands (the root,
// create, show, delete): bare, they print help; with an argument that is
// not a subcommand, they fail. Cobra's default would print help and exit 0
// even for a typo such as `kubectl pgo create clustr`.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return cmd.Help()
}

// groupAnnotation marks the commands that only hold subcommands.
const groupAnnotation = "kubectl-pgo/group"

// isGroup reports whether cmd only holds subcommands: the root, or a
// command made by newGroup.
func isGroup(cmd *cobra.Command) bool {
	return !cmd.HasParent() || cmd.Annotations[groupAnnotation] == "true"
}

// noArgs is cobra.NoArgs with a pointer to the command's help.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unexpected argument %q: %q takes no arguments", args[0], cmd.CommandPath())
	}
	return nil
}

func kubeconfigError(err error) error {
	return fmt.Errorf("cannot use the kubeconfig: %w (check --kubeconfig, KUBECONFIG and --context)", err)
}

// indentOptsErrors lists the errors of repo.ParseBackupOptions under the
// flag that gave the options.
func indentOptsErrors(flag string, err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return "invalid " + flag + ":\n  " + strings.Join(lines, "\n  ")
}

// unreachableHint explains an error that is not the API server's answer
// (kube.UnreachableHint).
func unreachableHint(err error) string { return kube.UnreachableHint(err) }
