package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const verifyLong = `Verify a cluster's pgBackRest repositories with pgbackrest verify, run in
the repository host's pod: every WAL segment in the archive and every file of
every backup is read back and checked against the checksum and size that
pgBackRest recorded when it wrote it.

Each repository of the cluster is verified in turn (--repo or
--pgbackrest-storage-type choose one). The report lists, per repository,
the WAL checked and found valid per archive id, each backup with its
status, and every file pgBackRest named as missing or invalid.

pgbackrest verify itself exits 0 when it finds invalid files; this command
exits non-zero when any repository has an invalid backup or WAL segment,
or could not be verified, and says what to do.`

const verifyExample = `  # Verify every repository of cluster hippo
  kubectl pgo verify hippo

  # Verify repo1 only, and print the result as JSON
  kubectl pgo verify hippo --repo=1 -o json`

// DefaultVerifyTimeout bounds pgbackrest verify in one repository: it
// reads every file of the repository.
const DefaultVerifyTimeout = 30 * time.Minute

// maxRepoIndex is the highest repoN pgBackRest accepts.
const maxRepoIndex = 256

// The types of verify -o json|yaml.
type (
	VerifyReport     = inspect.VerifyReport
	RepositoryVerify = inspect.RepositoryVerify
)

// VerifyOptions holds the flags and clients of `kubectl pgo verify`.
type VerifyOptions struct {
	execTarget
	Repo        int
	StorageType string
	Timeout     time.Duration
	Output      *printers.OutputFlags

	genericiooptions.IOStreams
}

// NewVerifyOptions returns options with the defaults.
func NewVerifyOptions(streams genericiooptions.IOStreams) *VerifyOptions {
	return &VerifyOptions{Timeout: DefaultVerifyTimeout, Output: printers.NewOutputFlags(printers.DefaultFormats...), IOStreams: streams}
}

// NewCmdVerify returns `kubectl pgo verify NAME`.
func NewCmdVerify(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdVerify(f, NewVerifyOptions(streams))
}

func newCmdVerify(f kube.Factory, o *VerifyOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"verify NAME",
		"Verify the backups and WAL archive of a cluster's pgBackRest repositories",
		verifyLong, verifyExample})
	fl := cmd.Flags()
	fl.IntVar(&o.Repo, "repo", 0, "Verify only this repository (1 for repo1); every repository of the cluster if unset.")
	fl.StringVar(&o.StorageType, flagStorageType, "", "Verify only the repository of this type: local (posix), s3, gcs or azure.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long pgbackrest verify may take in each repository.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions(storageTypeNames()...))
	return cmd
}

// Validate checks the name and the flags; it sends no request.
func (o *VerifyOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	if cmd.Flags().Changed("repo") && (o.Repo < 1 || o.Repo > maxRepoIndex) {
		return usageErrorf(cmd, "invalid --repo %d: a repository is numbered 1 to %d (1 for repo1)", o.Repo, maxRepoIndex)
	}
	if o.StorageType != "" {
		if o.Repo != 0 {
			return usageErrorf(cmd, "--repo and --%s both choose the repository: give one of them", flagStorageType)
		}
		if _, err := repoTypeOf(o.StorageType); err != nil {
			return usageErrorf(cmd, "invalid --%s: %v", flagStorageType, err)
		}
	}
	if err := validateTimeout(cmd, o.Timeout); err != nil {
		return err
	}
	return nil
}

// repoTypeOf maps a --pgbackrest-storage-type value to the repository
// type it makes.
func repoTypeOf(storageType string) (repo.Type, error) {
	switch cluster.StorageType(strings.ToLower(strings.TrimSpace(storageType))) {
	case cluster.StorageLocal, cluster.StoragePosix:
		return repo.Posix, nil
	case cluster.StorageS3:
		return repo.S3, nil
	case cluster.StorageGCS:
		return repo.GCS, nil
	case cluster.StorageAzure:
		return repo.Azure, nil
	}
	return "", fmt.Errorf("%q is not a storage type: use %s (or %s), %s, %s or %s", storageType, cluster.StorageLocal, cluster.StoragePosix, cluster.StorageS3, cluster.StorageGCS, cluster.StorageAzure)
}

// Run verifies the repositories and prints the report.
func (o *VerifyOptions) Run(ctx context.Context) error {
	client, spec, err := o.clientAndSpec(ctx)
	if err != nil {
		return err
	}
	ns := o.namespace
	typ, _ := repoTypeOf(o.StorageType)
	repos, err := inspect.SelectRepositories(o.Name, spec.Repositories(), o.Repo, typ)
	if err != nil {
		return err
	}
	pod, err := findPGBackRestPod(ctx, client, ns, o.Name)
	if err != nil {
		return fmt.Errorf("cannot verify the repositories of cluster %q: its repository host %s (%v); check it with kubectl get deployment %s -n %s",
			o.Name, notRunning(err), err, cluster.RepoHostName(o.Name), ns)
	}
	report, err := inspect.Verify(ctx, o.exec, ns, o.Name, pod.Name, repos, o.Timeout, func(r repo.Repository) {
		if o.Output.Format() == printers.FormatTable {
			fmt.Fprintf(o.ErrOut, "Verifying repo%d (%s) in pod %s...\n", r.Index, r.Type, pod.Name)
		}
	})
	if err != nil {
		return err
	}
	if o.Output.Format() != printers.FormatTable {
		if err := o.Output.Print(o.Out, nil, report); err != nil {
			return err
		}
	} else if err := writeVerifyReport(o, report); err != nil {
		return err
	}
	return verifyFailure(report)
}

// writeVerifyReport prints a table of the repositories, then what failed.
func writeVerifyReport(o *VerifyOptions, report VerifyReport) error {
	t := printers.NewTable("Repo", "Type", "Status", "WAL valid", "Backups valid", "Took")
	for _, rv := range report.Repositories {
		status, wal, backups := "ok", "-", "-"
		if !rv.OK {
			status = "failed"
		}
		if res := rv.Result; res != nil {
			checked, valid := 0, 0
			for _, a := range res.Archives {
				checked += a.WALChecked
				valid += a.WALValid
			}
			wal = fmt.Sprintf("%d/%d", valid, checked)
			current := len(res.Backups) - len(res.ExpiredBackups())
			backups = fmt.Sprintf("%d/%d", current-len(res.InvalidBackups()), current)
		}
		t.AddRow(rv.Repo, string(rv.Type), status, wal, backups, rv.Duration)
	}
	if err := t.Render(o.Out); err != nil {
		return err
	}
	var lines []string
	for _, rv := range report.Repositories {
		for _, line := range verifyProblemLines(rv) {
			lines = append(lines, rv.Repo+": "+line)
		}
	}
	for _, rv := range report.Repositories {
		if rv.Result == nil {
			continue
		}
		for _, b := range rv.Result.ExpiredBackups() {
			lines = append(lines, fmt.Sprintf("%s: backup %s: a directory without a manifest that backup.info no longer lists (an expired backup's leftover): not counted", rv.Repo, b))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(o.Out, "\n%s\n", strings.Join(lines, "\n"))
	}
	if report.OK {
		fmt.Fprintf(o.Out, "\ncluster %s: every backup and WAL segment verified\n", o.Name)
	}
	return nil
}

// verifyProblemLines describes what failed in a repository: the invalid
// backups and archives, then the files and messages of the log.
func verifyProblemLines(rv RepositoryVerify) []string {
	var lines []string
	if rv.Error != "" {
		lines = append(lines, rv.Error)
	}
	if res := rv.Result; res != nil {
		for _, b := range res.InvalidBackups() {
			line := fmt.Sprintf("backup %s is %s: %d of %d files valid", b.Label, b.Status, b.FilesValid, b.FilesChecked)
			if s := b.String(); s != "" {
				line += " (" + s + ")"
			}
			lines = append(lines, line)
		}
		for _, a := range res.InvalidArchives() {
			line := fmt.Sprintf("archive %s: %d of %d WAL segments valid", a.ID, a.WALValid, a.WALChecked)
			if s := a.String(); s != "" {
				line += " (" + s + ")"
			}
			lines = append(lines, line)
		}
		if !rv.OK && len(res.InvalidBackups()) == 0 && len(res.InvalidArchives()) == 0 {
			lines = append(lines, "pgbackrest verify reported status "+res.Status)
		}
		for _, p := range res.Problems {
			lines = append(lines, problemLine(p))
		}
	}
	if rv.Result == nil {
		for _, p := range rv.Problems {
			if p.Level != "ERROR" {
				lines = append(lines, problemLine(p))
			}
		}
	}
	return lines
}

// problemLine is a problem of the log; an invalid file is reported at
// level info, so only warnings and errors name their level.
func problemLine(p repo.VerifyProblem) string {
	if p.Level == "INFO" {
		return p.Message
	}
	return strings.ToLower(p.Level) + ": " + p.Message
}

// verifyFailure is the command's error when a repository failed: what is
// wrong, and what to do about it.
func verifyFailure(report VerifyReport) error {
	if report.OK {
		return nil
	}
	var failed, invalid, files, wal []string
	for _, rv := range report.Repositories {
		if rv.OK {
			continue
		}
		failed = append(failed, rv.Repo)
		if rv.Result == nil {
			continue
		}
		for _, b := range rv.Result.InvalidBackups() {
			invalid = append(invalid, rv.Repo+":"+b.Label)
		}
		for _, a := range rv.Result.InvalidArchives() {
			wal = append(wal, rv.Repo+":"+a.ID)
		}
		for _, p := range rv.Result.Problems {
			if p.File != "" {
				files = append(files, p.File)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "verification of cluster %q failed in %s", report.Cluster, strings.Join(failed, ", "))
	if len(files) > 0 {
		fmt.Fprintf(&b, "; invalid or missing files: %s", strings.Join(firstN(files, 5), ", "))
	}
	if len(invalid) > 0 {
		fmt.Fprintf(&b, ". Backup(s) %s cannot be trusted for a restore: take a new full backup (kubectl pgo backup %s -n %s --type=full --wait), then delete the invalid one(s) (kubectl pgo delete backup %s -n %s --target=LABEL)",
			strings.Join(invalid, ", "), report.Cluster, report.Namespace, report.Cluster, report.Namespace)
	}
	if len(wal) > 0 {
		fmt.Fprintf(&b, ". The WAL archive %s has invalid segments: a point-in-time recovery through them fails; take a new full backup (kubectl pgo backup %s -n %s --type=full --wait) so that restores to later points do not need them",
			strings.Join(wal, ", "), report.Cluster, report.Namespace)
	}
	if len(invalid) == 0 && len(wal) == 0 {
		fmt.Fprintf(&b, ". Check the repository host (kubectl logs deployment/%s -n %s) and its storage, then run kubectl pgo verify %s again",
			cluster.RepoHostName(report.Cluster), report.Namespace, report.Cluster)
	}
	return errors.New(b.String())
}

// firstN returns the first n items, and how many more there are.
func firstN(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(slices.Clone(items[:n]), fmt.Sprintf("and %d more", len(items)-n))
}
