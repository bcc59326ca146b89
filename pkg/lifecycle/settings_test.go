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

// A new cluster with a repository on S3 archives asynchronously unless told otherwise; a local
// one synchronously; an existing cluster keeps what it stored whatever its repositories.
func TestNewClusterDefaults(t *testing.T) {
	on := &cluster.ArchiveAsyncSpec{}
	for _, tc := range []struct {
		name    string
		storage string
		flags   *cluster.ArchiveAsyncSpec
		given   Given
		want    *cluster.ArchiveAsyncSpec
	}{
		{"s3, nothing given", "s3", nil, Given{}, on},
		{"local,s3, nothing given", "local,s3", nil, Given{}, on},
		{"local, nothing given", "local", nil, Given{}, nil},
		{"gcs, nothing given", "gcs", nil, Given{}, on},
		{"local,gcs,azure, nothing given", "local,gcs,azure", nil, Given{}, on},
		{"s3, turned off", "s3", nil, Given{ArchiveAsync: true}, nil},
		{"s3, a queue given", "s3", &cluster.ArchiveAsyncSpec{PushQueueMax: "1Gi"}, Given{PushQueueMax: true}, &cluster.ArchiveAsyncSpec{PushQueueMax: "1Gi"}},
		{"local, turned on", "local", on, Given{ArchiveAsync: true}, on},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: cluster.ParseStorageType(tc.storage), ArchiveAsync: tc.flags}
			got := NewClusterDefaults(flags, tc.given).ArchiveAsync
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("ArchiveAsync = %+v, want %+v", got, tc.want)
			}
			// The same command on a cluster that exists and archives synchronously.
			stored := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: cluster.ParseStorageType(tc.storage)}
			stored.Default()
			merged := MergeSpec(stored, NewClusterDefaults(flags, tc.given), tc.given).ArchiveAsync
			if !tc.given.ArchiveAsync && !tc.given.PushQueueMax && merged != nil {
				t.Errorf("an existing cluster archiving synchronously got %+v without a flag", merged)
			}
		})
	}
}

// A new cluster stores block incremental backups when its major's image has a pgBackRest that
// can (17 and newer); an existing cluster keeps what it was created with.
func TestNewClusterDefaultsBlockIncremental(t *testing.T) {
	for version, want := range map[int]bool{15: false, 17: true, 18: true} {
		s := NewClusterDefaults(cluster.Spec{Name: "hippo", Namespace: "pgo", PostgresVersion: version}, Given{})
		if s.BlockIncremental != want {
			t.Errorf("PostgreSQL %d: BlockIncremental = %v, want %v", version, s.BlockIncremental, want)
		}
		stored := cluster.Spec{Name: "hippo", Namespace: "pgo", PostgresVersion: version}
		stored.Default()
		if got := MergeSpec(stored, s, Given{}).BlockIncremental; got {
			t.Errorf("PostgreSQL %d: an existing cluster without block incremental got it", version)
		}
	}
}
