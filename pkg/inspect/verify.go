// What verify reports: pgbackrest verify run in each repository of a
// cluster, and what it found.

package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// VerifyReport is what `kubectl pgo verify -o json|yaml` prints.
type VerifyReport struct {
	Cluster      string             `json:"cluster"`
	Namespace    string             `json:"namespace"`
	Pod          string             `json:"pod"`
	OK           bool               `json:"ok"`
	Repositories []RepositoryVerify `json:"repositories"`
}

// RepositoryVerify is one repository in a VerifyReport.
type RepositoryVerify struct {
	Repo string    `json:"repo"`
	Type repo.Type `json:"type"`
	OK   bool      `json:"ok"`
	// Result is pgbackrest verify's report; absent when it could not
	// run to the end (see Error).
	Result *repo.VerifyResult `json:"result,omitempty"`
	// Problems are the log's errors when verify aborted.
	Problems []repo.VerifyProblem `json:"problems,omitempty"`
	Error    string               `json:"error,omitempty"`
	Duration string               `json:"duration"`
}

// SelectRepositories picks among the cluster's repositories repoN (index)
// or those of type typ; every one when neither is given.
func SelectRepositories(name string, all []repo.Repository, index int, typ repo.Type) ([]repo.Repository, error) {
	if index == 0 && typ == "" {
		return all, nil
	}
	var out []repo.Repository
	for _, r := range all {
		if (index != 0 && r.Index == index) || (typ != "" && r.Type == typ) {
			out = append(out, r)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	have := make([]string, len(all))
	for i, r := range all {
		have[i] = fmt.Sprintf("repo%d (%s)", r.Index, r.Type)
	}
	what := fmt.Sprintf("repo%d", index)
	if typ != "" {
		what = string(typ) + " repository"
	}
	return nil, fmt.Errorf("cluster %q has no %s: its repositories are %s", name, what, strings.Join(have, ", "))
}

// Verify runs pgbackrest verify in each repository in turn, in the pod
// that runs pgBackRest's commands; started is called before each. An exec
// that cannot run at all is an error; a verify that fails is in the report.
func Verify(ctx context.Context, exec Exec, namespace, name, pod string, repos []repo.Repository, timeout time.Duration, started func(repo.Repository)) (VerifyReport, error) {
	report := VerifyReport{Cluster: name, Namespace: namespace, Pod: pod, OK: true}
	for _, r := range repos {
		started(r)
		rv, err := verifyRepository(ctx, exec, namespace, pod, r, timeout)
		if err != nil {
			return report, err
		}
		report.OK = report.OK && rv.OK
		report.Repositories = append(report.Repositories, rv)
	}
	return report, nil
}

// verifyRepository runs pgbackrest verify in one repository. An exec that
// cannot run at all is an error; a verify that fails is a result.
func verifyRepository(ctx context.Context, exec Exec, namespace, pod string, r repo.Repository, timeout time.Duration) (RepositoryVerify, error) {
	rv := RepositoryVerify{Repo: fmt.Sprintf("repo%d", r.Index), Type: r.Type}
	execCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	stdout, stderr, err := exec(execCtx, namespace, pod, repoContainer, repo.VerifyCommand(r.Index))
	rv.Duration = time.Since(start).Round(100 * time.Millisecond).String()
	var execErr *kube.ExecError
	switch {
	case errors.As(err, &execErr):
		rv.Problems = repo.ParseVerifyLog(stderr)
		rv.Error = fmt.Sprintf("pgbackrest verify aborted with exit code %d", execErr.Code)
		var msgs []string
		for _, p := range rv.Problems {
			if p.Level == "ERROR" {
				msgs = append(msgs, p.Message)
			}
		}
		if len(msgs) > 0 {
			rv.Error += ": " + strings.Join(msgs, "; ")
		}
		return rv, nil
	case execCtx.Err() != nil && ctx.Err() == nil:
		rv.Error = fmt.Sprintf("pgbackrest verify did not finish within --timeout=%s", timeout)
		return rv, nil
	case err != nil:
		return rv, kube.ExplainExec("run pgbackrest verify in the repository pod", namespace, pod, err)
	}
	result, err := repo.ParseVerify(stdout, stderr)
	if err != nil {
		rv.Error = err.Error()
		return rv, nil
	}
	if result.ManifestsMissing() {
		// A directory without a manifest is an expired backup unless
		// backup.info still lists it.
		sum, err := Repository(ctx, exec, namespace, pod, r.Index)
		if err != nil {
			return rv, err
		}
		current := make([]string, len(sum.Backups))
		for i, b := range sum.Backups {
			current[i] = b.Label
		}
		result.MarkExpired(current)
	}
	rv.Result = &result
	rv.OK = result.OK()
	return rv, nil
}
