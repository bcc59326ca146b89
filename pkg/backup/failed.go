package backup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// BackupJobFailed explains a failed pgBackRest backup Job: the Job's
// condition, the exit code, and pgBackRest's errors (or the end of its
// log).
func BackupJobFailed(name, ns string, out jobs.Outcome, errs []string) error {
	hint := ""
	if out.Reason == "DeadlineExceeded" {
		hint = "; raise --timeout if the backup needs more time"
	}
	return jobFailed("backup", name, ns, out, "pgbackrest exited with code", errs, hint)
}

// DumpJobFailed explains a failed pg_dump, pg_basebackup or pg_restore
// Job (what names it): its condition, exit code and the end of its log.
func DumpJobFailed(what, name, ns string, out jobs.Outcome) error {
	return jobFailed(what, name, ns, out, "exit code", nil, "")
}

// jobFailed is the message of both: exited words the exit code; errs, when
// there are any, replace the end of the log; hint is said when there is
// neither.
func jobFailed(what, name, ns string, out jobs.Outcome, exited string, errs []string, hint string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s job %s failed", what, name)
	if out.Reason != "" {
		fmt.Fprintf(&b, " (%s", out.Reason)
		if out.Message != "" {
			fmt.Fprintf(&b, ": %s", out.Message)
		}
		b.WriteString(")")
	}
	if out.ExitCode != nil {
		fmt.Fprintf(&b, "; %s %d", exited, *out.ExitCode)
	}
	switch {
	case len(errs) > 0:
		b.WriteString(":\n  " + strings.Join(errs, "\n  "))
	case strings.TrimSpace(out.Log) != "":
		b.WriteString("; the end of its log:\n  " + strings.Join(lastLines(out.Log, 5), "\n  "))
	default:
		b.WriteString(hint)
	}
	fmt.Fprintf(&b, "\nThe Job and its log are kept: kubectl logs job/%s -n %s", name, ns)
	return errors.New(b.String())
}

// lastLines are the last n lines of s.
func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
