package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Flag names of the retention, on create cluster and update cluster.
const (
	flagRetentionFull     = "pgbackrest-repo-retention-full"
	flagRetentionFullType = "pgbackrest-repo-retention-full-type"
	flagRetentionDiff     = "pgbackrest-repo-retention-diff"
)

// retentionFlagNames are the retention flags, for the given map.
var retentionFlagNames = []string{flagRetentionFull, flagRetentionFullType, flagRetentionDiff}

// RetentionFlags are the retention of every pgBackRest repository of a
// cluster (repoN-retention-full, -full-type, -diff).
type RetentionFlags struct {
	Full     int
	FullType string
	Diff     int
}

// addRetentionFlags registers the retention flags on cmd.
func addRetentionFlags(cmd *cobra.Command, r *RetentionFlags) {
	fl := cmd.Flags()
	fl.IntVar(&r.Full, flagRetentionFull, cluster.DefaultRetentionFull,
		"How many full backups each repository keeps (or days of them, with --"+flagRetentionFullType+"=time); older full backups, the backups that depend on them and their WAL are expired after each backup. At least 1.")
	fl.StringVar(&r.FullType, flagRetentionFullType, string(repo.RetentionCount),
		"How --"+flagRetentionFull+" counts: count (full backups) or time (days).")
	fl.IntVar(&r.Diff, flagRetentionDiff, 0,
		"How many differential backups each repository keeps; unset, they are kept as long as their full backup. At least 1.")
	_ = cmd.RegisterFlagCompletionFunc(flagRetentionFullType, fixedCompletions(string(repo.RetentionCount), string(repo.RetentionTime)))
}

// validate refuses a retention of 0 or less given on the command line
// (the Spec would read 0 as "the default"); the Spec checks the rest.
func (r RetentionFlags) validate(cmd *cobra.Command, given map[string]bool) error {
	var msgs []string
	if given[flagRetentionFull] && r.Full < 1 {
		msgs = append(msgs, fmt.Sprintf("--%s=%d is not valid: keep at least 1 full backup (the default is %d)", flagRetentionFull, r.Full, cluster.DefaultRetentionFull))
	}
	if given[flagRetentionDiff] && r.Diff < 1 {
		msgs = append(msgs, fmt.Sprintf("--%s=%d is not valid: keep at least 1 differential backup, or leave the flag out to keep them with their full backup", flagRetentionDiff, r.Diff))
	}
	if len(msgs) > 0 {
		return usageErrorf(cmd, "%s", strings.Join(msgs, "\n"))
	}
	return nil
}

// setSpec puts the retention into a Spec built from the flags alone.
func (r RetentionFlags) setSpec(s *cluster.Spec) {
	s.RetentionFull = r.Full
	s.RetentionFullType = repo.RetentionType(strings.TrimSpace(r.FullType))
	s.RetentionDiff = r.Diff
}
