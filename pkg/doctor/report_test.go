package doctor

import (
	"bytes"
	"strings"
	"testing"
)

// The text view has a line per check, the fix under a check that did not
// pass (and none under one that did), and the counts.
func TestReportWriteText(t *testing.T) {
	r := Report{Cluster: "hippo", Namespace: "pg", Failed: 1, Warnings: 1, Checks: []Check{
		{Name: "stanza", Status: OK, Detail: "ok", Fix: "never shown"},
		{Name: "archiving", Status: Failed, Detail: "failing since 10:00", Fix: "kubectl pgo show archive hippo"},
		{Name: "disk", Status: Warning, Detail: "85% used", Fix: "grow the PVC"},
	}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Cluster hippo in namespace pg:", "archiving", "fix: kubectl pgo show archive hippo",
		"fix: grow the PVC", "3 checks: 1 ok, 1 warnings, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "never shown") {
		t.Errorf("the fix of a passed check is shown:\n%s", out)
	}
}
