// The flags of a cluster's settings (the Spec), shared by create cluster and
// update cluster, and the flag names other commands refer to.

package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
)

// Flag names of create cluster, also the keys of settingFlags.given.
const (
	flagStorageType      = "pgbackrest-storage-type"
	flagStorageSize      = "storage-size"
	flagStorageClass     = "storage-class"
	flagRepoPVCSize      = "pgbackrest-pvc-size"
	flagRepoStorageClass = "pgbackrest-storage-class"
	flagImage            = "image"
	flagPostgresVersion  = "postgres-version"
	flagCPU              = "cpu"
	flagMemory           = "memory"
	flagCPULimit         = "cpu-limit"
	flagMemoryLimit      = "memory-limit"
	flagReplicas         = "replicas"
	flagBackupStandby    = "pgbackrest-backup-standby"
	flagArchiveAsync     = "pgbackrest-archive-async"
	flagPushQueueMax     = "pgbackrest-archive-push-queue-max"
	flagGetQueueMax      = "pgbackrest-archive-get-queue-max"
)

// settingFlagNames are the flags of the cluster's settings, on create
// cluster and update cluster.
var settingFlagNames = append([]string{flagStorageType, flagStorageSize, flagStorageClass, flagRepoPVCSize, flagRepoStorageClass,
	flagImage, flagCPU, flagMemory, flagCPULimit, flagMemoryLimit, flagReplicas, flagBackupStandby,
	flagArchiveAsync, flagPushQueueMax, flagGetQueueMax}, retentionFlagNames...)

// settingFlags are the flags of a cluster's settings, with which of them
// were given: for an existing cluster the others keep their stored values.
type settingFlags struct {
	StorageType      string
	StorageSize      string
	StorageClass     string
	RepoPVCSize      string
	RepoStorageClass string
	Image            string
	// PostgresVersion is --postgres-version, of create cluster only.
	PostgresVersion int
	CPU             string
	Memory          string
	CPULimit        string
	MemoryLimit     string
	Replicas        int
	BackupStandby   bool
	ArchiveAsync    bool
	PushQueueMax    string
	GetQueueMax     string
	Retention       RetentionFlags
	// S3 holds the S3 repository's and encryption's flags (create
	// cluster only).
	S3 s3Flags
	// GCS and Azure hold those repositories' flags (create cluster only).
	GCS   gcsFlags
	Azure azureFlags

	// given holds the flags set on the command line.
	given map[string]bool
}

func newSettingFlags() settingFlags {
	return settingFlags{StorageType: string(cluster.StorageLocal), given: map[string]bool{}}
}

// addFlags registers the flags of the cluster's settings (the Spec), but
// not the S3 ones.
func (o *settingFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.StorageType, flagStorageType, o.StorageType, "pgBackRest repositories, repo1 first: local (a PVC on the repository host; posix is the same), s3 (an S3 bucket), gcs (a GCS bucket), azure (an Azure Blob container), "+
		"or up to four of them joined by commas, each once and local first: local,s3 is repo1 local and repo2 in S3, and WAL goes to every one. Without local there is no repository host. Cannot change later.")
	fl.StringVar(&o.StorageSize, flagStorageSize, cluster.DefaultStorageSize, "Size of the PVC of the data directory. Cannot change later.")
	fl.StringVar(&o.StorageClass, flagStorageClass, "", "StorageClass of the data PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.RepoPVCSize, flagRepoPVCSize, cluster.DefaultRepoPVCSize, "Size of the PVC of the pgBackRest repository. Cannot change later.")
	fl.StringVar(&o.RepoStorageClass, flagRepoStorageClass, "", "StorageClass of the repository PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.Image, flagImage, "", "Image with PostgreSQL and pgBackRest, for every container: its PostgreSQL major must be the cluster's. Empty: the project's image of the cluster's major, "+cluster.ImageRepository+":MAJOR.")
	fl.StringVar(&o.CPU, flagCPU, "", "CPU request of the PostgreSQL container, e.g. 500m.")
	fl.StringVar(&o.Memory, flagMemory, "", "Memory request of the PostgreSQL container, e.g. 1Gi.")
	fl.StringVar(&o.CPULimit, flagCPULimit, "", "CPU limit of the PostgreSQL container; backups then use one pgBackRest process per CPU of it (process-max, 2 without a limit).")
	fl.StringVar(&o.MemoryLimit, flagMemoryLimit, "", "Memory limit of the PostgreSQL container.")
	fl.IntVar(&o.Replicas, flagReplicas, 0, fmt.Sprintf("Streaming replicas beside the primary (0 to %d), each with its own data PVC and preferring a node of its own. "+
		"A new replica is restored from the newest backup on the current timeline, or copied from the primary with pg_basebackup when there is none.", cluster.MaxReplicas))
	fl.BoolVar(&o.BackupStandby, flagBackupStandby, false, "Back up from a streaming replica (pgBackRest's backup-standby): backup without --from-standby, and the schedules created while it is set. Needs --replicas.")
	fl.BoolVar(&o.ArchiveAsync, flagArchiveAsync, false, "Archive and fetch WAL asynchronously (pgBackRest's archive-async): a background process keeps a queue on the data volume and moves several segments at once. A new cluster with an S3 repository has it on unless given =false; a local one off. false turns it off again.")
	fl.StringVar(&o.PushQueueMax, flagPushQueueMax, "", "With --"+flagArchiveAsync+": the most WAL that may wait in pg_wal while the repositories cannot take it, e.g. 512Mi. Beyond it WAL is DROPPED (reported as archived) so that the volume does not fill; the next full backup closes the gap. Unset: no bound.")
	fl.StringVar(&o.GetQueueMax, flagGetQueueMax, "", "With --"+flagArchiveAsync+": how much WAL a recovery or a replica fetches ahead, e.g. 256Mi (pgBackRest's 128Mi when unset).")
	addRetentionFlags(cmd, &o.Retention)
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions("local", "posix", "s3", "gcs", "azure", "local,s3", "local,gcs", "local,azure", "local,s3,gcs,azure"))
}

// recordGiven notes which setting flags were given on the command line.
func (o *settingFlags) recordGiven(cmd *cobra.Command) {
	for _, flag := range append(settingFlagNames, flagPostgresVersion) {
		o.given[flag] = cmd.Flags().Changed(flag)
	}
	o.S3.complete(cmd)
	o.GCS.complete(cmd)
	o.Azure.complete(cmd)
	o.given[flagRepoCipher] = cmd.Flags().Changed(flagRepoCipher)
	o.given[flagRepoCipherSecret] = cmd.Flags().Changed(flagRepoCipherSecret)
}

// givenSettings says which settings were given, for lifecycle.MergeSpec.
func (o *settingFlags) givenSettings() lifecycle.Given {
	g := o.given
	return lifecycle.Given{
		StorageType: g[flagStorageType], StorageSize: g[flagStorageSize], StorageClass: g[flagStorageClass],
		RepoPVCSize: g[flagRepoPVCSize], RepoStorageClass: g[flagRepoStorageClass], Image: g[flagImage],
		CPU: g[flagCPU], Memory: g[flagMemory], CPULimit: g[flagCPULimit], MemoryLimit: g[flagMemoryLimit], Replicas: g[flagReplicas], BackupStandby: g[flagBackupStandby],
		PostgresVersion: g[flagPostgresVersion] || (g[flagImage] && projectImage(o.Image)),
		ArchiveAsync:    g[flagArchiveAsync], PushQueueMax: g[flagPushQueueMax], GetQueueMax: g[flagGetQueueMax],
		RetentionFull: g[flagRetentionFull], RetentionFullType: g[flagRetentionFullType], RetentionDiff: g[flagRetentionDiff],
		S3: o.S3.given, GCS: o.GCS.given, Azure: o.Azure.given, Cipher: g[flagRepoCipher] || g[flagRepoCipherSecret], CipherSecret: g[flagRepoCipherSecret],
	}
}

// projectImage tells whether image is one of the project's, which names
// its PostgreSQL major.
func projectImage(image string) bool {
	_, ok := cluster.ProjectImageVersion(image)
	return ok
}

// spec is the Spec of the setting flags alone for cluster name in
// namespace ns, defaulted and validated: the flags are checked before the
// first request.
func (o *settingFlags) spec(cmd *cobra.Command, name, ns string) (cluster.Spec, error) {
	spec := cluster.Spec{
		Name:             name,
		Namespace:        ns,
		PostgresVersion:  o.PostgresVersion,
		Image:            strings.TrimSpace(o.Image),
		StorageSize:      strings.TrimSpace(o.StorageSize),
		StorageClass:     strings.TrimSpace(o.StorageClass),
		RepoPVCSize:      strings.TrimSpace(o.RepoPVCSize),
		RepoStorageClass: strings.TrimSpace(o.RepoStorageClass),
		StorageType:      cluster.ParseStorageType(o.StorageType),
		Resources: cluster.Resources{
			CPURequest:    strings.TrimSpace(o.CPU),
			CPULimit:      strings.TrimSpace(o.CPULimit),
			MemoryRequest: strings.TrimSpace(o.Memory),
			MemoryLimit:   strings.TrimSpace(o.MemoryLimit),
		},
		Replicas:      o.Replicas,
		BackupStandby: o.BackupStandby,
	}
	if v, ok := cluster.ProjectImageVersion(spec.Image); ok && !o.given[flagPostgresVersion] {
		// --image of the project's image of a major says the major.
		spec.PostgresVersion = v
	}
	if o.ArchiveAsync || o.given[flagPushQueueMax] || o.given[flagGetQueueMax] {
		spec.ArchiveAsync = &cluster.ArchiveAsyncSpec{PushQueueMax: strings.TrimSpace(o.PushQueueMax), GetQueueMax: strings.TrimSpace(o.GetQueueMax)}
	}
	if o.given[flagArchiveAsync] && !o.ArchiveAsync && (o.given[flagPushQueueMax] || o.given[flagGetQueueMax]) {
		return cluster.Spec{}, usageErrorf(cmd, "--%s=false turns asynchronous archiving off: its queue flags do not apply", flagArchiveAsync)
	}
	if err := o.Retention.validate(cmd, o.given); err != nil {
		return cluster.Spec{}, err
	}
	o.Retention.setSpec(&spec)
	if o.given[flagStorageType] && len(spec.StorageType) == 0 {
		return cluster.Spec{}, usageErrorf(cmd, "--%s is empty: use local", flagStorageType)
	}
	o.S3.apply(&spec)
	o.GCS.apply(&spec)
	o.Azure.apply(&spec)
	spec.Default()
	check := spec
	if !o.given[flagReplicas] {
		// Checked against the stored replicas once they are read.
		check.BackupStandby = false
	}
	if err := check.Validate(); err != nil {
		return cluster.Spec{}, usageErrorf(cmd, "%s", indentErrors(err))
	}
	if err := o.S3.validate(spec); err != nil {
		return cluster.Spec{}, usageErrorf(cmd, "%v", err)
	}
	return spec, nil
}

// indentErrors puts each error of a joined error on its own line.
func indentErrors(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return "invalid settings:\n  - " + strings.Join(lines, "\n  - ")
}

func fixedCompletions(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
