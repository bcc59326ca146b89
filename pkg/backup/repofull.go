package backup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// repoFullPercent is the use at which doctor fails the repository volume
// (its repoUsageFail): the same judgement here.
const repoFullPercent = 95

// execTimeout bounds df in the repository pod.
const execTimeout = time.Minute

// RepoFull says whether the local repository's volume is full, as doctor
// judges it, with what to do; "" when it is not, or cannot be told.
// pgBackRest often reports a full repository as a WAL segment that was not
// archived in time: a failed backup says what is behind it.
func RepoFull(ctx context.Context, client kubernetes.Interface, exec Exec, ns string, spec cluster.Spec) string {
	if !slices.ContainsFunc(spec.Repositories(), func(r repo.Repository) bool { return r.Type == repo.Posix }) {
		return ""
	}
	pod, err := kube.FindRunningPod(ctx, client, ns, cluster.RepoSelector(spec.Name).String())
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	out, _, err := exec(ctx, ns, pod.Name, cluster.ContainerPGBackRest, []string{"df", "-P", "-B1", spec.RepoPath})
	if err != nil {
		return ""
	}
	percent, available, ok := dfUse(out)
	if !ok || percent < repoFullPercent {
		return ""
	}
	return fmt.Sprintf("The repository volume is full: %d%% used, %s free (df %s in pod %s). Free space, then check with kubectl pgo doctor %s -n %s",
		percent, repo.FormatBytes(available), spec.RepoPath, pod.Name, spec.Name, ns)
}

// dfUse reads the last line of df -P -B1 PATH: df's Use% (used over what
// a user can have, rounded up) and the bytes available. doctor reads df
// with its own parser, which also keeps the size for its report.
func dfUse(out string) (percent, available int64, ok bool) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(lines) < 2 || len(fields) < 6 {
		return 0, 0, false
	}
	var n [3]int64
	for i := range n {
		v, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		n[i] = v
	}
	used, available := n[1], n[2]
	if total := used + available; total > 0 {
		percent = (used*100 + total - 1) / total
	}
	return percent, available, true
}
