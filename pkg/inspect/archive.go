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
	// Healthy is false when archiving fails (see Problems).
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// ArchiveStatusList is `show archive -A|--selector -o json|yaml`.
type ArchiveStatusList struct {
	Items []ArchiveStatus `json:"items"`
}

// Archive queries the database pod of the cluster: pg_stat_archiver through psql, and
// pgbackrest check, at the same time.
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
	var archiverErr, checkErr error
	wg.Go(func() {
		out, _, err := exec(ctx, namespace, pod.Name, databaseContainer, repo.ArchiverCommand())
		if err != nil {
			archiverErr = kube.ExplainExec("query pg_stat_archiver in the database pod", namespace, pod.Name, err)
			return
		}
		a, err := repo.ParseArchiverStatus(out)
		if err != nil {
			archiverErr = err
			return
		}
		s.Archiver = &a
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
	if err := errors.Join(archiverErr, checkErr); err != nil {
		s.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	s.Problems = archiveProblems(s.Archiver, s.Check)
	s.Healthy = s.Error == "" && len(s.Problems) == 0
	return s
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
