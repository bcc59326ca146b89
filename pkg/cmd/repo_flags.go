package cmd

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// repoFlags choose one repository of a cluster, by number (--repo) or by
// storage type (--pgbackrest-storage-type, v4's flag): local is repo1,
// and s3, gcs or azure is that object store's repository, wherever it
// stands.
type repoFlags struct {
	Repo        int
	StorageType string
}

func (r *repoFlags) AddFlags(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.IntVar(&r.Repo, "repo", 0, fmt.Sprintf("The repository to %s, by number (1 to %d, in the order of the cluster's storage type); by default %s.", what, cluster.MaxRepositories, defaultRepoText(what)))
	fl.StringVar(&r.StorageType, flagStorageType, "", "The repository to "+what+", by type: local, s3, gcs or azure (for a cluster with several).")
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions(storageTypeNames()...))
	_ = cmd.RegisterFlagCompletionFunc("repo", fixedCompletions("1", "2", "3", "4"))
}

func defaultRepoText(what string) string {
	if what == "show" {
		return "every repository"
	}
	return "pgBackRest's choice (repo1 for a backup, the newest backup over all repositories for a restore)"
}

// validate checks the flags alone, before any request.
func (r *repoFlags) validate(fl *pflag.FlagSet) error {
	switch {
	case fl.Changed("repo") && r.StorageType != "":
		return fmt.Errorf("give the repository once: --repo or --%s", flagStorageType)
	case fl.Changed("repo") && (r.Repo < 1 || r.Repo > cluster.MaxRepositories):
		return fmt.Errorf("--repo=%d is not a repository: a cluster has repo1, and up to repo%d with several storage types (local,s3,gcs,azure)", r.Repo, cluster.MaxRepositories)
	case fl.Changed(flagStorageType):
		if !slices.Contains(storageTypeNames(), r.StorageType) {
			return fmt.Errorf("unknown --%s %q: use local, s3, gcs or azure to choose one repository", flagStorageType, r.StorageType)
		}
	}
	return nil
}

// index is the chosen repository's number for the cluster, or 0 when none
// was chosen. A repository the cluster does not have is an error.
func (r *repoFlags) index(spec cluster.Spec) (int, error) {
	if r.Repo > 0 {
		return r.Repo, checkRepoIndex(spec, r.Repo)
	}
	if r.StorageType == "" {
		return 0, nil
	}
	want := cluster.StorageType(r.StorageType)
	if want == cluster.StoragePosix {
		want = cluster.StorageLocal
	}
	for i, t := range spec.StorageType {
		if t == want || (want == cluster.StorageLocal && t == cluster.StoragePosix) {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("cluster %q has no %s repository: its storage type is %s", spec.Name, want, storageTypeList(spec.StorageType))
}

// storageTypeNames are the values of --pgbackrest-storage-type that
// choose one repository.
func storageTypeNames() []string {
	names := []string{string(cluster.StoragePosix)}
	for _, t := range cluster.SupportedStorageTypes() {
		names = append(names, string(t))
	}
	return names
}

// checkRepoIndex refuses a repository number the cluster does not have.
func checkRepoIndex(spec cluster.Spec, n int) error { return spec.CheckRepoIndex(n) }
