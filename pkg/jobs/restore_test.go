package jobs

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// renderedStatefulSet is the database StatefulSet that create cluster
// renders for hippo in namespace pgo.
func renderedStatefulSet(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	return renderedStatefulSetOf(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
}

// renderedStatefulSetOf is the database StatefulSet create cluster
// renders for spec.
func renderedStatefulSetOf(t *testing.T, spec cluster.Spec) *appsv1.StatefulSet {
	return fakecluster.RenderedOfKind[appsv1.StatefulSet](t, spec, "StatefulSet")
}

func TestRestoreJob(t *testing.T) {
	sts := renderedStatefulSet(t)
	opts, err := repo.ParseRestoreOptions("--process-max=2")
	if err != nil {
		t.Fatal(err)
	}
	opts, err = opts.WithTimeTarget(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.Normalize(); err != nil {
		t.Fatal(err)
	}
	job, err := RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: cluster.DataDirectory("hippo"), Options: opts}.Render()
	if err != nil {
		t.Fatal(err)
	}

	checkJobName(t, job, "pgo", "hippo-restore")
	wantLabels := hippoLabels("restore")
	if !reflect.DeepEqual(job.Labels, wantLabels) || !reflect.DeepEqual(job.Spec.Template.Labels, wantLabels) {
		t.Errorf("labels %v / pod %v, want %v", job.Labels, job.Spec.Template.Labels, wantLabels)
	}
	if !RestoreSelector("hippo").AsSelector().Matches(labelsSet(job.Spec.Template.Labels)) {
		t.Errorf("RestoreSelector does not select the Job's pods")
	}
	if cluster.DatabaseSelector("hippo").AsSelector().Matches(labelsSet(job.Spec.Template.Labels)) {
		t.Errorf("the database Service would select the restore pod")
	}
	s := job.Spec
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("backoffLimit = %v, want 0", s.BackoffLimit)
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != int64(DefaultRestoreDeadline/time.Second) {
		t.Errorf("activeDeadlineSeconds = %v", s.ActiveDeadlineSeconds)
	}
	if s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != int32(DefaultRestoreTTL/time.Second) {
		t.Errorf("ttlSecondsAfterFinished = %v", s.TTLSecondsAfterFinished)
	}
	if s.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy = %s", s.Template.Spec.RestartPolicy)
	}

	// The container: the database's image, and exactly the mounts of its
	// pgbackrest container, with the volumes behind them.
	var source = sts.Spec.Template.Spec.Containers[1]
	if source.Name != "pgbackrest" {
		t.Fatalf("container 1 of the StatefulSet is %s", source.Name)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	if c.Image != source.Image || c.Image != cluster.ImageFor(fakecluster.FixtureVersion) {
		t.Errorf("image %s, want %s", c.Image, source.Image)
	}
	if !reflect.DeepEqual(c.VolumeMounts, source.VolumeMounts) {
		t.Errorf("mounts %+v\nwant %+v", c.VolumeMounts, source.VolumeMounts)
	}
	for _, m := range c.VolumeMounts {
		var got, want any
		for _, v := range s.Template.Spec.Volumes {
			if v.Name == m.Name {
				got = v
			}
		}
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				want = v
			}
		}
		if got == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("volume %s = %+v, want %+v", m.Name, got, want)
		}
	}
	pvc := false
	for _, v := range s.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "hippo" {
			pvc = true
		}
	}
	if !pvc {
		t.Errorf("the data PVC is not mounted: %+v", s.Template.Spec.Volumes)
	}

	cmd := strings.Join(c.Command, " ")
	for _, want := range []string{
		"kubectl-pgo-restore /pgdata/hippo --stanza=db restore --delta --type=time --target=2026-11-24 12:00:00+00 --target-action=promote --process-max=2 --log-level-console=info",
		`pgbackrest "$@"`,
		"postmaster.pid",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command lacks %q:\n%s", want, cmd)
		}
	}
	if job.Annotations[AnnotationRestoreTarget] != "2026-11-24 12:00:00+00" {
		t.Errorf("annotations %v", job.Annotations)
	}

	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, &s.Template.ObjectMeta, &s.Template.Spec))
	if !result.Allowed {
		t.Errorf("the restore pod is not restricted: %s: %s", result.ForbiddenReason(), result.ForbiddenDetail())
	}
	if sc := s.Template.Spec.SecurityContext; sc == nil || *sc.RunAsUser != 26 || *sc.FSGroup != 26 {
		t.Errorf("pod security context %+v", sc)
	}
}

func TestRestoreJobRefusesForeignStatefulSet(t *testing.T) {
	sts := renderedStatefulSet(t)
	sts.Spec.Template.Spec.Containers = sts.Spec.Template.Spec.Containers[:1]
	_, err := RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo"}.Render()
	if err == nil || !strings.Contains(err.Error(), "has no container pgbackrest") {
		t.Errorf("error = %v", err)
	}

	sts = renderedStatefulSet(t)
	sts.Spec.Template.Spec.Volumes = nil
	_, err = RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo"}.Render()
	if err == nil || !strings.Contains(err.Error(), "which the pod does not have") {
		t.Errorf("error = %v", err)
	}
}

func labelsSet(m map[string]string) labels.Set { return labels.Set(m) }

// Restoring from another cluster's repository: its configuration from a
// Secret, and the recovery in the Job, with the database container's
// mounts.
func TestRestoreJobRecoverFromSource(t *testing.T) {
	sts := renderedStatefulSet(t)
	opts, err := repo.ParseRestoreOptions("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.Normalize(); err != nil {
		t.Fatal(err)
	}
	r := RestoreJob{
		Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo", Options: opts,
		ExtraArgs:    []string{"--pg1-path=/pgdata/hippo", "--repo1-host=old-backrest-shared-repo.other.svc"},
		SourceSecret: "hippo-restore-source",
	}
	if _, err := (RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo", Recover: true}).Render(); err == nil {
		t.Errorf("Recover without the binaries, password file and superuser was accepted")
	}
	r.Recover, r.PostgresBinDir, r.PasswordFile, r.Superuser = true, "/usr/lib/postgresql/15/bin", "/etc/kubectl-pgo/password", "postgres"
	job, err := r.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "restore-from-source-job.yaml", job)
	c := job.Spec.Template.Spec.Containers[0]
	database := sts.Spec.Template.Spec.Containers[0]
	if database.Name != "database" || !reflect.DeepEqual(c.VolumeMounts, database.VolumeMounts) {
		t.Errorf("mounts %+v, want the database container's %+v", c.VolumeMounts, database.VolumeMounts)
	}
	cmd := strings.Join(c.Command, " ")
	for _, want := range []string{
		"/pgdata/hippo --stanza=db --pg1-path=/pgdata/hippo --repo1-host=old-backrest-shared-repo.other.svc restore --delta",
		"postgres -D \"$pgdata\" -c archive_mode=off",
		"ALTER SYSTEM RESET restore_command",
		"ALTER ROLE :\"superuser\" PASSWORD :'password'",
		"pg_ctl stop",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command lacks %q:\n%s", want, cmd)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["PGDATA"] != "/pgdata/hippo" || env["PGHOST"] == "" || env["PG_BIN"] != "/usr/lib/postgresql/15/bin" || env["SUPERUSER"] != "postgres" {
		t.Errorf("env = %v", env)
	}
	found := false
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "hippo-restore-source" {
			found = true
			if len(v.Secret.Items) != 4 || v.Secret.Items[0].Path != "pgbackrest.conf" || v.Secret.Items[3].Path != "tls/db.key" {
				t.Errorf("source Secret items %+v", v.Secret.Items)
			}
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil && src.ConfigMap.Items[0].Key == "db.conf" {
					t.Errorf("the cluster's own pgbackrest.conf is still mounted")
				}
			}
		}
	}
	if !found {
		t.Errorf("the source Secret is not mounted: %+v", job.Spec.Template.Spec.Volumes)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()},
		&job.Spec.Template.ObjectMeta, &job.Spec.Template.Spec))
	if !result.Allowed {
		t.Errorf("not restricted: %s: %s", result.ForbiddenReason(), result.ForbiddenDetail())
	}
}

// A base backup restore: the pgbackrest container's mounts and the base
// backup's PVC, read-only; the script, not pgbackrest; refused with
// pgBackRest options or a folder outside the mount.
func TestRestoreJobBaseBackup(t *testing.T) {
	sts := renderedStatefulSet(t)
	src := &BaseBackupSource{Name: "2026-11-24-12-00-05", PVC: "backup-hippo-pgbasebackup-pvc", Dir: "/pgbasebackup/hippo-backups/2026-11-24-12-00-05"}
	job, err := RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo", BaseBackup: src}.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "pgbasebackup-restore-job.yaml", job)
	if job.Name != "hippo-restore" || job.Labels[cluster.LabelComponent] != ComponentRestore || job.Labels[LabelBackupType] != BackupTypePGBaseBackup {
		t.Errorf("job %s labels %v", job.Name, job.Labels)
	}
	c := job.Spec.Template.Spec.Containers[0]
	source := sts.Spec.Template.Spec.Containers[1]
	if !reflect.DeepEqual(c.VolumeMounts[:len(source.VolumeMounts)], source.VolumeMounts) {
		t.Errorf("mounts %+v, want the pgbackrest container's %+v and the base backup", c.VolumeMounts, source.VolumeMounts)
	}
	last := c.VolumeMounts[len(c.VolumeMounts)-1]
	if last.MountPath != PGBaseBackupMount || !last.ReadOnly {
		t.Errorf("base backup mount %+v", last)
	}
	var pvc *corev1.PersistentVolumeClaimVolumeSource
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == last.Name {
			pvc = v.PersistentVolumeClaim
		}
	}
	if pvc == nil || pvc.ClaimName != src.PVC || !pvc.ReadOnly {
		t.Errorf("base backup volume %+v", pvc)
	}
	if got := strings.Join(c.Command[len(c.Command)-3:], " "); got != "/pgdata/hippo "+src.Dir+" db" {
		t.Errorf("arguments %q", got)
	}

	opts, err := repo.ParseRestoreOptions("--type=immediate")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]RestoreJob{
		"pgBackRest options": {Options: opts, BaseBackup: src},
		"folder elsewhere":   {BaseBackup: &BaseBackupSource{Name: "x", PVC: "p", Dir: "/pgdata/hippo"}},
		"no PVC":             {BaseBackup: &BaseBackupSource{Name: "x", Dir: src.Dir}},
	} {
		r.Cluster, r.Namespace, r.Database, r.PGData = "hippo", "pgo", sts, "/pgdata/hippo"
		if _, err := r.Render(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The upgrade Job runs the script with the database's mounts, the old major's libraries on
// its own path; what is not an upgrade is refused.
func TestUpgradeJob(t *testing.T) {
	sts := &appsv1.StatefulSet{}
	sts.Name, sts.Namespace = "hippo", "pgo"
	sts.Spec.Template.Spec.Containers = []corev1.Container{{Name: databaseContainer, VolumeMounts: []corev1.VolumeMount{{Name: "pgdata", MountPath: "/pgdata"}}}}
	sts.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "pgdata"}}
	u := UpgradeJob{Cluster: "hippo", Namespace: "pgo", Image: "up", From: 15, To: 17, Mode: UpgradeLink,
		PGData: "/pgdata/hippo", Include: "include 'x'", Superuser: "postgres", Database: sts}
	job, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	c := job.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if job.Name != "hippo-upgrade" || job.Labels[cluster.LabelComponent] != ComponentUpgrade || env["FROM"] != "15" || env["TO"] != "17" ||
		env["LD_LIBRARY_PATH"] != "/usr/lib/postgresql/15/compat-lib" || c.VolumeMounts[0].MountPath != "/pgdata" || !strings.Contains(c.Command[4], "pg_upgrade") {
		t.Errorf("upgrade Job %s %v env %v mounts %v", job.Name, job.Labels, env, c.VolumeMounts)
	}
	for _, bad := range []func(*UpgradeJob){func(u *UpgradeJob) { u.To = 15 }, func(u *UpgradeJob) { u.Mode = "move" }, func(u *UpgradeJob) { u.Include = "" }} {
		b := u
		bad(&b)
		if _, err := b.Render(); err == nil {
			t.Errorf("%+v rendered", b)
		}
	}
}
