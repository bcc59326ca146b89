package doctor

import (
	"fmt"
	"io"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// Thresholds of the checks.
const (
	// certWarnBefore is how long before a certificate expires doctor
	// starts to warn.
	certWarnBefore = 30 * 24 * time.Hour
	// Repository usage, in percent of the PVC or of its filesystem.
	UsageWarn = 80
	UsageFail = 95
	// walBacklogWarn and walBacklogFail are counts of .ready segments.
	walBacklogWarn = 4
	walBacklogFail = 64
	// archiveStuckAfter: segments wait, and nothing was archived for this
	// long.
	archiveStuckAfter = 10 * time.Minute
	// archiveTimeout bounds how long pgbackrest check waits for the
	// WAL segment: a doctor should answer in seconds, not after the default
	// minute.
	archiveTimeout = 30 * time.Second
	// DefaultMaxBackupAge: a week without a backup is a failure.
	DefaultMaxBackupAge = 7 * 24 * time.Hour
)

// Status is the result of one check.
type Status string

// The results of a check.
const (
	OK      Status = "ok"
	Warning Status = "warning"
	Failed  Status = "failed"
)

// Symbol is how a terminal shows the status: ✓, ! or ✗.
func (s Status) Symbol() string {
	switch s {
	case OK:
		return "✓"
	case Warning:
		return "!"
	default:
		return "✗"
	}
}

// Check is one line of `kubectl pgo doctor`.
type Check struct {
	Name string `json:"name"`
	// Repo is N of repoN for the checks of one repository.
	Repo   int    `json:"repo,omitempty"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// Fix says what to do when the check did not pass.
	Fix string `json:"fix,omitempty"`
}

// Report is `kubectl pgo doctor -o json|yaml`.
type Report struct {
	Cluster   string  `json:"cluster"`
	Namespace string  `json:"namespace"`
	Healthy   bool    `json:"healthy"`
	Failed    int     `json:"failed"`
	Warnings  int     `json:"warnings"`
	Checks    []Check `json:"checks"`
}

// NewReport counts the checks that failed and warned.
func NewReport(name, namespace string, checks []Check) Report {
	r := Report{Cluster: name, Namespace: namespace, Checks: checks}
	for _, c := range r.Checks {
		switch c.Status {
		case Failed:
			r.Failed++
		case Warning:
			r.Warnings++
		}
	}
	r.Healthy = r.Failed == 0
	return r
}

// WriteText writes the report as a table: a mark, the check and
// what was found, with the fix on the line below a failed check.
func (r Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Cluster %s in namespace %s:\n\n", r.Cluster, r.Namespace)
	t := printers.NewTable("", "check", "result")
	for _, c := range r.Checks {
		t.AddRow(c.Status.Symbol(), c.Name, c.Detail)
		if c.Status != OK && c.Fix != "" {
			t.AddRow("", "", "fix: "+c.Fix)
		}
	}
	if err := t.Render(w); err != nil {
		return err
	}
	summary := fmt.Sprintf("\n%d checks: %d ok, %d warnings, %d failed\n", len(r.Checks), len(r.Checks)-r.Failed-r.Warnings, r.Warnings, r.Failed)
	_, err := io.WriteString(w, summary)
	return err
}
