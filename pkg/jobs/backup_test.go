package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// renderedRepoHost is the repository host Deployment that create cluster
// renders for the cluster name in namespace pgo.
func renderedRepoHost(t *testing.T, name string) *appsv1.Deployment {
	return fakecluster.RenderedOfKind[appsv1.Deployment](t, cluster.Spec{Name: name, Namespace: "pgo"}, "Deployment")
}

// checkJobName fails t unless job is namespace/name.
func checkJobName(t *testing.T, job *batchv1.Job, namespace, name string) {
	t.Helper()
	if job.Name != name || job.Namespace != namespace {
		t.Errorf("job %s/%s, want %s/%s", job.Namespace, job.Name, namespace, name)
	}
}

// hippoLabels are the labels of every object of cluster hippo of the
// component.
func hippoLabels(component string) map[string]string {
	return map[string]string{
		"pg-cluster": "hippo", "app.kubernetes.io/instance": "hippo", "app.kubernetes.io/name": "postgres",
		"app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "kubectl-pgo",
	}
}

func mustOptions(t *testing.T, s string) repo.BackupOptions {
	t.Helper()
	o, err := repo.ParseBackupOptions(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestBackupJob(t *testing.T) {
	deploy := renderedRepoHost(t, "hippo")
	job, err := BackupJob{
		Cluster: "hippo", Namespace: "pgo", RepoHost: deploy, Type: "full",
		Options: mustOptions(t, "--process-max=4"), Suspend: true, Suffix: "abcde",
	}.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkJobName(t, job, "pgo", "hippo-backup-full-abcde")
	wantLabels := hippoLabels("backup")
	wantLabels["kubectl-pgo.io/backup-type"], wantLabels["kubectl-pgo.io/pgbackrest-type"] = "pgbackrest", "full"
	for k, v := range wantLabels {
		if job.Labels[k] != v || job.Spec.Template.Labels[k] != v {
			t.Errorf("label %s = %q (pod %q), want %q", k, job.Labels[k], job.Spec.Template.Labels[k], v)
		}
	}
	// The pod must not look like the repository host to its Service.
	if labels.SelectorFromSet(deploy.Spec.Selector.MatchLabels).Matches(labels.Set(job.Spec.Template.Labels)) {
		t.Error("the backup pod matches the repository host's selector")
	}
	s := job.Spec
	if s.Suspend == nil || !*s.Suspend || s.BackoffLimit == nil || *s.BackoffLimit != 0 ||
		s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 7200 ||
		s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != 7*24*3600 {
		t.Errorf("job spec: suspend %v backoffLimit %v deadline %v ttl %v", s.Suspend, s.BackoffLimit, s.ActiveDeadlineSeconds, s.TTLSecondsAfterFinished)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("restart policy %s, automount %v", pod.RestartPolicy, pod.AutomountServiceAccountToken)
	}
	if pod.ServiceAccountName != "" {
		t.Errorf("service account %q, want the default one (no token)", pod.ServiceAccountName)
	}
	aff := pod.Affinity
	if aff == nil || aff.PodAffinity == nil || len(aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity = %+v", aff)
	}
	term := aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" || fmt.Sprint(term.LabelSelector.MatchLabels) != fmt.Sprint(map[string]string(cluster.RepoSelector("hippo"))) {
		t.Errorf("affinity term = %+v", term)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	repoC := deploy.Spec.Template.Spec.Containers[0]
	if c.Image != repoC.Image || c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("image %s, termination message policy %s", c.Image, c.TerminationMessagePolicy)
	}
	wantCmd := "tini -- pgbackrest --stanza=db backup --type=full --start-fast --log-level-console=info --lock-path=/backrestrepo/kubectl-pgo-lock --process-max=4"
	if got := strings.Join(c.Command, " "); got != wantCmd {
		t.Errorf("command = %s\nwant      %s", got, wantCmd)
	}
	if got := job.Annotations[AnnotationBackupCommand]; got != "pgbackrest --stanza=db backup --type=full --start-fast --log-level-console=info --lock-path=/backrestrepo/kubectl-pgo-lock --process-max=4" {
		t.Errorf("annotation = %q", got)
	}
	if c.ReadinessProbe != nil || len(c.Ports) != 0 {
		t.Error("the backup container copied the server's probe or ports")
	}
	// The same files as the repository host, in the same places.
	if fmt.Sprint(c.VolumeMounts) != fmt.Sprint(repoC.VolumeMounts) {
		t.Errorf("mounts = %v\nwant %v", c.VolumeMounts, repoC.VolumeMounts)
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "hippo-pgbr-repo" {
		t.Errorf("repository PVC = %q, want hippo-pgbr-repo", claim)
	}
	if fmt.Sprint(c.Resources) != fmt.Sprint(repoC.Resources) {
		t.Errorf("resources = %v, want the repository host's %v", c.Resources, repoC.Resources)
	}

	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, &s.Template.ObjectMeta, &pod))
	if !result.Allowed {
		t.Errorf("the backup pod is not restricted: %s: %s", result.ForbiddenReason(), result.ForbiddenDetail())
	}
}

func TestBackupArgs(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		opts    string
		verbose bool
		want    string
	}{
		{name: "defaults", typ: "incr", want: "--stanza=db backup --type=incr --start-fast --log-level-console=info"},
		{name: "verbose", typ: "diff", verbose: true, want: "--stanza=db backup --type=diff --start-fast --log-level-console=detail"},
		{name: "type in the options", typ: "full", opts: "--type=full", want: "--stanza=db backup --start-fast --log-level-console=info --type=full"},
		{name: "no fast start", typ: "full", opts: "--no-start-fast", want: "--stanza=db backup --type=full --log-level-console=info --no-start-fast"},
		{name: "own log level", typ: "full", opts: "--log-level-console=warn", verbose: true, want: "--stanza=db backup --type=full --start-fast --log-level-console=warn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(BackupJob{Type: tc.typ, Options: mustOptions(t, tc.opts), Verbose: tc.verbose}.Args(), " ")
			if got != tc.want {
				t.Errorf("args = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

// The longest cluster name still gives a Job name that fits the pods'
// job-name label.
func TestBackupJobNameLength(t *testing.T) {
	name := strings.Repeat("a", cluster.MaxNameLength())
	job, err := BackupJob{Cluster: name, Namespace: "pgo", RepoHost: renderedRepoHost(t, name), Type: "incr"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	if msgs := validation.IsValidLabelValue(job.Name); len(msgs) > 0 {
		t.Errorf("job name %q (%d characters): %v", job.Name, len(job.Name), msgs)
	}
	if a, b := RandomSuffix(), RandomSuffix(); len(a) != 5 || a == b {
		t.Errorf("suffixes %q, %q", a, b)
	}
}

func TestBackupJobRefusals(t *testing.T) {
	deploy := renderedRepoHost(t, "hippo")
	noContainer := deploy.DeepCopy()
	noContainer.Spec.Template.Spec.Containers[0].Name = "other"
	noVolume := deploy.DeepCopy()
	noVolume.Spec.Template.Spec.Volumes = noVolume.Spec.Template.Spec.Volumes[1:]
	tests := []struct {
		name string
		job  BackupJob
		want string
	}{
		{"no deployment", BackupJob{Cluster: "hippo", Namespace: "pgo", Type: "full"}, "backup Job: the cluster, its namespace and its repository host are required"},
		{"bad type", BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: deploy, Type: "huge"}, `backup Job: backup type "huge" is not one of full, diff, incr`},
		{"no container", BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: noContainer, Type: "full"}, "Deployment pgo/hippo-backrest-shared-repo has no container pgbackrest"},
		{"missing volume", BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: noVolume, Type: "full"}, "Deployment pgo/hippo-backrest-shared-repo: container pgbackrest mounts volume repo, which the pod does not have"},
	}
	for _, tc := range tests {
		if _, err := tc.job.Render(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func backupJobObject(name, component string, created time.Time, mods ...func(*batchv1.Job)) *batchv1.Job {
	l := cluster.Labels("hippo", component)
	l[LabelPGBackRestType] = "full"
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo", Labels: l, CreationTimestamp: metav1.NewTime(created)}}
	for _, m := range mods {
		m(j)
	}
	return j
}

func finished(typ batchv1.JobConditionType) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"})
	}
}

func suspended(j *batchv1.Job) { j.Spec.Suspend = new(bool); *j.Spec.Suspend = true }

// stampCreation makes the fake clientset set creationTimestamp, as the API
// server does.
func stampCreation(client *fake.Clientset, at time.Time) {
	client.PrependReactor("create", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		obj.CreationTimestamp = metav1.NewTime(at)
		return false, nil, nil
	})
}

func TestCheckNoConflict(t *testing.T) {
	tests := []struct {
		name string
		jobs []runtime.Object
		want string
	}{
		{name: "none"},
		{name: "finished ones", jobs: []runtime.Object{
			backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0, finished(batchv1.JobComplete)),
			backupJobObject("hippo-backup-full-bbbbb", ComponentBackup, t0, finished(batchv1.JobFailed)),
			backupJobObject("hippo-restore", ComponentRestore, t0, finished(batchv1.JobComplete)),
		}},
		{name: "another cluster", jobs: []runtime.Object{backupJobObject("x", ComponentBackup, t0, func(j *batchv1.Job) {
			j.Labels["pg-cluster"] = "other"
			j.Labels["app.kubernetes.io/instance"] = "other"
		})}},
		{name: "running", jobs: []runtime.Object{backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0)},
			want: "a backup of cluster hippo is already running: Job hippo-backup-full-aaaaa (full, started 2m0s ago); two backups of a cluster never run at once. Follow it with: kubectl logs -f job/hippo-backup-full-aaaaa -n pgo"},
		{name: "oldest named", jobs: []runtime.Object{
			backupJobObject("hippo-backup-full-newer", ComponentBackup, t0.Add(time.Minute)),
			backupJobObject("hippo-backup-full-older", ComponentBackup, t0),
		}, want: "a backup of cluster hippo is already running: Job hippo-backup-full-older "},
		{name: "restore", jobs: []runtime.Object{backupJobObject("hippo-restore", ComponentRestore, t0)},
			want: "cluster hippo is being restored by Job hippo-restore (started 2m0s ago): a backup cannot run during a restore"},
		{name: "suspended", jobs: []runtime.Object{backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0, suspended)},
			want: "backup Job hippo-backup-full-aaaaa of cluster hippo was created 2m0s ago but not started"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.jobs...)
			err := CheckNoConflict(context.Background(), client, "pgo", "hippo", t0.Add(2*time.Minute))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected conflict: %v", err)
				}
				return
			}
			var conflict *ConflictError
			if !errors.As(err, &conflict) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a conflict starting %q", err, tc.want)
			}
		})
	}
}

// A backup Job whose pod has ended runs nothing, even before the Job
// controller marks it Complete or Failed.
func TestCheckNoConflictPodEnded(t *testing.T) {
	oneAttempt := func(j *batchv1.Job) { j.Spec.BackoffLimit = new(int32) }
	podOf := func(job string, terminated bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job + "-xyz12", Namespace: "pgo", Labels: BackupSelector("hippo")}}
		p.Labels[batchv1.JobNameLabel] = job
		p.Status.Phase = corev1.PodRunning
		state := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		if terminated {
			state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pgbackrest", State: state}}
		return p
	}
	job := backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0, oneAttempt)
	for _, tc := range []struct {
		name     string
		objects  []runtime.Object
		conflict bool
	}{
		{"container exited", []runtime.Object{job, podOf(job.Name, true)}, false},
		{"container runs", []runtime.Object{job, podOf(job.Name, false)}, true},
		{"no pod yet", []runtime.Object{job}, true},
		{"retries allowed", []runtime.Object{backupJobObject("hippo-backup-full-aaaaa", ComponentBackup, t0), podOf(job.Name, true)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNoConflict(context.Background(), fake.NewClientset(tc.objects...), "pgo", "hippo", t0)
			if (err != nil) != tc.conflict {
				t.Errorf("conflict = %v, want %v", err, tc.conflict)
			}
		})
	}
}

func TestStartBackup(t *testing.T) {
	deploy := renderedRepoHost(t, "hippo")
	render := func(suffix string) *batchv1.Job {
		job, err := BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: deploy, Type: "full", Suspend: true, Suffix: suffix}.Render()
		if err != nil {
			t.Fatal(err)
		}
		return job
	}

	t.Run("alone: created suspended, then resumed", func(t *testing.T) {
		client := fake.NewClientset()
		stampCreation(client, t0)
		job, err := StartBackup(context.Background(), client, "hippo", render("aaaaa"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if job.Spec.Suspend == nil || *job.Spec.Suspend {
			t.Errorf("the Job is still suspended")
		}
		var verbs []string
		for _, a := range client.Actions() {
			verbs = append(verbs, a.GetVerb())
		}
		if got := strings.Join(verbs, ","); got != "create,list,patch" {
			t.Errorf("requests = %s, want create,list,patch", got)
		}
	})

	t.Run("second of two: deleted, the first named", func(t *testing.T) {
		// Another client created its Job a moment earlier and has not
		// resumed it yet.
		first := render("first")
		first.CreationTimestamp = metav1.NewTime(t0)
		client := fake.NewClientset(first)
		stampCreation(client, t0.Add(time.Second))
		_, err := StartBackup(context.Background(), client, "hippo", render("second"), t0.Add(time.Second))
		var conflict *ConflictError
		if !errors.As(err, &conflict) || conflict.Job.Name != "hippo-backup-full-first" {
			t.Fatalf("error = %v, want a conflict naming hippo-backup-full-first", err)
		}
		list, _ := client.BatchV1().Jobs("pgo").List(context.Background(), metav1.ListOptions{})
		if len(list.Items) != 1 || list.Items[0].Name != "hippo-backup-full-first" {
			t.Errorf("jobs left: %v", list.Items)
		}
	})

	t.Run("same second: the name decides", func(t *testing.T) {
		other := render("bbbbb")
		other.CreationTimestamp = metav1.NewTime(t0)
		client := fake.NewClientset(other)
		stampCreation(client, t0)
		if _, err := StartBackup(context.Background(), client, "hippo", render("aaaaa"), t0); err != nil {
			t.Fatalf("aaaaa sorts first and should run: %v", err)
		}
	})

	t.Run("not suspended", func(t *testing.T) {
		job := render("aaaaa")
		job.Spec.Suspend = nil
		if _, err := StartBackup(context.Background(), fake.NewClientset(), "hippo", job, t0); err == nil {
			t.Error("a Job that is not suspended was accepted")
		}
	})
}

func TestState(t *testing.T) {
	for _, tc := range []struct {
		job  *batchv1.Job
		want string
	}{
		{backupJobObject("a", ComponentBackup, t0), StateRunning},
		{backupJobObject("a", ComponentBackup, t0, suspended), StateSuspended},
		{backupJobObject("a", ComponentBackup, t0, finished(batchv1.JobComplete)), StateSucceeded},
		{backupJobObject("a", ComponentBackup, t0, finished(batchv1.JobFailed)), StateFailed},
	} {
		if got := State(tc.job); got != tc.want {
			t.Errorf("State = %s, want %s", got, tc.want)
		}
	}
}
