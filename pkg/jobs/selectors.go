// The label selectors of the plugin's Jobs and CronJobs, by kind: what
// a command lists to find them, and what CheckNoConflict looks for.

package jobs

import (
	"maps"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// componentSelector selects the objects of one component of a cluster.
func componentSelector(clusterName, component string) labels.Set {
	l := cluster.ClusterSelector(clusterName)
	l[cluster.LabelComponent] = component
	return l
}

// BackupSelector selects a cluster's backup Jobs and their pods.
func BackupSelector(clusterName string) labels.Set {
	return componentSelector(clusterName, ComponentBackup)
}

// PGBaseBackupSelector selects a cluster's pg_basebackup Jobs.
func PGBaseBackupSelector(clusterName string) labels.Set {
	return componentSelector(clusterName, ComponentPGBaseBackup)
}

// PGDumpSelector selects a cluster's pgdump Jobs.
func PGDumpSelector(clusterName string) labels.Set {
	return componentSelector(clusterName, ComponentPGDump)
}

// RestoreSelector selects a cluster's restore Jobs and their pods.
func RestoreSelector(clusterName string) labels.Set {
	return componentSelector(clusterName, ComponentRestore)
}

// ScheduleSelector selects the schedules of a cluster (every cluster when
// clusterName is empty).
func ScheduleSelector(clusterName string) labels.Set {
	l := labels.Set{cluster.LabelComponent: ComponentSchedule, cluster.LabelManagedBy: cluster.FieldManager}
	if clusterName != "" {
		maps.Copy(l, cluster.ClusterSelector(clusterName))
	}
	return l
}

// DumpComponent is the component label of the Jobs and PVCs of a backup
// type of the PostgreSQL tools: pgdump, or pgbasebackup.
func DumpComponent(backupType string) string {
	if backupType == BackupTypePGBaseBackup {
		return ComponentPGBaseBackup
	}
	return ComponentPGDump
}

// DumpSelector selects the Jobs of dumps, or of base backups
// (backupType pgbasebackup), of a cluster (of every cluster when
// clusterName is empty).
func DumpSelector(backupType, clusterName string) labels.Set {
	if clusterName == "" {
		return labels.Set{cluster.LabelComponent: DumpComponent(backupType), cluster.LabelManagedBy: cluster.FieldManager}
	}
	return componentSelector(clusterName, DumpComponent(backupType))
}
