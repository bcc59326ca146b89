package cluster

import "fmt"

// CheckRepoIndex refuses a repository number (--repo=N) the cluster does
// not have; 0 chooses none.
func (s Spec) CheckRepoIndex(n int) error {
	if n < 0 || n > len(s.StorageType) {
		have := "repo1 only"
		if len(s.StorageType) == 2 {
			have = "repo1 and repo2"
		}
		return fmt.Errorf("--repo=%d: cluster %q has %s (storage type %s)", n, s.Name, have, storageTypeString(s.StorageType))
	}
	return nil
}
