package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const doctorLong = `Check that a cluster can be backed up and restored, and say how to fix
what is wrong. Each check is marked ✓ (ok), ! (warning) or ✗ (failed):

- the Secrets: the superuser's password and the TLS material are there;
- the certificates: valid for the cluster, and for more than 30 days;
- the database pod and the repository host's pod run;
- for each repository: the repository host answers (pgbackrest server-ping,
  both ways), the stanza exists, the last successful backup is younger
  than --max-backup-age, and the repository PVC has room (df and du in the
  repository host's pod: warning from 80%, failed from 95%);
- WAL archiving: pg_stat_archiver (the last attempt did not fail), the WAL
  segments waiting in pg_wal/archive_status, the age of the last archived
  segment, and pgbackrest check (it switches to a new WAL segment and waits
  for it in the repository; skip it with --no-check).

The command exits non-zero when a check failed (warnings do not count), so
that it can drive an alert.`

const doctorExample = `  # Is cluster hippo healthy?
  kubectl pgo doctor hippo

  # As JSON, for a monitoring script, with daily backups expected
  kubectl pgo doctor hippo --max-backup-age=26h -o json`

// Thresholds of the checks.
const (
	// certWarnBefore is how long before a certificate expires doctor
	// starts to warn.
	certWarnBefore = 30 * 24 * time.Hour
	// Repository usage, in percent of the PVC or of its filesystem.
	repoUsageWarn = 80
	repoUsageFail = 95
	// walBacklogWarn and walBacklogFail are counts of .ready segments.
	walBacklogWarn = 4
	walBacklogFail = 64
	// archiveStuckAfter: segments wait, and nothing was archived for this
	// long.
	archiveStuckAfter = 10 * time.Minute
	// doctorArchiveTimeout bounds how long pgbackrest check waits for the
	// WAL segment: a doctor should answer in seconds, not after the default
	// minute.
	doctorArchiveTimeout = 30 * time.Second
	// defaultMaxBackupAge: a week without a backup is a failure.
	defaultMaxBackupAge = 7 * 24 * time.Hour
)

// CheckStatus is the result of one check.
type CheckStatus string

// The results of a check.
const (
	CheckOK      CheckStatus = "ok"
	CheckWarning CheckStatus = "warning"
	CheckFailed  CheckStatus = "failed"
)

// symbol is how a terminal shows the status.
func (s CheckStatus) symbol() string {
	switch s {
	case CheckOK:
		return "✓"
	case CheckWarning:
		return "!"
	default:
		return "✗"
	}
}

// DoctorCheck is one line of `kubectl pgo doctor`.
type DoctorCheck struct {
	Name string `json:"name"`
	// Repo is N of repoN for the checks of one repository.
	Repo   int         `json:"repo,omitempty"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	// Fix says what to do when the check did not pass.
	Fix string `json:"fix,omitempty"`
}

// DoctorReport is `kubectl pgo doctor -o json|yaml`.
type DoctorReport struct {
	Cluster   string        `json:"cluster"`
	Namespace string        `json:"namespace"`
	Healthy   bool          `json:"healthy"`
	Failed    int           `json:"failed"`
	Warnings  int           `json:"warnings"`
	Checks    []DoctorCheck `json:"checks"`
}

// DoctorOptions holds the flags and clients of `kubectl pgo doctor`.
type DoctorOptions struct {
	Name         string
	MaxBackupAge time.Duration
	NoCheck      bool
	Output       *printers.OutputFlags

	namespace string
	client    kubernetes.Interface
	exec      execFunc
	now       func() time.Time
	genericiooptions.IOStreams
}

// NewDoctorOptions returns options with the defaults.
func NewDoctorOptions(streams genericiooptions.IOStreams) *DoctorOptions {
	return &DoctorOptions{
		MaxBackupAge: defaultMaxBackupAge,
		Output:       printers.NewOutputFlags(printers.DefaultFormats...),
		now:          time.Now,
		IOStreams:    streams,
	}
}

// NewCmdDoctor returns `kubectl pgo doctor`.
func NewCmdDoctor(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDoctor(f, NewDoctorOptions(streams))
}

func newCmdDoctor(f kube.Factory, o *DoctorOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "doctor NAME",
		Short:             "Check a cluster's Secrets, certificates, repositories, backups and WAL archiving",
		Long:              doctorLong,
		Example:           doctorExample,
		Args:              cobra.ArbitraryArgs,
		RunE:              runOptions(f, o),
		ValidArgsFunction: CompleteClusterNames(f),
	}
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	cmd.Flags().DurationVar(&o.MaxBackupAge, "max-backup-age", o.MaxBackupAge, "The last successful backup of each repository must be younger than this.")
	cmd.Flags().BoolVar(&o.NoCheck, "no-check", false, "Do not run pgbackrest check (which switches to a new WAL segment).")
	o.Output.AddFlags(cmd)
	return cmd
}

// Complete reads the argument and the namespace.
func (o *DoctorOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErrorf(cmd, "%s takes one cluster name, got %d arguments", cmd.CommandPath(), len(args))
	}
	o.Name = args[0]
	ns, _, err := f.Namespace()
	if err != nil {
		return kubeconfigError(err)
	}
	o.namespace = ns
	if o.exec == nil {
		o.exec = explainedFactoryExec(f)
	}
	if o.client == nil {
		if o.client, err = f.KubernetesClient(); err != nil {
			return kubeconfigError(err)
		}
	}
	return nil
}

// Validate refuses bad flags before any request.
func (o *DoctorOptions) Validate(cmd *cobra.Command) error {
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.MaxBackupAge <= 0 {
		return usageErrorf(cmd, "--max-backup-age must be positive, got %s", o.MaxBackupAge)
	}
	if err := o.Output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// Run gathers the facts, judges them and prints the report.
func (o *DoctorOptions) Run(ctx context.Context) error {
	spec, err := readClusterSpec(ctx, o.client, o.namespace, o.Name)
	if err != nil {
		return err
	}
	facts, err := o.gather(ctx, spec)
	if err != nil {
		return err
	}
	report := DoctorReport{Cluster: o.Name, Namespace: o.namespace, Checks: diagnose(facts, o.MaxBackupAge)}
	for _, c := range report.Checks {
		switch c.Status {
		case CheckFailed:
			report.Failed++
		case CheckWarning:
			report.Warnings++
		}
	}
	report.Healthy = report.Failed == 0
	if o.Output.Format() == printers.FormatTable {
		err = writeDoctorText(o.Out, report)
	} else {
		err = o.Output.Print(o.Out, nil, report)
	}
	if err != nil {
		return err
	}
	if !report.Healthy {
		var names []string
		for _, c := range report.Checks {
			if c.Status == CheckFailed {
				names = append(names, c.Name)
			}
		}
		return fmt.Errorf("cluster %q in namespace %q: %d of %d checks failed: %s",
			o.Name, o.namespace, report.Failed, len(report.Checks), strings.Join(names, ", "))
	}
	return nil
}

// execResult is what a command printed, and how it ended.
type execResult struct {
	out string
	err error
}

// doctorFacts is everything doctor looked at; diagnose judges it.
type doctorFacts struct {
	spec cluster.Spec
	now  time.Time

	// The Secrets, nil when missing (secretErr says why when they could
	// not be read at all).
	postgresSecret, repoSecret *corev1.Secret
	secretErr                  error

	dbPod, repoPod       *corev1.Pod
	dbPodErr, repoPodErr error

	// pingRepo is server-ping from the database to the repository host,
	// pingDB the other way.
	pingRepo, pingDB *execResult

	stanza    *repo.Stanza
	stanzaErr error

	archiver    *repo.ArchiverStatus
	archiverErr error
	check       *repo.CheckResult
	checkErr    error

	// df and du of the repository path in the repository host's pod.
	df, du *execResult
}

// gather reads the Secrets and the pods, then runs the commands in the
// pods, all at once. Only an API error (not a failed command) is an
// error of doctor itself.
func (o *DoctorOptions) gather(ctx context.Context, spec cluster.Spec) (doctorFacts, error) {
	f := doctorFacts{spec: spec, now: o.now().UTC()}
	secrets := o.client.CoreV1().Secrets(o.namespace)
	var err error
	for _, s := range []struct {
		name string
		into **corev1.Secret
	}{{cluster.PostgresSecretName(o.Name), &f.postgresSecret}, {cluster.RepoConfigSecretName(o.Name), &f.repoSecret}} {
		*s.into, err = secrets.Get(ctx, s.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			*s.into = nil
		case err != nil:
			*s.into = nil
			f.secretErr = fmt.Errorf("cannot read Secret %s: %w", s.name, err)
		}
	}
	f.dbPod, f.dbPodErr = execPod(ctx, o.client, o.namespace, cluster.DatabaseSelector(o.Name).String(), databaseContainer)
	// The pod that runs pgBackRest's commands: the repository host, or the
	// database pod of an S3-only cluster.
	f.repoPod, f.repoPodErr = execPod(ctx, o.client, o.namespace, cluster.PGBackRestPodSelector(o.Name), repoContainer)
	if err := errors.Join(f.dbPodErr, f.repoPodErr); err != nil && isForbidden(err) {
		return f, err
	}

	run := func(pod *corev1.Pod, container string, timeout time.Duration, command ...string) *execResult {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		stdout, stderr, err := o.exec(ctx, o.namespace, pod.Name, container, command)
		return &execResult{out: strings.TrimSpace(stdout + "\n" + stderr), err: err}
	}
	port := "--tls-server-port=" + strconv.Itoa(repo.ServerPort)
	var wg sync.WaitGroup
	if f.dbPod != nil {
		wg.Go(func() {
			f.pingRepo = run(f.dbPod, databaseContainer, execTimeout, "pgbackrest", "server-ping", cluster.RepoHostName(o.Name), port)
		})
		wg.Go(func() {
			r := run(f.dbPod, databaseContainer, execTimeout, repo.ArchiverCommand()...)
			if r.err != nil {
				f.archiverErr = execError("query pg_stat_archiver", o.namespace, f.dbPod.Name, r.err)
				return
			}
			a, err := repo.ParseArchiverStatus(r.out)
			if err != nil {
				f.archiverErr = err
				return
			}
			f.archiver = &a
		})
		if !o.NoCheck {
			wg.Go(func() {
				command := append(repo.CheckCommand(), fmt.Sprintf("--archive-timeout=%d", int(doctorArchiveTimeout.Seconds())))
				r := run(f.dbPod, databaseContainer, doctorArchiveTimeout+execTimeout, command...)
				var execErr *kube.ExecError
				code := 0
				switch {
				case errors.As(r.err, &execErr):
					code = execErr.ExitCode()
				case r.err != nil:
					f.checkErr = execError("run pgbackrest check", o.namespace, f.dbPod.Name, r.err)
					return
				}
				c := repo.ParseCheck(r.out, code)
				f.check = &c
			})
		}
	}
	if f.repoPod != nil {
		wg.Go(func() {
			f.pingDB = run(f.repoPod, repoContainer, execTimeout, "pgbackrest", "server-ping", cluster.ServiceName(o.Name), port)
		})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, execTimeout)
			defer cancel()
			s, err := readStanza(ctx, o.exec, o.namespace, f.repoPod.Name)
			if err != nil {
				f.stanzaErr = err
				return
			}
			f.stanza = &s
		})
		wg.Go(func() { f.df = run(f.repoPod, repoContainer, execTimeout, "df", "-P", "-B1", spec.RepoPath) })
		wg.Go(func() { f.du = run(f.repoPod, repoContainer, execTimeout, "du", "-s", "-B1", spec.RepoPath) })
	}
	wg.Wait()
	return f, nil
}

// execPod returns the pod matching selector whose container runs (ready
// or not: an exec needs only a running container), or why there is none.
func execPod(ctx context.Context, client kubernetes.Interface, ns, selector, container string) (*corev1.Pod, error) {
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("cannot list the pods %q: %w", selector, err)
	}
	var seen []string
	for i := range list.Items {
		p := &list.Items[i]
		if containerRunning(p, container) {
			return p, nil
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", p.Name, podInfo(p).Phase))
	}
	if len(seen) == 0 {
		return nil, errors.New("no pod")
	}
	return nil, fmt.Errorf("container %s does not run in %s", container, strings.Join(seen, ", "))
}

// diagnose judges the facts: one check per line of the report.
func diagnose(f doctorFacts, maxBackupAge time.Duration) []DoctorCheck {
	name, ns := f.spec.Name, f.spec.Namespace
	d := doctorFixes{name: name, ns: ns}
	checks := []DoctorCheck{secretsCheck(f, d), certificatesCheck(f, d),
		podCheck("database pod", f.dbPod, f.dbPodErr, d.podFix(cluster.PodName(name)))}
	if f.spec.HasLocalRepo() {
		checks = append(checks, podCheck("repository host pod", f.repoPod, f.repoPodErr, d.podFix("deploy/"+cluster.RepoHostName(name))))
	}
	for _, r := range f.spec.Repositories() {
		var repoChecks []DoctorCheck
		if r.Type == repo.Posix {
			repoChecks = append(repoChecks, reachableCheck(f, r.Index, d))
		}
		repoChecks = append(repoChecks, stanzaCheck(f, r.Index, d), lastBackupCheck(f, r.Index, maxBackupAge, d))
		if r.Type == repo.Posix {
			repoChecks = append(repoChecks, repoUsageCheck(f, r.Index, d))
		}
		for i := range repoChecks {
			repoChecks[i].Repo = r.Index
		}
		checks = append(checks, repoChecks...)
	}
	checks = append(checks, archivingCheck(f, d), backlogCheck(f, d))
	if f.check != nil || f.checkErr != nil {
		checks = append(checks, checkCheck(f, d))
	}
	return checks
}

// doctorFixes writes the commands of the fixes for one cluster.
type doctorFixes struct{ name, ns string }

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
	return fmt.Sprintf("kubectl logs -n %s %s -c %s", d.ns, cluster.PodName(d.name), databaseContainer)
}

func repoName(n int) string { return fmt.Sprintf("repo%d", n) }

func ok(name, detail string) DoctorCheck {
	return DoctorCheck{Name: name, Status: CheckOK, Detail: detail}
}

func failed(name, detail, fix string) DoctorCheck {
	return DoctorCheck{Name: name, Status: CheckFailed, Detail: detail, Fix: fix}
}

func secretsCheck(f doctorFacts, d doctorFixes) DoctorCheck {
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

// newCertificates is the fix for missing or bad TLS material: create
// cluster issues new certificates when the Secret is missing, and the pods
// read them when they start.
func (d doctorFixes) newCertificates(deleteFirst bool) string {
	steps := ""
	if deleteFirst {
		steps = fmt.Sprintf("kubectl delete secret -n %s %s, then ", d.ns, cluster.RepoConfigSecretName(d.name))
	}
	return fmt.Sprintf("issue new certificates: %skubectl pgo create cluster %s -n %s, then restart the pods: kubectl delete pod -n %s -l %s=%s",
		steps, d.name, d.ns, d.ns, cluster.LabelCluster, d.name)
}

func certificatesCheck(f doctorFacts, d doctorFixes) DoctorCheck {
	const name = "certificates"
	if f.repoSecret == nil {
		return failed(name, "no Secret "+cluster.RepoConfigSecretName(d.name)+" to read them from", d.newCertificates(false))
	}
	pki, err := cluster.PKIFromSecret(f.repoSecret)
	if err == nil {
		err = pki.Verify(d.name, d.ns, f.now)
	}
	if err != nil {
		return failed(name, err.Error(), d.newCertificates(true))
	}
	expiries, err := pki.Expiries()
	if err != nil {
		return failed(name, err.Error(), d.newCertificates(true))
	}
	first := expiries[0]
	left := first.NotAfter.Sub(f.now)
	detail := fmt.Sprintf("valid for %s and %s; the first to expire is the %s certificate, on %s (%s left)",
		cluster.PodName(d.name), cluster.RepoHostName(d.name), first.What, first.NotAfter.Format("2006-01-02"), humanDays(left))
	if left < certWarnBefore {
		return DoctorCheck{Name: name, Status: CheckWarning, Detail: detail, Fix: d.newCertificates(true)}
	}
	return ok(name, detail)
}

// humanDays writes a duration in days, or hours under two days.
func humanDays(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func podCheck(name string, pod *corev1.Pod, err error, fix string) DoctorCheck {
	if pod == nil {
		return failed(name, fmt.Sprintf("not running: %v", err), fix)
	}
	info := podInfo(pod)
	detail := fmt.Sprintf("%s %s, %s containers ready, %d restarts", pod.Name, info.Phase, info.Containers, info.Restarts)
	if !info.Ready {
		return DoctorCheck{Name: name, Status: CheckWarning, Detail: detail + ", not ready", Fix: fix}
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

func reachableCheck(f doctorFacts, n int, d doctorFixes) DoctorCheck {
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
				repoHost, db, d.ns, d.repoLog(), d.ns, cluster.PodName(d.name), repoContainer))
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

func stanzaCheck(f doctorFacts, n int, d doctorFixes) DoctorCheck {
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

func lastBackupCheck(f doctorFacts, n int, maxAge time.Duration, d doctorFixes) DoctorCheck {
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

// diskUsage is a line of df -P -B1.
type diskUsage struct {
	Size, Used, Available int64
}

// percent is df's Use%: used over what a user can have, rounded up.
func (u diskUsage) percent() int64 {
	total := u.Used + u.Available
	if total <= 0 {
		return 0
	}
	return (u.Used*100 + total - 1) / total
}

// parseDF reads the output of df -P -B1 PATH.
func parseDF(out string) (diskUsage, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return diskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
	}
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) < 6 {
		return diskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
	}
	var u diskUsage
	for i, p := range []*int64{&u.Size, &u.Used, &u.Available} {
		v, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return diskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
		}
		*p = v
	}
	return u, nil
}

// parseDU reads the output of du -s -B1 PATH.
func parseDU(out string) (int64, error) {
	fields := strings.Fields(out)
	if len(fields) == 0 {
		return 0, fmt.Errorf("cannot read the output of du: %q", truncateString(out, 200))
	}
	v, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot read the output of du: %q", truncateString(out, 200))
	}
	return v, nil
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// repoUsageCheck weighs the repository against its PVC's size and against
// the free space of its filesystem: a provisioner may not enforce the
// size (hostPath), and a filesystem may be smaller than the claim says.
func repoUsageCheck(f doctorFacts, n int, d doctorFixes) DoctorCheck {
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
	df, err := parseDF(f.df.out)
	if err != nil {
		return failed(name, err.Error(), d.podFix("deploy/"+cluster.RepoHostName(d.name)))
	}
	percent := df.percent()
	detail := fmt.Sprintf("filesystem %d%% used, %s free", percent, repo.FormatBytes(df.Available))
	// du is best effort: a file being written as it reads can fail it.
	if used, err := parseDU(f.du.out); f.du.err == nil && err == nil {
		if q, err := resource.ParseQuantity(f.spec.RepoPVCSize); err == nil && q.Value() > 0 {
			pvcPercent := (used*100 + q.Value() - 1) / q.Value()
			detail = fmt.Sprintf("repository %s of the %s PVC %s (%d%%); ", repo.FormatBytes(used), f.spec.RepoPVCSize, pvc, pvcPercent) + detail
			percent = max(percent, pvcPercent)
		}
	}
	switch {
	case percent >= repoUsageFail:
		return failed(name, detail, fix)
	case percent >= repoUsageWarn:
		return DoctorCheck{Name: name, Status: CheckWarning, Detail: detail, Fix: fix}
	}
	return ok(name, detail)
}

func archivingCheck(f doctorFacts, d doctorFixes) DoctorCheck {
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
	case a.ReadyCount > 0 && (a.LastArchivedTime == nil || f.now.Sub(*a.LastArchivedTime) > archiveStuckAfter):
		return failed(name, detail+fmt.Sprintf("; %d segments wait and none was archived for more than %s", a.ReadyCount, archiveStuckAfter), fix)
	}
	return ok(name, detail)
}

func backlogCheck(f doctorFacts, d doctorFixes) DoctorCheck {
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
		return DoctorCheck{Name: name, Status: CheckWarning, Detail: detail, Fix: fix}
	}
	return ok(name, detail)
}

func checkCheck(f doctorFacts, d doctorFixes) DoctorCheck {
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

// writeDoctorText writes the report as a table: a mark, the check and
// what was found, with the fix on the line below a failed check.
func writeDoctorText(w io.Writer, r DoctorReport) error {
	fmt.Fprintf(w, "Cluster %s in namespace %s:\n\n", r.Cluster, r.Namespace)
	t := printers.NewTable("", "check", "result")
	for _, c := range r.Checks {
		t.AddRow(c.Status.symbol(), c.Name, c.Detail)
		if c.Status != CheckOK && c.Fix != "" {
			t.AddRow("", "", "fix: "+c.Fix)
		}
	}
	if err := t.Render(w); err != nil {
		return err
	}
	summary := fmt.Sprintf("\n%d checks: %d ok, %d warnings, %d failed\n", len(r.Checks), len(r.Checks)-r.Failed-r.Warnings, r.Warnings, r.Failed)
	_, err := io.WriteString(w, summary)
	return err
}
