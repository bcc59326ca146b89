package backup

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// The allow-lists of --backup-opts and --schedule-opts for the PostgreSQL
// tools; the options with a value take it after "=".
var (
	// PGDumpOptions are the pg_dump and pg_dumpall options of backup
	// --backup-type=pgdump.
	PGDumpOptions = []string{
		"--schema", "--exclude-schema", "--table", "--exclude-table", "--exclude-table-data",
		"--no-owner", "--no-privileges", "--no-acl", "--compress", "--data-only", "--schema-only",
		"--no-comments", "--no-publications", "--no-subscriptions", "--no-tablespaces", "--no-large-objects",
		"--no-blobs", "--lock-wait-timeout", "--encoding", "--quote-all-identifiers", "--section",
		"--clean", "--if-exists", "--roles-only", "--globals-only", "--no-role-passwords", "--exclude-database",
	}
	// PGRestoreOptions are the pg_restore options of restore
	// --backup-type=pgdump.
	PGRestoreOptions = []string{
		"--no-owner", "--no-privileges", "--no-acl", "--schema", "--exclude-schema", "--table",
		"--data-only", "--schema-only", "--single-transaction", "--exit-on-error", "--jobs",
		"--disable-triggers", "--no-comments", "--section", "--no-tablespaces", "--no-publications", "--no-subscriptions",
	}
	// PGBaseBackupOptions are the pg_basebackup options of backup
	// --backup-type=pgbasebackup.
	PGBaseBackupOptions = []string{"--max-rate", "--label", "--no-verify-checksums", "--manifest-checksums", "--no-manifest"}
)

// managedOptions are refused with a reason: kubectl-pgo sets them.
var managedOptions = []string{"--host", "--port", "--username", "--file", "--format", "--dbname", "--password", "--no-password", "--clean", "--if-exists", "--create", "--verbose"}

// ParseToolOptions checks the options s of tool (pg_dump, pg_restore, ...)
// against an allow-list: each is a long option, with its value after "=".
// flag names the option in errors.
func ParseToolOptions(flag, s string, allowed []string, tool string) ([]string, error) {
	var errs []string
	args := strings.Fields(s)
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch {
		case !strings.HasPrefix(name, "--"):
			errs = append(errs, fmt.Sprintf("%q: give %s options in their long form, e.g. --table=orders", a, tool))
		case slices.Contains(allowed, name):
		case slices.Contains(managedOptions, name) || name == "--schema-only-globals":
			errs = append(errs, fmt.Sprintf("%s is managed by kubectl-pgo and cannot be set", name))
		default:
			errs = append(errs, fmt.Sprintf("%s is not an allowed %s option (allowed: %s)", name, tool, strings.Join(allowed, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, errors.New("invalid " + flag + ":\n  " + strings.Join(errs, "\n  "))
	}
	return args, nil
}

// DumpFlags checks the flags of a backup of the PostgreSQL tools
// (backupType pgdump, or pgbasebackup; all for pg_dumpall): the tool's
// options, given as flag, and the PVC of the backups and its size. It
// returns the options and the PVC, the cluster's default one when pvc is
// empty.
func DumpFlags(flag, backupType, clusterName, options string, all bool, pvc, size string) ([]string, string, error) {
	tool, allowed, def := dumpTool(backupType, clusterName, all)
	opts, err := ParseToolOptions(flag, options, allowed, tool)
	if err != nil {
		return nil, "", err
	}
	pvc = cmp.Or(pvc, def)
	if err := validatePVC(clusterName, pvc, size); err != nil {
		return nil, "", err
	}
	return opts, pvc, nil
}

// dumpTool is what a backup type of the PostgreSQL tools runs: the tool
// (pg_dumpall for all), the options it allows, and the default PVC of the
// cluster's backups.
func dumpTool(backupType, clusterName string, all bool) (tool string, allowed []string, pvc string) {
	switch {
	case backupType == jobs.BackupTypePGBaseBackup:
		return "pg_basebackup", PGBaseBackupOptions, jobs.DefaultPGBaseBackupPVCName(clusterName)
	case all:
		return "pg_dumpall", PGDumpOptions, jobs.DefaultPGDumpPVCName(clusterName)
	}
	return "pg_dump", PGDumpOptions, jobs.DefaultPGDumpPVCName(clusterName)
}

// validatePVC checks the name and the size of a PVC of backups, as given
// by --pvc-name and --pvc-size.
func validatePVC(clusterName, pvc, size string) error {
	if msgs := validation.IsDNS1123Label(pvc); len(msgs) > 0 {
		return fmt.Errorf("invalid --pvc-name %q: %s", pvc, strings.Join(msgs, "; "))
	}
	if _, err := jobs.PGDumpPVC(clusterName, "x", pvc, size, "x"); err != nil {
		return fmt.Errorf("invalid --pvc-size: %v", err)
	}
	return nil
}
