// What a cluster's pods say of it, read by exec: the pods' readiness, the
// stanza (pgbackrest info) and the archiver (pg_stat_archiver), and the
// system identifier check. show cluster, doctor and create cluster --wait
// use it; the types are those of show cluster -o json.

package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// PodInfo is one pod of the cluster.
type PodInfo struct {
	Name      string `json:"name"`
	Component string `json:"component"`
	Phase     string `json:"phase"`
	Ready     bool   `json:"ready"`
	// Containers is ready/total, as kubectl get pods shows it: "2/2".
	Containers string    `json:"containers"`
	Restarts   int32     `json:"restarts"`
	Created    time.Time `json:"created"`
	Node       string    `json:"node,omitempty"`
	// Problem says why the pod cannot run where it is: not scheduled (and the scheduler's
	// reason), or its node is not ready (kube.PodProblems).
	Problem string `json:"problem,omitempty"`
}

// StanzaInfo is the stanza as `pgbackrest info` reports it.
type StanzaInfo struct {
	Name string `json:"name"`
	// Status is ok, no backups, missing (not created yet), error, or
	// unknown when it could not be asked (see Error).
	Status  string `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
	Backups int    `json:"backups"`
	// ArchiveMin and ArchiveMax are the oldest and newest WAL segments in
	// the repository.
	ArchiveMin string       `json:"archiveMin,omitempty"`
	ArchiveMax string       `json:"archiveMax,omitempty"`
	Repos      []StanzaRepo `json:"repos,omitempty"`
	// SystemID is the system identifier of the database the stanza
	// belongs to (its latest); 0 when unknown.
	SystemID uint64 `json:"systemId,omitempty"`
	// Error says why the status is unknown.
	Error string `json:"error,omitempty"`
}

// StanzaRepo is the stanza's status in one repository.
type StanzaRepo struct {
	Key     int    `json:"key"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (s StanzaInfo) Usable() bool {
	return s.Error == "" && (s.Status == "ok" || s.Status == "no backups")
}

// ArchiveInfo is pg_stat_archiver.
type ArchiveInfo struct {
	ArchivedCount    int64      `json:"archivedCount"`
	FailedCount      int64      `json:"failedCount"`
	LastArchivedWAL  string     `json:"lastArchivedWAL,omitempty"`
	LastArchivedTime *time.Time `json:"lastArchivedTime,omitempty"`
	LastFailedWAL    string     `json:"lastFailedWAL,omitempty"`
	LastFailedTime   *time.Time `json:"lastFailedTime,omitempty"`
	// Failing is true when the last attempt to archive failed.
	Failing bool   `json:"failing"`
	Error   string `json:"error,omitempty"`

	// SystemID is read with the row and reported in DatabaseInfo.
	SystemID uint64 `json:"-"`
}

func PodInfoOf(p *corev1.Pod) PodInfo {
	ready, total := 0, len(p.Spec.Containers)
	var restarts int32
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += cs.RestartCount
	}
	phase := string(p.Status.Phase)
	if p.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	return PodInfo{
		Name:       p.Name,
		Component:  p.Labels[cluster.LabelComponent],
		Phase:      phase,
		Ready:      kube.IsPodReady(p),
		Containers: fmt.Sprintf("%d/%d", ready, total),
		Restarts:   restarts,
		Created:    p.CreationTimestamp.UTC(),
		Node:       p.Spec.NodeName,
	}
}

// ContainerRunning tells whether a container of the pod runs, so that an
// exec into it can work.
func ContainerRunning(p *corev1.Pod, container string) bool {
	if p == nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			return cs.State.Running != nil
		}
	}
	return false
}

// execProblem sorts an exec failure: a command that ran and failed is a
// state of the cluster (returned as the message); anything else (exec
// forbidden, connection lost) is an error of the command.
func execProblem(what string, err error) (string, error) {
	var execErr *kube.ExecError
	if errors.As(err, &execErr) {
		return fmt.Sprintf("%s: %v", what, err), nil
	}
	return "unknown: " + what + " failed", fmt.Errorf("%s: %w", what, err)
}

// infoCommand is `pgbackrest info` for the cluster's stanza, as
// JSON. A short io-timeout: pgBackRest retries a refused TLS connection
// (an untrusted S3 certificate) for that long, longer than the exec may take.
var infoCommand = []string{"pgbackrest", "--stanza=" + repo.StanzaName, "--output=json", "--io-timeout=10", "info"}

// QueryStanza runs pgbackrest info in the repository host.
func QueryStanza(ctx context.Context, exec Exec, pod *corev1.Pod) (StanzaInfo, error) {
	s := StanzaInfo{Name: repo.StanzaName, Status: StatusUnknown}
	if !ContainerRunning(pod, repoContainer) {
		s.Error = "unknown: no running repository host pod"
		return s, nil
	}
	stdout, _, err := execStatus(ctx, exec, pod, repoContainer, infoCommand)
	if err != nil {
		var cmdErr error
		s.Error, cmdErr = execProblem("pgbackrest info in pod "+pod.Name, err)
		return s, cmdErr
	}
	return stanzaFromInfo(stdout), nil
}

// stanzaFromInfo reads the output of pgbackrest info.
func stanzaFromInfo(stdout string) StanzaInfo {
	s := StanzaInfo{Name: repo.StanzaName, Status: StatusUnknown}
	stanzas, err := repo.ParseInfo([]byte(stdout))
	if err != nil {
		s.Error = err.Error()
		return s
	}
	st, ok := repo.Find(stanzas, repo.StanzaName)
	if !ok {
		s.Status, s.Message = "missing", "pgbackrest info does not list the stanza"
		return s
	}
	s.Code, s.Message = st.Status.Code, st.Status.Message
	s.Backups = len(st.Backup)
	s.SystemID = stanzaSystemID(st)
	for _, a := range st.Archive {
		if s.ArchiveMin == "" || (a.Min != "" && a.Min < s.ArchiveMin) {
			s.ArchiveMin = a.Min
		}
		if a.Max > s.ArchiveMax {
			s.ArchiveMax = a.Max
		}
	}
	for _, r := range st.Repo {
		s.Repos = append(s.Repos, StanzaRepo{Key: r.Key, Code: r.Status.Code, Message: r.Status.Message})
	}
	err = st.Err()
	switch {
	case errors.Is(err, repo.ErrStanzaMissing):
		s.Status = "missing"
		s.Message = err.Error()
	case err != nil:
		s.Status = "error"
		s.Message = err.Error()
	case st.Status.Code == repo.StatusNoValidBackups || s.Backups == 0:
		s.Status = "no backups"
	default:
		s.Status = "ok"
	}
	return s
}

// Stanza finds the pod that runs pgBackRest's commands and asks it for
// the stanza; create cluster --wait uses it. It never fails: what could not
// be read is in StanzaInfo.Error.
func Stanza(ctx context.Context, client kubernetes.Interface, exec Exec, ns, name string) StanzaInfo {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.PGBackRestPodSelector(name)})
	if err != nil {
		return StanzaInfo{Name: repo.StanzaName, Status: StatusUnknown, Error: err.Error()}
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if ContainerRunning(&pods.Items[i], repoContainer) {
			pod = &pods.Items[i]
			break
		}
	}
	info, err := QueryStanza(ctx, exec, pod)
	if err != nil {
		info.Error = err.Error()
	}
	return info
}

// archiverQuery reads pg_stat_archiver as one JSON object: a
// machine-readable row with typed values, and times in ISO 8601 with their
// offset.
const archiverQuery = `SELECT row_to_json(a) FROM (SELECT archived_count, failed_count, last_archived_wal, last_archived_time, last_failed_wal, last_failed_time, ` +
	`(SELECT system_identifier FROM pg_control_system())::text AS system_identifier FROM pg_stat_archiver) a`

// PSQLCommand runs one query in a database of the database container:
// over the local socket as the postgres user (peer authentication), without
// psqlrc, unaligned and tuples only, stopping on the first error.
func PSQLCommand(database, query string) []string {
	return []string{"psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
		"--set=ON_ERROR_STOP=1", "--dbname=" + database, "--command=" + query}
}

// StatusMarker ends each command's output in statusCommand, with its exit
// status on stdout; on stderr it separates the two.
const StatusMarker = "--- kubectl-pgo: exit status"

// statusCommand runs psql (its arguments follow the script) and then
// pgbackrest info in one exec, so that show cluster makes one exec, not two.
var statusCommand = append([]string{"sh", "-c",
	`"$@"; echo "` + StatusMarker + ` $?"; echo "` + StatusMarker + `" >&2; ` +
		strings.Join(infoCommand, " ") + `; echo "` + StatusMarker + ` $?"`,
	"sh"}, PSQLCommand("postgres", archiverQuery)...)

// QueryArchiverAndStanza reads pg_stat_archiver and pgbackrest info in the
// database container, in one exec.
func QueryArchiverAndStanza(ctx context.Context, exec Exec, pod *corev1.Pod) (ArchiveInfo, StanzaInfo, error) {
	a, s := ArchiveInfo{}, StanzaInfo{Name: repo.StanzaName, Status: StatusUnknown}
	stdout, stderr, err := execStatus(ctx, exec, pod, databaseContainer, statusCommand)
	if err != nil {
		var cmdErr error
		a.Error, cmdErr = execProblem("psql and pgbackrest info in pod "+pod.Name, err)
		s.Error = a.Error
		return a, s, cmdErr
	}
	outs, codes, ok := splitStatusOutput(stdout)
	if !ok {
		a.Error = fmt.Sprintf("unexpected output of psql and pgbackrest info in pod %s: %q", pod.Name, stdout)
		s.Error = a.Error
		return a, s, nil
	}
	errOuts := strings.SplitN(stderr, StatusMarker+"\n", 2)
	errOuts = append(errOuts, "")
	// Failures read as those of two execs (execProblem of an ExecError).
	failed := func(what string, command []string, i int) string {
		e := &kube.ExecError{Namespace: pod.Namespace, Pod: pod.Name, Container: databaseContainer, Command: command, Code: codes[i], Stderr: errOuts[i]}
		return fmt.Sprintf("%s in pod %s: %v", what, pod.Name, e)
	}
	if codes[0] != 0 {
		a.Error = failed("psql", PSQLCommand("postgres", archiverQuery), 0)
	} else if err := parseArchiver(outs[0], &a); err != nil {
		a.Error = err.Error()
	}
	if codes[1] != 0 {
		s.Error = failed("pgbackrest info", infoCommand, 1)
	} else {
		s = stanzaFromInfo(outs[1])
	}
	return a, s, nil
}

// splitStatusOutput cuts statusCommand's stdout into the two commands'
// outputs and exit statuses.
func splitStatusOutput(stdout string) (outs [2]string, codes [2]int, ok bool) {
	rest := stdout
	for i := range 2 {
		at := strings.Index(rest, StatusMarker+" ")
		if at < 0 {
			return outs, codes, false
		}
		outs[i] = rest[:at]
		line, after, _ := strings.Cut(rest[at+len(StatusMarker)+1:], "\n")
		code, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return outs, codes, false
		}
		codes[i], rest = code, after
	}
	return outs, codes, true
}

// QueryArchiver reads pg_stat_archiver in the database container.
func QueryArchiver(ctx context.Context, exec Exec, pod *corev1.Pod) (ArchiveInfo, error) {
	var a ArchiveInfo
	if !ContainerRunning(pod, databaseContainer) {
		a.Error = "unknown: the database pod is not running"
		return a, nil
	}
	stdout, _, err := execStatus(ctx, exec, pod, databaseContainer, PSQLCommand("postgres", archiverQuery))
	if err != nil {
		var cmdErr error
		a.Error, cmdErr = execProblem("psql in pod "+pod.Name, err)
		return a, cmdErr
	}
	if err := parseArchiver(stdout, &a); err != nil {
		a.Error = err.Error()
	}
	return a, nil
}

// parseArchiver decodes the row of archiverQuery.
func parseArchiver(out string, a *ArchiveInfo) error {
	var row struct {
		ArchivedCount    int64      `json:"archived_count"`
		FailedCount      int64      `json:"failed_count"`
		LastArchivedWAL  *string    `json:"last_archived_wal"`
		LastArchivedTime *time.Time `json:"last_archived_time"`
		LastFailedWAL    *string    `json:"last_failed_wal"`
		LastFailedTime   *time.Time `json:"last_failed_time"`
		SystemID         uint64     `json:"system_identifier,string"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
		return fmt.Errorf("cannot read pg_stat_archiver from psql's output %q: %w", strings.TrimSpace(out), err)
	}
	a.ArchivedCount, a.FailedCount, a.SystemID = row.ArchivedCount, row.FailedCount, row.SystemID
	if row.LastArchivedWAL != nil {
		a.LastArchivedWAL = *row.LastArchivedWAL
	}
	if row.LastFailedWAL != nil {
		a.LastFailedWAL = *row.LastFailedWAL
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	a.LastArchivedTime, a.LastFailedTime = utc(row.LastArchivedTime), utc(row.LastFailedTime)
	// The last attempt failed when a failure is newer than the last
	// success.
	a.Failing = a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime))
	return nil
}

// stanzaSystemID is the system identifier of the stanza's current
// database: the one with the highest id.
func stanzaSystemID(st repo.Stanza) uint64 {
	var id int
	var sys uint64
	for _, db := range st.DB {
		if db.ID >= id {
			id, sys = db.ID, db.SystemID
		}
	}
	return sys
}

// CheckSystemID fails when the stanza belongs to another database than
// the one running: a repository kept by delete --keep-backups under a new
// database, which can archive nothing into it.
func CheckSystemID(s StanzaInfo, database uint64) error {
	if s.SystemID == 0 || database == 0 || s.SystemID == database {
		return nil
	}
	return fmt.Errorf("the stanza belongs to another database: system identifier %d in the repository, %d in the running database; "+
		"WAL cannot be archived into it (was the cluster created again over backups kept by delete --keep-backups?)", s.SystemID, database)
}

// execStatus runs a command that reads the cluster's status in the pod's
// container, for at most statusExecTimeout.
func execStatus(ctx context.Context, exec Exec, pod *corev1.Pod, container string, command []string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, statusExecTimeout)
	defer cancel()
	return exec(ctx, pod.Namespace, pod.Name, container, command)
}
