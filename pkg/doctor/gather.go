package doctor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// execResult is what a command printed, and how it ended.
type execResult struct {
	out string
	err error
}

// Facts is everything doctor looked at; Diagnose judges it.
type Facts struct {
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
	// walGaps is the WAL missing from the repositories, listed after the
	// archiver was read (inspect.ArchiverAndGaps).
	walGaps    []repo.WALGap
	walGapsErr error
	check      *repo.CheckResult
	checkErr   error

	// df and du of the repository path in the repository host's pod.
	df, du *execResult

	// instances are the primary and the replicas, with replicas only.
	instances    []inspect.InstanceInfo
	instancesErr error

	// standby is the replay of a standby cluster's database.
	standby *inspect.StandbyInfo

	// postgresTLS is PostgreSQL's ssl setting and the number of rules of
	// its pg_hba.conf that take clear text from the network (TLSQuery).
	postgresTLS *execResult

	// loaded is what the pods have loaded of the Secrets (gatherLoaded);
	// nil when it was not read.
	loaded []loadedFact

	// passphrase is where an encrypted cluster's passphrase lives.
	passphrase    *inspect.Passphrase
	passphraseErr error
}

// Options say which cluster to examine, when, and whether to run
// pgbackrest check.
type Options struct {
	Namespace, Name string
	// Now is the time the certificates and backups are judged at.
	Now time.Time
	// NoCheck skips pgbackrest check (it switches to a new WAL segment).
	NoCheck bool
}

// Gather reads the Secrets and the pods, then runs the commands in the
// pods, all at once. Only an API error (not a failed command) is an
// error of doctor itself.
func Gather(ctx context.Context, client kubernetes.Interface, exec inspect.Exec, spec cluster.Spec, o Options) (Facts, error) {
	f := Facts{spec: spec, now: o.Now.UTC()}
	secrets := client.CoreV1().Secrets(o.Namespace)
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
	f.passphrase, f.passphraseErr = inspect.ReadPassphrase(ctx, client, spec, false)
	f.dbPod, f.dbPodErr = execPod(ctx, client, o.Namespace, cluster.PrimaryPodSelector(o.Name), cluster.ContainerDatabase)
	// The pod that runs pgBackRest's commands: the repository host, or the
	// database pod of an S3-only cluster.
	f.repoPod, f.repoPodErr = execPod(ctx, client, o.Namespace, cluster.PGBackRestPodSelector(o.Name), cluster.ContainerPGBackRest)
	if err := errors.Join(f.dbPodErr, f.repoPodErr); err != nil && kube.IsForbidden(err) {
		return f, err
	}

	run := func(pod *corev1.Pod, container string, timeout time.Duration, command ...string) *execResult {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		stdout, stderr, err := exec(ctx, o.Namespace, pod.Name, container, command)
		return &execResult{out: strings.TrimSpace(stdout + "\n" + stderr), err: err}
	}
	port := "--tls-server-port=" + strconv.Itoa(repo.ServerPort)
	var wg sync.WaitGroup
	if f.dbPod != nil {
		wg.Go(func() {
			f.pingRepo = run(f.dbPod, cluster.ContainerDatabase, inspect.ExecTimeout, "pgbackrest", "server-ping", cluster.RepoHostName(o.Name), port)
		})
		wg.Go(func() {
			f.archiver, f.walGaps, f.archiverErr, f.walGapsErr = inspect.ArchiverAndGaps(ctx, exec, o.Namespace, f.dbPod.Name)
		})
		wg.Go(func() {
			f.postgresTLS = run(f.dbPod, cluster.ContainerDatabase, inspect.ExecTimeout, inspect.PSQLCommand("postgres", TLSQuery)...)
		})
		if spec.Standby != nil {
			wg.Go(func() {
				s := inspect.Standby(ctx, exec, spec, f.dbPod)
				f.standby = &s
			})
		}
		// pgbackrest check needs a primary: a standby cluster archives
		// nothing until it is promoted.
		if !o.NoCheck && spec.Standby == nil {
			wg.Go(func() {
				command := append(repo.CheckCommand(), fmt.Sprintf("--archive-timeout=%d", int(archiveTimeout.Seconds())))
				r := run(f.dbPod, cluster.ContainerDatabase, archiveTimeout+inspect.ExecTimeout, command...)
				var execErr *kube.ExecError
				code := 0
				switch {
				case errors.As(r.err, &execErr):
					code = execErr.ExitCode()
				case r.err != nil:
					f.checkErr = kube.ExplainExec("run pgbackrest check", o.Namespace, f.dbPod.Name, r.err)
					return
				}
				c := repo.ParseCheck(r.out, code)
				f.check = &c
			})
		}
	}
	if f.repoPod != nil {
		wg.Go(func() {
			f.pingDB = run(f.repoPod, cluster.ContainerPGBackRest, inspect.ExecTimeout, "pgbackrest", "server-ping", cluster.ServiceName(o.Name), port)
		})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, inspect.ExecTimeout)
			defer cancel()
			s, err := inspect.ReadStanza(ctx, exec, o.Namespace, f.repoPod.Name)
			if err != nil {
				f.stanzaErr = err
				return
			}
			f.stanza = &s
		})
		wg.Go(func() {
			f.df = run(f.repoPod, cluster.ContainerPGBackRest, inspect.ExecTimeout, "df", "-P", "-B1", spec.RepoPath)
		})
		wg.Go(func() {
			f.du = run(f.repoPod, cluster.ContainerPGBackRest, inspect.ExecTimeout, "du", "-s", "-B1", spec.RepoPath)
		})
	}
	if f.dbPod != nil || f.repoPod != nil {
		wg.Go(func() { f.loaded = gatherLoaded(ctx, exec, o.Namespace, f.dbPod, f.repoPod) })
	}
	if spec.Replicas > 0 {
		wg.Go(func() {
			pods, err := client.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.DatabaseSelector(o.Name).String()})
			if err != nil {
				f.instancesErr = fmt.Errorf("cannot list the database pods: %w", err)
				return
			}
			f.instances = inspect.Instances(ctx, exec, spec, pods.Items)
		})
	}
	wg.Wait()
	return f, nil
}

// execPod returns the pod matching selector whose container runs (ready
// or not: an exec needs only a running container) on a ready node, or why
// there is none.
func execPod(ctx context.Context, client kubernetes.Interface, ns, selector, container string) (*corev1.Pod, error) {
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("cannot list the pods %q: %w", selector, err)
	}
	pods := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	// A pod on a node that stopped answering still looks Running; it is
	// named with its node, and not exec'd into.
	problems := kube.PodProblems(ctx, client, pods)
	var seen []string
	for _, p := range pods {
		if problem := problems[p.Name]; problem != "" {
			seen = append(seen, fmt.Sprintf("%s (%s: %s)", p.Name, inspect.PodInfoOf(p).Phase, problem))
			continue
		}
		if inspect.ContainerRunning(p, container) {
			return p, nil
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", p.Name, inspect.PodInfoOf(p).Phase))
	}
	if len(seen) == 0 {
		return nil, errors.New("no pod")
	}
	return nil, fmt.Errorf("container %s does not run in %s", container, strings.Join(seen, ", "))
}
