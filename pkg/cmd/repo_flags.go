package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// repoFlags choose one repository of a cluster, by number (--repo) or by
// storage type (--pgbackrest-storage-type, v4's flag): local is repo1,
// and s3 is the S3 repository, repo1 or repo2.
type repoFlags struct {
	Repo        int
	StorageType string
}

func (r *repoFlags) AddFlags(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.IntVar(&r.Repo, "repo", 0, "The repository to "+what+", by number (1 or 2); by default "+defaultRepoText(what)+".")
	fl.StringVar(&r.StorageType, flagStorageType, "", "The repository to "+what+", by type: local or s3 (for a cluster with both).")
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions("local", "s3"))
	_ = cmd.RegisterFlagCompletionFunc("repo", fixedCompletions("1", "2"))
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
	case fl.Changed("repo") && (r.Repo < 1 || r.Repo > 2):
		return fmt.Errorf("--repo=%d is not a repository: a cluster has repo1, and repo2 with local,s3", r.Repo)
	case fl.Changed(flagStorageType):
		switch cluster.StorageType(r.StorageType) {
		case cluster.StorageLocal, cluster.StoragePosix, cluster.StorageS3:
		default:
			return fmt.Errorf("unknown --%s %q: use local or s3 to choose one repository", flagStorageType, r.StorageType)
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

// checkRepoIndex refuses a repository number the cluster does not have.
func checkRepoIndex(spec cluster.Spec, n int) error { return spec.CheckRepoIndex(n) }
