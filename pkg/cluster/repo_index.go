package cluster

import "fmt"

// CheckRepoIndex refuses a repository number (--repo=N) the cluster does
// not have; 0 chooses none.
func (s Spec) CheckRepoIndex(n int) error {
	if n < 0 || n > len(s.StorageType) {
		have := "repo1 only"
		if n := len(s.StorageType); n > 1 {
			have = fmt.Sprintf("repo1 to repo%d", n)
		}
		return fmt.Errorf("--repo=%d: cluster %q has %s (storage type %s)", n, s.Name, have, storageTypeString(s.StorageType))
	}
	return nil
}
