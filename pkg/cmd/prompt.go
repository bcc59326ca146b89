// The yes/no prompt of the commands that delete, its flags, and whether
// stdin is a terminal.

package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// addYesFlags registers --yes (-y), and --no-prompt, PGO v4's name for it,
// on a command that deletes.
func addYesFlags(fl *pflag.FlagSet, yes *bool) {
	fl.BoolVarP(yes, "yes", "y", false, "Delete without asking for confirmation.")
	fl.BoolVar(yes, "no-prompt", false, "The same as --yes (PGO v4's name).")
}

// confirmation is the --yes (or --no-prompt) of a command that asks before
// it deletes or restores, and how it tells whether stdin is a terminal to
// ask on (tests replace isTerminal).
type confirmation struct {
	Yes        bool
	isTerminal func(io.Reader) bool
}

// newConfirmation asks on a terminal unless --yes is given.
func newConfirmation() confirmation { return confirmation{isTerminal: isTerminal} }

// confirmDelete is nil with --yes. Otherwise it writes the question to
// out and reads the answer from in: nil for yes, cancelled for anything
// else; refused without a terminal to ask on.
func (c confirmation) confirmDelete(in io.Reader, out io.Writer, question func() string, refused, cancelled error) error {
	if c.Yes {
		return nil
	}
	if !c.isTerminal(in) {
		return refused
	}
	yes, err := askYes(in, out, question())
	if err != nil {
		return err
	}
	if !yes {
		return cancelled
	}
	return nil
}

// askYes writes the question to out and reads the answer from in: true
// for y or yes, false for anything else, or nothing (end of input).
func askYes(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("cannot read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	if errors.Is(err, io.EOF) && answer == "" {
		fmt.Fprintln(out)
	}
	return false, nil
}

// isTerminal tells whether r is a terminal, where a person can answer a
// prompt.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// plannedChange is a change to one cluster that was planned (read, and
// checked) before anything changes: failover, promote. runPlanned prints
// its warnings, asks, runs it, and prints its result.
type plannedChange struct {
	// cluster is the cluster's name; verb is the change ("fail over"),
	// done its participle ("failed over").
	cluster, verb, done string
	warnings            []string
	question            func() string
	run                 func() (any, error)
}

// runPlanned carries out change once confirmed (--yes, or an answer on
// the terminal), printing the warnings on errOut and the result on out as
// -o says: a table prints nothing more than the progress did.
func (c confirmation) runPlanned(in io.Reader, out, errOut, progress io.Writer, output *printers.OutputFlags, change plannedChange) error {
	for _, w := range change.warnings {
		fmt.Fprintf(errOut, "Warning: %s\n", w)
	}
	err := c.confirmDelete(in, progress, change.question,
		fmt.Errorf("refusing to %s cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes to %s. Nothing was changed", change.verb, change.cluster, change.verb),
		fmt.Errorf("cancelled: cluster %q was not %s", change.cluster, change.done))
	if err != nil {
		return err
	}
	result, err := change.run()
	if err != nil {
		return err
	}
	if output.Format() != printers.FormatTable {
		return output.Print(out, nil, result)
	}
	return nil
}

// progressStream is where a command that prints a result with -o writes
// its progress: stdout for the table, else stderr.
func progressStream(output *printers.OutputFlags, out, errOut io.Writer) io.Writer {
	if output.Format() != printers.FormatTable {
		return errOut
	}
	return out
}
