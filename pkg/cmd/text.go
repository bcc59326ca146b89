// Small text and value helpers the commands share.

package cmd

import (
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }

// listing is what a show command that prints a table of ages has: -o, and
// the clock the ages are counted from (a fixed one in tests).
type listing struct {
	Output *printers.OutputFlags
	now    func() time.Time
}

// newListing is a table on stdout by default, with ages from now.
func newListing() listing {
	return listing{Output: printers.NewOutputFlags(printers.DefaultFormats...), now: time.Now}
}
