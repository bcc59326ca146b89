package cluster

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckImmutable(t *testing.T) {
	base := func() Spec {
		s := Spec{Name: "hippo", Namespace: "pgo"}
		s.Default()
		return s
	}
	for _, tc := range []struct {
		name   string
		modify func(*Spec)
		want   []string // none means allowed
	}{
		{"same", func(*Spec) {}, nil},
		{"image", func(s *Spec) { s.Image = "example.com/postgres:15.9" }, nil},
		{"resources", func(s *Spec) { s.Resources.MemoryLimit = "4Gi"; s.RepoResources.CPULimit = "2" }, nil},
		{"retention", func(s *Spec) { s.RetentionFull = 5 }, nil},
		{"same size, other spelling", func(s *Spec) { s.StorageSize = "1024Mi" }, nil},
		{"storage type", func(s *Spec) { s.StorageType = []StorageType{"s3"} }, []string{
			"storage type is immutable: the cluster uses local, the request says s3; delete and recreate the cluster to change it"}},
		{"repo path", func(s *Spec) { s.RepoPath = "/backrestrepo/other" }, []string{
			"the repository path is immutable: the cluster uses /backrestrepo/hippo-backrest-shared-repo, the request says /backrestrepo/other"}},
		{"version", func(s *Spec) { s.PostgresVersion = 16 }, []string{
			fmt.Sprintf("the PostgreSQL version is immutable: the cluster uses %d, the request says 16; kubectl pgo upgrade NAME --to=MAJOR moves a cluster to a newer major", DefaultPostgresVersion)}},
		{"name", func(s *Spec) { s.Name = "zebra" }, []string{"the name is immutable: the cluster uses hippo, the request says zebra"}},
		{"namespace", func(s *Spec) { s.Namespace = "other" }, []string{"the namespace is immutable"}},
		{"storage size", func(s *Spec) { s.StorageSize = "2Gi" }, []string{
			"the storage size is immutable: the cluster uses 1Gi, the request says 2Gi; changing it is not supported yet"}},
		{"storage class", func(s *Spec) { s.StorageClass = "fast" }, []string{
			"the storage class is immutable: the cluster uses (none), the request says fast"}},
		{"repo size and class", func(s *Spec) { s.RepoPVCSize = "5Gi"; s.RepoStorageClass = "slow" }, []string{
			"the repository PVC size is immutable: the cluster uses 2Gi, the request says 5Gi",
			"the repository storage class is immutable: the cluster uses (none), the request says slow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := base(), base()
			tc.modify(&new)
			err := CheckImmutable(old, new)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckImmutable() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckImmutable() = nil, want %q", tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("CheckImmutable() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}
