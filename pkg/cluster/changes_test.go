package cluster

import (
	"reflect"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

func TestChanges(t *testing.T) {
	base := func() Spec {
		s := Spec{Name: "hippo", Namespace: "pgo"}
		s.Default()
		return s
	}
	for _, tc := range []struct {
		name   string
		modify func(*Spec)
		want   []string
	}{
		{"none", func(*Spec) {}, nil},
		{"retention", func(s *Spec) { s.RetentionFull = 1 }, []string{"retentionFull: 2 -> 1"}},
		{"retention in days, and diff set", func(s *Spec) {
			s.RetentionFull, s.RetentionFullType, s.RetentionDiff = 30, repo.RetentionTime, 4
		}, []string{"retentionDiff: (none) -> 4", "retentionFull: 2 -> 30", "retentionFullType: count -> time"}},
		{"a limit set and a request removed", func(s *Spec) {
			s.Resources.CPULimit = "2"
			s.RepoResources.MemoryRequest = ""
		}, []string{"repoResources.memoryRequest: 64Mi -> (none)", "resources.cpuLimit: (none) -> 2"}},
		{"storage types", func(s *Spec) { s.StorageType = []StorageType{"local", "s3"} }, []string{"storageType: local -> local,s3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := base(), base()
			tc.modify(&new)
			var got []string
			for _, c := range Changes(old, new) {
				got = append(got, c.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Changes() = %q, want %q", got, tc.want)
			}
		})
	}
}
