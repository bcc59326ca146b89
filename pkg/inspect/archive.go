// What show archive reports of a cluster's WAL archiving, read in its
// database pod.

package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ArchiveStatus is one cluster in `show archive -o json|yaml`.
type ArchiveStatus struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod,omitempty"`
	// Archiver is PostgreSQL's view of archiving.
	Archiver *repo.ArchiverStatus `json:"archiver,omitempty"`
	// Check is the result of pgbackrest check; absent with --no-check.
	Check *repo.CheckResult `json:"check,omitempty"`
	// WALGaps is the WAL missing from the repositories: dropped when the
	// archive-push queue was full, or lost. One that a backup closed is
	// history; one that none closed is a problem.
	WALGaps []repo.WALGap `json:"walGaps,omitempty"`
	// Healthy is false when archiving fails (see Problems).
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// ArchiveStatusList is `show archive -A|--selector -o json|yaml`.
type ArchiveStatusList struct {
	Items []ArchiveStatus `json:"items"`
}

// Archive queries the database pod of the cluster, at the same time:
// pg_stat_archiver through psql followed by the listing of the archive
// (ArchiverAndGaps), and pgbackrest check.
func Archive(ctx context.Context, client kubernetes.Interface, exec Exec, namespace, name string, noCheck bool) ArchiveStatus {
	s := ArchiveStatus{Cluster: name, Namespace: namespace}
	pod, err := kube.FindRunningPod(ctx, client, namespace, cluster.PrimaryPodSelector(name))
	if err != nil {
		s.Error = fmt.Sprintf("the database %s: %v", kube.NotRunning(err), err)
		return s
	}
	s.Pod = pod.Name
	ctx, cancel := context.WithTimeout(ctx, ExecTimeout+repoCheckTimeout)
	defer cancel()

	var wg sync.WaitGroup
	var archiverErr, checkErr, gapsErr error
	wg.Go(func() {
		s.Archiver, s.WALGaps, archiverErr, gapsErr = ArchiverAndGaps(ctx, exec, namespace, pod.Name)
	})
	if !noCheck {
		wg.Go(func() {
			stdout, stderr, err := exec(ctx, namespace, pod.Name, databaseContainer, repo.CheckCommand())
			var execErr *kube.ExecError
			code := 0
			switch {
			case errors.As(err, &execErr):
				code = execErr.ExitCode()
			case err != nil:
				checkErr = kube.ExplainExec("run pgbackrest check in the database pod", namespace, pod.Name, err)
				return
			}
			c := repo.ParseCheck(stdout+"\n"+stderr, code)
			s.Check = &c
		})
	}
	wg.Wait()
	if err := errors.Join(archiverErr, checkErr, gapsErr); err != nil {
		s.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	s.Problems = append(archiveProblems(s.Archiver, s.Check), gapProblems(name, s.WALGaps)...)
	s.Healthy = s.Error == "" && len(s.Problems) == 0
	return s
}

// ArchiverAndGaps reads pg_stat_archiver, then lists the archive of every
// repository, in one exec into the database container of pod, and returns
// the WAL missing from the archive (repo.InfoOutput.WALGaps): what
// PostgreSQL saw archived first tells the WAL still on its way from the
// WAL that is missing.
func ArchiverAndGaps(ctx context.Context, exec Exec, namespace, pod string) (a *repo.ArchiverStatus, gaps []repo.WALGap, archiverErr, gapsErr error) {
	execCtx, cancel := context.WithTimeout(ctx, ExecTimeout)
	defer cancel()
	command := repo.ArchiverThenCommand(repo.InfoWithWALCommand([]string{"--stanza=" + repo.StanzaName}, 0, nil))
	stdout, _, err := exec(execCtx, namespace, pod, databaseContainer, command)
	archiver, listing, read := repo.SplitArchiverThen(stdout)
	if !read {
		return nil, nil, kube.ExplainExec("query pg_stat_archiver in the database pod", namespace, pod, err), nil
	}
	status, perr := repo.ParseArchiverStatus(archiver)
	if perr != nil {
		return nil, nil, perr, nil
	}
	if err != nil {
		return &status, nil, nil, kube.ExplainExec("list the WAL archive", namespace, pod, err)
	}
	info, err := repo.ParseInfoOutput(listing)
	if err != nil {
		return &status, nil, nil, fmt.Errorf("cannot list the WAL archive: %w", err)
	}
	stanza, err := FindStanza(info.Stanzas)
	if err != nil {
		return &status, nil, nil, fmt.Errorf("cannot list the WAL archive: %w", err)
	}
	return &status, info.WALGaps(stanza, status.LastArchivedWAL), nil, nil
}

// gapProblems are the gaps no backup closed yet: no point after them can
// be recovered.
func gapProblems(name string, gaps []repo.WALGap) []string {
	var problems []string
	for _, g := range gaps {
		if !g.Closed() {
			problems = append(problems, fmt.Sprintf("WAL was dropped (the archive-push queue was full) or lost: %s; no point after it can be recovered until a new backup: run kubectl pgo backup %s", g, name))
		}
	}
	return problems
}

// repoCheckTimeout is how long pgbackrest check may wait for the WAL
// segment (archive-timeout, 60 s by default), plus a margin.
const repoCheckTimeout = 90 * time.Second

// archiveProblems lists what is wrong with archiving.
func archiveProblems(a *repo.ArchiverStatus, c *repo.CheckResult) []string {
	var problems []string
	if a != nil {
		if a.ArchiveMode == "off" {
			problems = append(problems, "archive_mode is off")
		}
		if a.Failing() {
			problems = append(problems, fmt.Sprintf("the last archive attempt failed (segment %s at %s)", a.LastFailedWAL, a.LastFailedTime.Format(time.RFC3339)))
		}
	}
	if c != nil && !c.OK {
		msg := fmt.Sprintf("pgbackrest check failed with exit code %d", c.ExitCode)
		if len(c.Errors) > 0 {
			msg += ": " + c.Errors[len(c.Errors)-1]
		}
		problems = append(problems, msg)
	}
	return problems
}
