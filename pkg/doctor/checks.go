package doctor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Diagnose judges the facts: one check per line of the report.
func Diagnose(f Facts, maxBackupAge time.Duration) []Check {
	name, ns := f.spec.Name, f.spec.Namespace
	d := doctorFixes{name: name, ns: ns, generatedPassphrase: f.spec.Cipher != "" && f.spec.CipherSecret == ""}
	checks := []Check{secretsCheck(f, d), certificatesCheck(f, d)}
	if f.spec.Cipher != "" {
		checks = append(checks, passphraseCheck(f, d))
	}
	checks = append(checks, podCheck("database pod", f.dbPod, f.dbPodErr, d.podFix(cluster.PodName(name))))
	if f.spec.HasLocalRepo() {
		checks = append(checks, podCheck("repository host pod", f.repoPod, f.repoPodErr, d.podFix("deploy/"+cluster.RepoHostName(name))))
	}
	for _, r := range f.spec.Repositories() {
		var repoChecks []Check
		if r.Type == repo.Posix {
			repoChecks = append(repoChecks, reachableCheck(f, r.Index, d))
		}
		repoChecks = append(repoChecks, stanzaCheck(f, r.Index, d), lastBackupCheck(f, r.Index, maxBackupAge, d), walContinuityCheck(f, r.Index, d))
		if r.Type == repo.Posix {
			repoChecks = append(repoChecks, repoUsageCheck(f, r.Index, d))
		}
		for i := range repoChecks {
			repoChecks[i].Repo = r.Index
		}
		checks = append(checks, repoChecks...)
	}
	checks = append(checks, archivingCheck(f, d), backlogCheck(f, d), postgresTLSCheck(f, d))
	if f.loaded != nil {
		checks = append(checks, loadedCheck(f, d))
	}
	if f.spec.Replicas > 0 {
		checks = append(checks, replicationCheck(f, d))
	}
	if f.spec.Standby != nil {
		checks = append(checks, standbyCheck(f, d))
	}
	if f.check != nil || f.checkErr != nil {
		checks = append(checks, checkCheck(f, d))
	}
	return checks
}

// doctorFixes writes the commands of the fixes for one cluster.
type doctorFixes struct {
	name, ns string
	// generatedPassphrase: the repository Secret holds the only
	// passphrase, which a fix must not delete without a copy.
	generatedPassphrase bool
}

func (d doctorFixes) podFix(target string) string {
	return fmt.Sprintf("see why: kubectl describe -n %s %s; kubectl logs -n %s %s --all-containers",
		d.ns, podOrTarget(target), d.ns, target)
}

// podOrTarget turns "deploy/x" into what kubectl describe takes.
func podOrTarget(target string) string {
	if strings.Contains(target, "/") {
		return strings.Replace(target, "deploy/", "deployment/", 1)
	}
	return "pod/" + target
}

func (d doctorFixes) repoLog() string {
	return fmt.Sprintf("kubectl logs -n %s deploy/%s", d.ns, cluster.RepoHostName(d.name))
}

func (d doctorFixes) databaseLog() string {
	return fmt.Sprintf("kubectl logs -n %s %s -c %s", d.ns, cluster.PodName(d.name), cluster.ContainerDatabase)
}

func repoName(n int) string { return fmt.Sprintf("repo%d", n) }

func ok(name, detail string) Check {
	return Check{Name: name, Status: OK, Detail: detail}
}

func failed(name, detail, fix string) Check {
	return Check{Name: name, Status: Failed, Detail: detail, Fix: fix}
}

func secretsCheck(f Facts, d doctorFixes) Check {
	const name = "secrets"
	pg, rc := cluster.PostgresSecretName(d.name), cluster.RepoConfigSecretName(d.name)
	if f.secretErr != nil {
		return failed(name, f.secretErr.Error(), "check your permissions: kubectl pgo needs get on secrets in namespace "+d.ns)
	}
	var problems, fixes []string
	if f.postgresSecret == nil {
		problems = append(problems, "Secret "+pg+" is missing")
	} else if _, err := cluster.PasswordFromSecret(f.postgresSecret); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		fixes = append(fixes, fmt.Sprintf("recreate Secret %s with the keys %s and %s holding the superuser's name and password that the database already has (a new password would not match it)",
			pg, cluster.KeyUsername, cluster.KeyPassword))
	}
	if f.repoSecret == nil {
		problems = append(problems, "Secret "+rc+" is missing")
		fixes = append(fixes, d.newCertificates(false))
	} else if _, err := cluster.PKIFromSecret(f.repoSecret); err != nil {
		problems = append(problems, fmt.Sprintf("Secret %s: %v", rc, err))
		fixes = append(fixes, d.newCertificates(true))
	}
	if len(problems) > 0 {
		return failed(name, strings.Join(problems, "; "), strings.Join(fixes, "; "))
	}
	return ok(name, fmt.Sprintf("%s and %s are there, with every key", pg, rc))
}

// passphraseCheck says where the repository passphrase lives: failed when
// its Secret cannot give it (the pods cannot start, nothing can be
// restored), a warning when a plain delete would lose it while backups
// stay in the bucket.
func passphraseCheck(f Facts, d doctorFixes) Check {
	const name = "passphrase"
	p := f.passphrase
	switch {
	case f.passphraseErr != nil:
		return failed(name, f.passphraseErr.Error(), "check your permissions: kubectl pgo needs get and list on secrets in namespace "+d.ns)
	case p == nil:
		return ok(name, "the repositories are not encrypted")
	case p.Problem != "" && p.Own:
		return failed(name, p.Problem, fmt.Sprintf("restore Secret %s/%s with the passphrase the backups were encrypted with, under the key %s; a new passphrase cannot read them",
			p.Namespace, p.Secret, p.Key))
	case p.Problem != "":
		return failed(name, p.Problem, fmt.Sprintf("put the passphrase back into Secret %s/%s under the key %s from a copy; a new one cannot read the backups",
			p.Namespace, p.Secret, p.Key))
	case p.LostOnDelete:
		return Check{Name: name, Status: Warning, Detail: p.Describe(), Fix: p.SaveAdvice(d.name)}
	}
	return ok(name, p.Describe())
}

// newCertificates is the fix for missing or bad TLS material: create
// cluster issues new certificates when the Secret is missing, and the pods
// read them when they start.
func (d doctorFixes) newCertificates(deleteFirst bool) string {
	steps := ""
	if deleteFirst {
		steps = fmt.Sprintf("kubectl delete secret -n %s %s, then ", d.ns, cluster.RepoConfigSecretName(d.name))
		if d.generatedPassphrase {
			steps = fmt.Sprintf("save the repository passphrase first, which create cluster takes back from that copy: %s; then %s",
				cluster.SaveCipherPassCommand(d.name, d.ns), steps)
		}
	}
	return fmt.Sprintf("issue new certificates: %skubectl pgo create cluster %s -n %s, then restart the pods: kubectl delete pod -n %s -l %s=%s",
		steps, d.name, d.ns, d.ns, cluster.LabelCluster, d.name)
}

func certificatesCheck(f Facts, d doctorFixes) Check {
	const name = "certificates"
	if f.repoSecret == nil {
		return failed(name, "no Secret "+cluster.RepoConfigSecretName(d.name)+" to read them from", d.newCertificates(false))
	}
	pki, err := cluster.PKIFromSecret(f.repoSecret)
	if err != nil {
		return failed(name, err.Error(), d.newCertificates(true))
	}
	expiries, expErr := pki.Expiries()
	// While the CA is valid, new certificates come from it without a
	// restart: kubectl pgo rotate certs.
	fix := d.newCertificates(true)
	switch {
	case expErr == nil && caValidFor(expiries, f.now, certWarnBefore):
		fix = fmt.Sprintf("sign new certificates from the cluster's CA, without a restart: kubectl pgo rotate certs %s -n %s", d.name, d.ns)
	case expErr == nil && caValidFor(expiries, f.now, 0):
		// The CA itself expires soon, and its certificates with it.
		fix = fmt.Sprintf("switch to a new CA, without a restart: kubectl pgo rotate certs %s -n %s --new-ca (with --ca-cert and --ca-key for a CA of your own PKI)", d.name, d.ns)
	}
	if err := pki.Verify(d.name, d.ns, f.now); err != nil {
		return failed(name, err.Error(), fix)
	}
	if expErr != nil {
		return failed(name, expErr.Error(), d.newCertificates(true))
	}
	// The issuers of a CA of the user's PKI are in ca.crt too: only the
	// CAs off its chain are left of a switch.
	if others, err := pki.OtherCAs(); err == nil && others > 0 {
		return Check{Name: name, Status: Warning,
			Detail: fmt.Sprintf("the ca.crt of Secret %s trusts %d CAs: a switch to a new CA did not finish", f.repoSecret.Name, others+1),
			Fix:    fmt.Sprintf("finish it: kubectl pgo rotate certs %s -n %s --new-ca", d.name, d.ns)}
	}
	first := expiries[0]
	left := first.NotAfter.Sub(f.now)
	detail := fmt.Sprintf("valid for %s and %s; the first to expire is the %s certificate, on %s (%s left)",
		cluster.PodName(d.name), cluster.RepoHostName(d.name), first.What, first.NotAfter.Format("2006-01-02"), humanDays(left))
	if left < certWarnBefore {
		return Check{Name: name, Status: Warning, Detail: detail, Fix: fix}
	}
	return ok(name, detail)
}

// caValidFor tells whether the CA among expiries is valid for at least
// d after now.
func caValidFor(expiries []cluster.CertExpiry, now time.Time, d time.Duration) bool {
	for _, e := range expiries {
		if e.What == "CA" {
			return e.NotAfter.Sub(now) >= d
		}
	}
	return false
}

// humanDays writes a duration in days, or hours under two days.
func humanDays(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func podCheck(name string, pod *corev1.Pod, err error, fix string) Check {
	if pod == nil {
		return failed(name, fmt.Sprintf("not running: %v", err), fix)
	}
	info := inspect.PodInfoOf(pod)
	detail := fmt.Sprintf("%s %s, %s containers ready, %d restarts", pod.Name, info.Phase, info.Containers, info.Restarts)
	if !info.Ready {
		return Check{Name: name, Status: Warning, Detail: detail + ", not ready", Fix: fix}
	}
	return ok(name, detail)
}

// pgbackrestError is the last ERROR line of pgBackRest's output, or the
// exec error.
func pgbackrestError(r *execResult) string {
	if lines := repo.ErrorLines(r.out); len(lines) > 0 {
		return lines[len(lines)-1]
	}
	if r.err != nil {
		return r.err.Error()
	}
	return r.out
}

func reachableCheck(f Facts, n int, d doctorFixes) Check {
	name := repoName(n) + " host reachable"
	repoHost, db := cluster.RepoHostName(d.name), cluster.ServiceName(d.name)
	var problems []string
	for _, p := range []struct {
		from, to string
		r        *execResult
	}{{"the database", repoHost, f.pingRepo}, {"the repository host", db, f.pingDB}} {
		switch {
		case p.r == nil:
			problems = append(problems, fmt.Sprintf("%s could not be asked (its pod does not run)", p.from))
		case p.r.err != nil:
			problems = append(problems, fmt.Sprintf("%s cannot reach %s:%d: %s", p.from, p.to, repo.ServerPort, pgbackrestError(p.r)))
		}
	}
	if len(problems) > 0 {
		return failed(name, strings.Join(problems, "; "),
			fmt.Sprintf("check the Services %s and %s (kubectl get endpoints -n %s) and the pgbackrest containers' logs: %s; kubectl logs -n %s %s -c %s",
				repoHost, db, d.ns, d.repoLog(), d.ns, cluster.PodName(d.name), cluster.ContainerPGBackRest))
	}
	return ok(name, fmt.Sprintf("pgbackrest server-ping: the database reaches %s:%d, the repository host reaches %s:%d", repoHost, repo.ServerPort, db, repo.ServerPort))
}

// repoStatus is the status of the stanza in repository n.
func repoStatus(s *repo.Stanza, n int) (repo.RepoResult, bool) {
	for _, r := range s.Repo {
		if r.Key == n {
			return r.Status, true
		}
	}
	return repo.RepoResult{}, false
}

func stanzaCheck(f Facts, n int, d doctorFixes) Check {
	name := repoName(n) + " stanza"
	if f.stanza == nil {
		return failed(name, "pgbackrest info could not run: "+errString(f.stanzaErr, f.repoPodErr), d.podFix("deploy/"+cluster.RepoHostName(d.name)))
	}
	st, found := repoStatus(f.stanza, n)
	if !found {
		st = repo.RepoResult{Code: f.stanza.Status.Code, Message: f.stanza.Status.Message}
	}
	switch st.Code {
	case repo.StatusOK, repo.StatusNoValidBackups:
		return ok(name, fmt.Sprintf("stanza %s exists (%s)", repo.StanzaName, st.Message))
	case repo.StatusMissingStanzaPath, repo.StatusMissingStanzaData:
		return failed(name, fmt.Sprintf("stanza %s does not exist in %s: %s", repo.StanzaName, repoName(n), st.Message),
			fmt.Sprintf("the repository host creates it when it starts: kubectl rollout restart -n %s deployment/%s, then read %s", d.ns, cluster.RepoHostName(d.name), d.repoLog()))
	default:
		return failed(name, fmt.Sprintf("pgbackrest info status %d: %s", st.Code, st.Message),
			fmt.Sprintf("read pgBackRest's error with kubectl pgo show backup %s -n %s and %s", d.name, d.ns, d.repoLog()))
	}
}

func errString(errs ...error) string {
	if err := errors.Join(errs...); err != nil {
		return strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return "unknown error"
}

func lastBackupCheck(f Facts, n int, maxAge time.Duration, d doctorFixes) Check {
	name := repoName(n) + " last backup"
	fix := fmt.Sprintf("take one: kubectl pgo backup %s -n %s --type=full --wait", d.name, d.ns)
	if f.stanza == nil {
		return failed(name, "unknown: pgbackrest info could not run", fix)
	}
	var last *repo.BackupSummary
	sum := repo.Summarize(*f.stanza)
	for i := range sum.Backups {
		b := &sum.Backups[i]
		if b.Repo == n && !b.Error && (last == nil || b.Stop.After(last.Stop)) {
			last = b
		}
	}
	if last == nil && f.spec.Standby != nil {
		return ok(name, fmt.Sprintf("none: a standby has no backups of its own until it is promoted (those of %s are its recovery point)", f.spec.StandbySourceName()))
	}
	if last == nil {
		return failed(name, "no backup in "+repoName(n), fix)
	}
	ago := f.now.Sub(last.Stop)
	detail := fmt.Sprintf("%s (%s) finished %s ago, at %s", last.Label, last.Type, ago.Truncate(time.Second), last.Stop.Format(time.RFC3339))
	if ago > maxAge {
		return failed(name, detail+fmt.Sprintf(", more than --max-backup-age=%s", maxAge), fix+"; schedule backups more often")
	}
	return ok(name, detail)
}

// repoUsageCheck weighs the repository against its PVC's size and against
// the free space of its filesystem: a provisioner may not enforce the
// size (hostPath), and a filesystem may be smaller than the claim says.
func repoUsageCheck(f Facts, n int, d doctorFixes) Check {
	name := repoName(n) + " PVC usage"
	pvc := cluster.RepoPVCName(d.name)
	fix := fmt.Sprintf("free space: delete old backups (kubectl pgo show backup %s -n %s, then kubectl pgo delete backup %s -n %s --target=LABEL), or move the repository to a larger volume",
		d.name, d.ns, d.name, d.ns)
	if f.df == nil || f.du == nil {
		return failed(name, "unknown: the repository host's pod does not run", d.podFix("deploy/"+cluster.RepoHostName(d.name)))
	}
	if f.df.err != nil {
		return failed(name, "df failed: "+f.df.err.Error(), d.podFix("deploy/"+cluster.RepoHostName(d.name)))
	}
	df, err := ParseDF(f.df.out)
	if err != nil {
		return failed(name, err.Error(), d.podFix("deploy/"+cluster.RepoHostName(d.name)))
	}
	percent := df.Percent()
	detail := fmt.Sprintf("filesystem %d%% used, %s free", percent, repo.FormatBytes(df.Available))
	// du is best effort: a file being written as it reads can fail it.
	if used, err := ParseDU(f.du.out); f.du.err == nil && err == nil {
		if q, err := resource.ParseQuantity(f.spec.RepoPVCSize); err == nil && q.Value() > 0 {
			pvcPercent := (used*100 + q.Value() - 1) / q.Value()
			detail = fmt.Sprintf("repository %s of the %s PVC %s (%d%%); ", repo.FormatBytes(used), f.spec.RepoPVCSize, pvc, pvcPercent) + detail
			percent = max(percent, pvcPercent)
		}
	}
	switch {
	case percent >= UsageFail:
		return failed(name, detail, fix)
	case percent >= UsageWarn:
		return Check{Name: name, Status: Warning, Detail: detail, Fix: fix}
	}
	return ok(name, detail)
}

func archivingCheck(f Facts, d doctorFixes) Check {
	const name = "WAL archiving"
	fix := fmt.Sprintf("read the archive-push errors in %s, and kubectl pgo show archive %s -n %s", d.databaseLog(), d.name, d.ns)
	a := f.archiver
	if a == nil {
		return failed(name, "unknown: "+errString(f.archiverErr, f.dbPodErr), d.podFix(cluster.PodName(d.name)))
	}
	last := "nothing archived yet"
	if a.LastArchivedTime != nil {
		last = fmt.Sprintf("last %s %s ago", a.LastArchivedWAL, f.now.Sub(*a.LastArchivedTime).Truncate(time.Second))
	}
	detail := fmt.Sprintf("%d archived (%s), %d failed", a.ArchivedCount, last, a.FailedCount)
	switch {
	case a.ArchiveMode == "off":
		return failed(name, "archive_mode is off", "archive_mode is set by kubectl pgo create cluster; restore the settings with kubectl pgo create cluster "+d.name+" -n "+d.ns)
	case a.Failing():
		return failed(name, detail+fmt.Sprintf("; the last attempt failed: %s at %s", a.LastFailedWAL, a.LastFailedTime.Format(time.RFC3339)), fix)
	case a.ReadyCount > 0 && idleLongerThan(a, f.now, archiveStuckAfter):
		return failed(name, detail+fmt.Sprintf("; %d segments wait and none was archived for more than %s", a.ReadyCount, archiveStuckAfter), fix)
	}
	return ok(name, detail)
}

// idleLongerThan tells whether the archiver has archived nothing for more
// than d at now: since its last archived segment or, if it never archived
// one, since its statistics began (a new database, or a reset), so that a
// new database whose first segment waits is not stuck. False when neither
// time is known.
func idleLongerThan(a *repo.ArchiverStatus, now time.Time, d time.Duration) bool {
	since := a.LastArchivedTime
	if since == nil {
		since = a.StatsReset
	}
	return since != nil && now.Sub(*since) > d
}

// walContinuityCheck fails when WAL is missing from repository n after
// its newest backup's start (dropped by a full archive-push queue, or
// lost): no point after it can be recovered until a new backup. A gap an
// older backup has behind it is a warning: points inside it cannot be
// reached until the backups before it expire.
func walContinuityCheck(f Facts, n int, d doctorFixes) Check {
	name := repoName(n) + " WAL continuity"
	if f.archiver == nil || f.walGapsErr != nil {
		return failed(name, "unknown: "+errString(f.walGapsErr, f.archiverErr, f.dbPodErr), "kubectl pgo show archive "+d.name+" -n "+d.ns)
	}
	var open, closed []string
	for _, g := range f.walGaps {
		if g.Repo != n {
			continue
		}
		if g.Closed() {
			closed = append(closed, fmt.Sprintf("%s (backup %s started after it)", g, g.ClosedBy))
		} else {
			open = append(open, g.String())
		}
	}
	queue := ""
	if a := f.spec.ArchiveAsync; a != nil && a.PushQueueMax != "" {
		queue = fmt.Sprintf("; if the repository is often out of reach for longer than the queue lasts, raise it: kubectl pgo update cluster %s -n %s --pgbackrest-archive-push-queue-max=<more than %s>", d.name, d.ns, a.PushQueueMax)
	}
	switch {
	case len(open) > 0:
		return failed(name, "WAL was dropped (the archive-push queue was full) or lost: "+strings.Join(open, "; ")+"; no point after it can be recovered",
			fmt.Sprintf("take a backup now, which recovery can start from again: kubectl pgo backup %s -n %s --repo=%d%s", d.name, d.ns, n, queue))
	case len(closed) > 0:
		return Check{Name: name, Status: Warning, Detail: "WAL was dropped or lost: " + strings.Join(closed, "; ") + "; a recovery cannot pass it",
			Fix: "points after the backup that started after it are recoverable; the gap leaves the recovery window when the backups before it expire" + queue}
	}
	return ok(name, "no WAL missing from the archive")
}

func backlogCheck(f Facts, d doctorFixes) Check {
	const name = "WAL backlog"
	a := f.archiver
	if a == nil {
		return failed(name, "unknown: "+errString(f.archiverErr, f.dbPodErr), d.podFix(cluster.PodName(d.name)))
	}
	detail := fmt.Sprintf("%d segments wait to be archived (.ready in pg_wal/archive_status)", a.ReadyCount)
	fix := fmt.Sprintf("archiving is slower than the writes, or fails: kubectl pgo show archive %s -n %s", d.name, d.ns)
	switch {
	case a.ReadyCount > walBacklogFail:
		return failed(name, detail, fix)
	case a.ReadyCount > walBacklogWarn:
		return Check{Name: name, Status: Warning, Detail: detail, Fix: fix}
	}
	return ok(name, detail)
}

func checkCheck(f Facts, d doctorFixes) Check {
	const name = "pgbackrest check"
	if f.check == nil {
		return failed(name, "could not run: "+errString(f.checkErr), d.podFix(cluster.PodName(d.name)))
	}
	if !f.check.OK {
		detail := fmt.Sprintf("failed with exit code %d", f.check.ExitCode)
		if len(f.check.Errors) > 0 {
			detail += ": " + f.check.Errors[len(f.check.Errors)-1]
		}
		return failed(name, detail, fmt.Sprintf("read %s and %s", d.databaseLog(), d.repoLog()))
	}
	detail := "ok"
	if f.check.ArchivedWAL != "" {
		detail = fmt.Sprintf("WAL segment %s reached the repository", f.check.ArchivedWAL)
	}
	return ok(name, detail)
}

// standbyCheck fails when a standby cluster's database does not follow
// its source: not in recovery, replay paused, or behind the source's
// archive by more than a segment.
func standbyCheck(f Facts, d doctorFixes) Check {
	const name = "standby replay"
	if f.standby == nil {
		return failed(name, "unknown: "+errString(f.dbPodErr), d.podFix(cluster.PodName(d.name)))
	}
	if problem := f.standby.Problem(); problem != "" {
		return failed(name, problem, fmt.Sprintf("read the restore_command errors in %s; the source's repository must stay readable with the keys of Secret %s",
			d.databaseLog(), cluster.StandbySourceSecretName(d.name)))
	}
	return ok(name, "standby of "+f.standby.Source+": "+f.standby.Describe(f.now))
}

// TLSQuery reads PostgreSQL's ssl setting and how many rules of its
// pg_hba.conf (as the file is now) accept a connection without TLS from
// the network: "on|0" when only TLS is taken.
const TLSQuery = `SELECT current_setting('ssl') || '|' || (SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND auth_method <> 'reject')`

// postgresTLSCheck warns when PostgreSQL takes clear text from the network:
// a cluster made by an earlier kubectl-pgo, until update cluster.
func postgresTLSCheck(f Facts, d doctorFixes) Check {
	const name = "postgres TLS"
	r := f.postgresTLS
	if r == nil || r.err != nil {
		detail := "unknown: " + errString(f.dbPodErr)
		if r != nil {
			detail = "unknown: " + strings.TrimSpace(r.out+" "+errString(r.err))
		}
		return Check{Name: name, Status: Warning, Detail: detail, Fix: d.podFix(cluster.PodName(d.name))}
	}
	ssl, clear, _ := strings.Cut(strings.TrimSpace(r.out), "|")
	if ssl == "on" && clear == "0" {
		return ok(name, "only TLS from the network; applications verify the server with ConfigMap "+cluster.CAConfigMapName(d.name))
	}
	return Check{Name: name, Status: Warning,
		Detail: fmt.Sprintf("PostgreSQL takes clear text from the network (ssl %s, %s rules of pg_hba.conf without TLS): the cluster was made by an earlier kubectl-pgo", ssl, clear),
		Fix:    fmt.Sprintf("give the clients sslmode=verify-full (the CA is in ConfigMap %s once updated), then kubectl pgo update cluster %s -n %s (the database pods restart)", cluster.CAConfigMapName(d.name), d.name, d.ns)}
}
