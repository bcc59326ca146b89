// What show cluster, doctor and promote report of a standby cluster: how
// far its database has replayed the source's WAL, and how far the
// source's archive goes.

package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// StandbyInfo is the replay of a standby cluster's database.
type StandbyInfo struct {
	// Source is the cluster followed, namespace/name when in another
	// namespace.
	Source string `json:"source"`
	// InRecovery is pg_is_in_recovery(), which a standby must be; Paused
	// is pg_is_wal_replay_paused().
	InRecovery bool `json:"inRecovery"`
	Paused     bool `json:"paused,omitempty"`
	// ReplayLSN is the last WAL location replayed, in segment
	// ReplaySegment; LastTransaction is when the last transaction
	// replayed committed on the source (nil before the first one).
	ReplayLSN       string     `json:"replayLSN,omitempty"`
	ReplaySegment   string     `json:"replaySegment,omitempty"`
	LastTransaction *time.Time `json:"lastTransaction,omitempty"`
	// SourceArchiveMax is the newest WAL segment in the source's
	// repositories, and SegmentsBehind how many segments the replay is
	// behind it (0: the standby replays the newest one, or has).
	SourceArchiveMax string `json:"sourceArchiveMax,omitempty"`
	SegmentsBehind   *int64 `json:"segmentsBehind,omitempty"`
	// Receiver is the state of the streaming from the source's database
	// (pg_stat_wal_receiver: streaming, ...), for a standby with
	// --standby-host; empty when none runs.
	Receiver string `json:"receiver,omitempty"`
	// Error is what could not be read.
	Error string `json:"error,omitempty"`
}

// standbyQuery reads the replay state as one JSON row. The timeline of
// the replayed WAL is the last restartpoint's, which the replay moves on.
const standbyQuery = `SELECT json_build_object('inRecovery', pg_is_in_recovery(), ` +
	`'paused', CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, ` +
	`'replayLSN', pg_last_wal_replay_lsn(), 'lastTransaction', pg_last_xact_replay_timestamp(), ` +
	`'timeline', (SELECT timeline_id FROM pg_control_checkpoint()), 'receiver', (SELECT status FROM pg_stat_wal_receiver))`

// SourceInfoCommand is pgbackrest info on the source's repositories, in
// the database container of a standby cluster.
func SourceInfoCommand() []string {
	return []string{"bash", cluster.StandbySourceCommand, "--stanza=" + repo.StanzaName, "--output=json", "info"}
}

// Standby reads the replay of spec's standby database in pod, and the
// newest WAL segment of the source's archive, read with the source's
// configuration in the same pod.
func Standby(ctx context.Context, exec Exec, spec cluster.Spec, pod *corev1.Pod) StandbyInfo {
	info := StandbyInfo{Source: spec.StandbySourceName()}
	if !ContainerRunning(pod, databaseContainer) {
		info.Error = "the database container is not running"
		return info
	}
	stdout, _, err := execStatus(ctx, exec, pod, databaseContainer, PSQLCommand("postgres", standbyQuery))
	if err != nil {
		info.Error = err.Error()
		return info
	}
	var row struct {
		InRecovery      bool       `json:"inRecovery"`
		Paused          bool       `json:"paused"`
		ReplayLSN       *string    `json:"replayLSN"`
		LastTransaction *time.Time `json:"lastTransaction"`
		Timeline        uint32     `json:"timeline"`
		Receiver        *string    `json:"receiver"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &row); err != nil {
		info.Error = fmt.Sprintf("cannot read the replay state from %q: %v", strings.TrimSpace(stdout), err)
		return info
	}
	info.InRecovery, info.Paused, info.LastTransaction = row.InRecovery, row.Paused, row.LastTransaction
	if row.Receiver != nil {
		info.Receiver = *row.Receiver
	}
	if row.ReplayLSN != nil {
		info.ReplayLSN = *row.ReplayLSN
		if lsn, err := repo.ParseLSN(*row.ReplayLSN); err == nil {
			// The replay ends where its last record ends: at a segment's
			// boundary, that record is in the segment before.
			info.ReplaySegment = repo.SegmentOf(row.Timeline, max(lsn, 1)-1)
		}
	}

	// pgbackrest info lists the source's archive, in a bucket maybe far
	// away: the time of a read command, not of a status query.
	infoCtx, cancel := context.WithTimeout(ctx, ExecTimeout)
	defer cancel()
	stdout, _, err = exec(infoCtx, pod.Namespace, pod.Name, databaseContainer, SourceInfoCommand())
	if err != nil {
		info.Error = "reading the source's repositories: " + err.Error()
		return info
	}
	stanzas, err := repo.ParseInfo([]byte(stdout))
	if err == nil {
		var s repo.Stanza
		if s, err = FindStanza(stanzas); err == nil && s.Status.Code != 0 && len(s.Archive) == 0 {
			err = fmt.Errorf("%s", s.Status.Message)
		}
		for _, a := range s.Archive {
			if a.Max != "" && newerSegment(a.Max, info.SourceArchiveMax) {
				info.SourceArchiveMax = a.Max
			}
		}
	}
	if err != nil {
		info.Error = "reading the source's repositories: " + err.Error()
		return info
	}
	if info.SourceArchiveMax != "" && info.ReplaySegment != "" {
		a, errA := repo.SegmentNumber(info.SourceArchiveMax)
		r, errR := repo.SegmentNumber(info.ReplaySegment)
		if errA == nil && errR == nil {
			behind := max(int64(a)-int64(r), 0)
			info.SegmentsBehind = &behind
		}
	}
	return info
}

// newerSegment tells whether WAL segment a comes after b (empty b: any
// a does), by position in the WAL and then timeline.
func newerSegment(a, b string) bool {
	if b == "" {
		return true
	}
	na, errA := repo.SegmentNumber(a)
	nb, errB := repo.SegmentNumber(b)
	if errA != nil || errB != nil {
		return a > b
	}
	return na > nb || (na == nb && a[:8] > b[:8])
}

// Problem is why the standby does not follow its source, or "" when it
// does: PostgreSQL left recovery behind the plugin's back, the replay is
// paused, or it is more than one segment behind the source's archive
// (the standby fetches a new segment within seconds of its archiving).
func (s StandbyInfo) Problem() string {
	switch {
	case s.Error != "":
		return s.Error
	case !s.InRecovery:
		return "the database is not in recovery: it was promoted outside kubectl pgo, and its settings still say standby"
	case s.Paused:
		return fmt.Sprintf("the replay is paused at %s (pg_wal_replay_resume() resumes it)", s.ReplayLSN)
	case s.SegmentsBehind != nil && *s.SegmentsBehind > 1:
		return fmt.Sprintf("the replay has stopped or fallen behind: it is at %s (segment %s), and the source's archive holds %s, %d segments further; see the database's log (kubectl logs -c database)",
			s.ReplayLSN, s.ReplaySegment, s.SourceArchiveMax, *s.SegmentsBehind)
	}
	return ""
}

// Describe sums the replay up in a line.
func (s StandbyInfo) Describe(now time.Time) string {
	if s.Error != "" {
		return "unknown: " + s.Error
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replayed up to %s (segment %s)", s.ReplayLSN, s.ReplaySegment)
	if s.LastTransaction != nil {
		fmt.Fprintf(&b, ", last transaction of %s (%s ago)", s.LastTransaction.UTC().Format(time.RFC3339), now.Sub(*s.LastTransaction).Round(time.Second))
	}
	if s.Receiver != "" {
		fmt.Fprintf(&b, "; streaming from the source's database: %s", s.Receiver)
	}
	if s.SourceArchiveMax != "" {
		fmt.Fprintf(&b, "; the source's archive ends at %s", s.SourceArchiveMax)
		if s.SegmentsBehind != nil {
			fmt.Fprintf(&b, " (%d segments behind)", *s.SegmentsBehind)
		}
	}
	return b.String()
}
