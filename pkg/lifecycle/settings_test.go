package lifecycle

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

func TestMergeSpec(t *testing.T) {
	stored := cluster.Spec{Name: "hippo", Namespace: "pg", StorageSize: "5Gi", Image: "example.com/pg:15",
		Resources: cluster.Resources{CPURequest: "1", MemoryLimit: "2Gi"}, RetentionFull: 4}
	stored.Default()
	flags := cluster.Spec{Name: "hippo", Namespace: "pg", Resources: cluster.Resources{MemoryLimit: "4Gi"}}
	flags.Default()
	flags.RetentionDiff = 2
	flags.RetentionFull = 9 // not given: the stored 4 stays

	got := MergeSpec(stored, flags, Given{MemoryLimit: true, RetentionDiff: true})
	want := stored
	want.Resources.MemoryLimit = "4Gi"
	want.RetentionDiff = 2
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("merged spec = %+v\nwant %+v", got, want)
	}
}
