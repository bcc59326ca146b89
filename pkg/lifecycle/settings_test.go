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

// Asynchronous archiving is turned on and off as given; a queue flag alone sets its queue on
// the stored settings (and turns it on), the other queue kept.
func TestMergeArchiveAsync(t *testing.T) {
	on := func(push, get string) *cluster.ArchiveAsyncSpec {
		return &cluster.ArchiveAsyncSpec{PushQueueMax: push, GetQueueMax: get}
	}
	for _, tc := range []struct {
		name   string
		stored *cluster.ArchiveAsyncSpec
		flags  *cluster.ArchiveAsyncSpec
		given  Given
		want   *cluster.ArchiveAsyncSpec
	}{
		{"nothing given", on("1Gi", ""), nil, Given{}, on("1Gi", "")},
		{"turned on", nil, on("", ""), Given{ArchiveAsync: true}, on("", "")},
		{"turned off", on("1Gi", "64Mi"), nil, Given{ArchiveAsync: true}, nil},
		{"push queue alone", on("1Gi", "64Mi"), on("2Gi", ""), Given{PushQueueMax: true}, on("2Gi", "64Mi")},
		{"get queue alone turns it on", nil, on("", "64Mi"), Given{GetQueueMax: true}, on("", "64Mi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := cluster.Spec{Name: "hippo", Namespace: "pgo", ArchiveAsync: tc.stored}
			stored.Default()
			got := MergeSpec(stored, cluster.Spec{ArchiveAsync: tc.flags}, tc.given).ArchiveAsync
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("ArchiveAsync = %+v, want %+v", got, tc.want)
			}
		})
	}
}
