// The flags of a pgBackRest restore that restore, create cluster
// --restore-from and restore-drill share: the help of --target-timeline,
// and the parsing of the restore options with --pitr-target and
// --target-timeline.

package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// parseRestoreFlags parses the pgBackRest restore options of optsFlag
// (restore --backup-opts, create cluster --restore-opts) with
// --pitr-target and --target-timeline, and normalizes them; it returns
// the time target, zero without one.
func parseRestoreFlags(optsFlag, optsValue, pitrTarget, timeline string) (repo.RestoreOptions, time.Time, error) {
	opts, err := repo.ParseRestoreOptions(optsValue)
	if err != nil {
		return opts, time.Time{}, fmt.Errorf("invalid %s:\n%s", optsFlag, indentLines(err.Error()))
	}
	if pitrTarget != "" {
		t, err := repo.ParseTarget(pitrTarget)
		if err != nil {
			return opts, time.Time{}, fmt.Errorf("invalid --pitr-target: %w", err)
		}
		if opts, err = opts.WithTimeTarget(t); err != nil {
			return opts, time.Time{}, err
		}
	}
	if opts, err = opts.WithTargetTimeline(timeline); err != nil {
		return opts, time.Time{}, err
	}
	target, err := opts.Normalize()
	if err != nil {
		return opts, time.Time{}, fmt.Errorf("invalid %s:\n%s", optsFlag, indentLines(err.Error()))
	}
	return opts, target, nil
}

// targetTimelineUsage is the help of --target-timeline.
const targetTimelineUsage = `The timeline the recovery ends on: latest (the default: the newest timeline, the one the database is on), current (the timeline of the backup restored), or a number, to go back to a timeline that an earlier restore left behind (see show backup).`

// indentLines indents every line of s, for a list of errors under a
// heading.
func indentLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}
