// The flags of a cluster's settings (the Spec), shared by create cluster and
// update cluster, and the flag names other commands refer to.

package cmd

import (
	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Flag names of create cluster, also the keys of CreateClusterOptions.given.
const (
	flagStorageType      = "pgbackrest-storage-type"
	flagStorageSize      = "storage-size"
	flagStorageClass     = "storage-class"
	flagRepoPVCSize      = "pgbackrest-pvc-size"
	flagRepoStorageClass = "pgbackrest-storage-class"
	flagImage            = "image"
	flagCPU              = "cpu"
	flagMemory           = "memory"
	flagCPULimit         = "cpu-limit"
	flagMemoryLimit      = "memory-limit"
)

// settingFlagNames are the flags of the cluster's settings, on create
// cluster and update cluster.
var settingFlagNames = append([]string{flagStorageType, flagStorageSize, flagStorageClass, flagRepoPVCSize, flagRepoStorageClass,
	flagImage, flagCPU, flagMemory, flagCPULimit, flagMemoryLimit}, retentionFlagNames...)

// addSettingFlags registers the flags of the cluster's settings (the Spec).
func addSettingFlags(cmd *cobra.Command, o *CreateClusterOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.StorageType, flagStorageType, o.StorageType, "pgBackRest repositories: local (a PVC on the repository host; posix is the same), s3 (a bucket only, no repository host), or local,s3 (repo1 local, repo2 in S3; WAL goes to both). Cannot change later.")
	fl.StringVar(&o.StorageSize, flagStorageSize, cluster.DefaultStorageSize, "Size of the PVC of the data directory. Cannot change later.")
	fl.StringVar(&o.StorageClass, flagStorageClass, "", "StorageClass of the data PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.RepoPVCSize, flagRepoPVCSize, cluster.DefaultRepoPVCSize, "Size of the PVC of the pgBackRest repository. Cannot change later.")
	fl.StringVar(&o.RepoStorageClass, flagRepoStorageClass, "", "StorageClass of the repository PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.Image, flagImage, cluster.DefaultImage, "Image with PostgreSQL 15 and pgBackRest, for every container.")
	fl.StringVar(&o.CPU, flagCPU, "", "CPU request of the PostgreSQL container, e.g. 500m.")
	fl.StringVar(&o.Memory, flagMemory, "", "Memory request of the PostgreSQL container, e.g. 1Gi.")
	fl.StringVar(&o.CPULimit, flagCPULimit, "", "CPU limit of the PostgreSQL container; backups then use one pgBackRest process per CPU of it (process-max, 2 without a limit).")
	fl.StringVar(&o.MemoryLimit, flagMemoryLimit, "", "Memory limit of the PostgreSQL container.")
	addRetentionFlags(cmd, &o.Retention)
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions("local", "posix", "s3", "local,s3"))
}

func fixedCompletions(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
