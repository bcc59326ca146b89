package security

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// rendered is one object a renderer produced, under a name for messages.
type rendered struct {
	name string
	obj  runtime.Object
}

// renderers are every exported function of pkg/ that renders objects
// carrying pods, keyed as podRenderers (below) finds them in the source, each
// called with every variant the commands use. TestRenderersAreAllChecked
// fails when a renderer is missing here.
var renderers = map[string]func(t *testing.T) []rendered{
	"cluster.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			for _, obj := range renderCluster(t, spec) {
				out = append(out, rendered{fmt.Sprintf("cluster %s (storage %v): %s %s", spec.Name, spec.StorageType, obj.GetKind(), obj.GetName()), obj})
			}
		}
		return out
	},
	"cluster.RepoHostDeployment": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			out = append(out, rendered{fmt.Sprintf("repository host of %s (storage %v), the template of its backup Jobs", spec.Name, spec.StorageType), repoHostDeployment(t, spec)})
		}
		return out
	},
	"jobs.BackupJob.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			deploy := repoHostDeployment(t, spec)
			for _, typ := range repo.BackupTypes {
				for _, verbose := range []bool{false, true} {
					opts, err := repo.ParseBackupOptions("--process-max=2")
					if err != nil {
						t.Fatal(err)
					}
					job, err := jobs.BackupJob{Cluster: spec.Name, Namespace: spec.Namespace, RepoHost: deploy, Type: typ, Options: opts, Verbose: verbose, Suspend: true}.Render()
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, rendered{fmt.Sprintf("backup Job of %s, --type=%s, verbose %v", spec.Name, typ, verbose), job})
				}
			}
		}
		return out
	},
	"jobs.RestoreJob.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			sts := typedFrom[appsv1.StatefulSet](t, renderCluster(t, spec), "StatefulSet")
			opts, err := repo.ParseRestoreOptions("--set=20261124-110000F")
			if err != nil {
				t.Fatal(err)
			}
			pitr, err := opts.WithTimeTarget(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]jobs.RestoreJob{
				"in place":            {Options: opts},
				"in place, PITR":      {Options: pitr},
				"from another source": {Options: pitr, SourceSecret: spec.Name + "-restore-source", Recover: true, PostgresBinDir: "/usr/lib/postgresql/15/bin", PasswordFile: "/etc/kubectl-pgo/password", Superuser: cluster.Superuser},
				"base backup": {BaseBackup: &jobs.BaseBackupSource{Name: "2026-11-24-12-00-00", PVC: jobs.DefaultPGBaseBackupPVCName(spec.Name),
					Dir: jobs.PGBaseBackupMount + "/" + spec.Name + "-backups/2026-11-24-12-00-00"}},
			} {
				r.Cluster, r.Namespace, r.Database, r.PGData = spec.Name, spec.Namespace, sts, cluster.DataDirectory(spec.Name)
				job, err := r.Render()
				if err != nil {
					t.Fatalf("restore Job %s: %v", name, err)
				}
				out = append(out, rendered{fmt.Sprintf("restore Job of %s, %s", spec.Name, name), job})
			}
		}
		return out
	},
	"jobs.UpgradeJob.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			sts := typedFrom[appsv1.StatefulSet](t, renderCluster(t, spec), "StatefulSet")
			for _, mode := range []string{jobs.UpgradeLink, jobs.UpgradeCopy} {
				job, err := jobs.UpgradeJob{Cluster: spec.Name, Namespace: spec.Namespace, Image: "ghcr.io/kubectl-pgo/postgres-upgrade:17", From: 15, To: 17,
					Mode: mode, PGData: cluster.DataDirectory(spec.Name), Include: cluster.IncludeLine(), Superuser: cluster.Superuser, Database: sts}.Render()
				if err != nil {
					t.Fatalf("upgrade Job: %v", err)
				}
				out = append(out, rendered{fmt.Sprintf("upgrade Job of %s, --%s", spec.Name, mode), job})
			}
		}
		return out
	},
	"jobs.SourceReader.Render": func(t *testing.T) []rendered {
		pod, err := jobs.SourceReader{Cluster: "new", Namespace: "pgo", Image: cluster.DefaultImage, SourceSecret: "new-restore-source",
			SourceFiles: []string{jobs.SourceKeyConfig, jobs.SourceKeyS3CA}}.Render()
		if err != nil {
			t.Fatal(err)
		}
		return []rendered{{"restore source reader pod", pod}}
	},
	"jobs.KeysProbe.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, spec := range clusterSpecs() {
			spec.Default()
			deploy, err := cluster.RepoHostDeployment(spec)
			if err != nil {
				t.Fatal(err)
			}
			pod, err := jobs.KeysProbe{Cluster: spec.Name, Namespace: spec.Namespace, RepoHost: deploy, Repos: []int{1}}.Render()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rendered{fmt.Sprintf("keys probe pod of %s (storage %v)", spec.Name, spec.StorageType), pod})
		}
		return out
	},
	"jobs.PGDumpJob.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, all := range []bool{false, true} {
			job := jobs.PGDumpJob{Cluster: "hippo", Namespace: "pgo", Image: cluster.DefaultImage, Database: "app", All: all, PVC: jobs.DefaultPGDumpPVCName("hippo"), Time: time.Now()}.Render()
			out = append(out, rendered{fmt.Sprintf("pg_dump Job, all %v", all), job})
		}
		return out
	},
	"jobs.PGDumpRestoreJob.Render": func(t *testing.T) []rendered {
		var out []rendered
		for _, all := range []bool{false, true} {
			job := jobs.PGDumpRestoreJob{Cluster: "hippo", Namespace: "pgo", Image: cluster.DefaultImage, Database: "app", Path: "/pgdump/x", PVC: jobs.DefaultPGDumpPVCName("hippo"), All: all}.Render()
			out = append(out, rendered{fmt.Sprintf("pg_dump restore Job, all %v", all), job})
		}
		return out
	},
	"jobs.Schedule.Render": func(t *testing.T) []rendered {
		spec := clusterSpecs()[0]
		deploy := typedFrom[appsv1.Deployment](t, renderCluster(t, spec), "Deployment")
		backup, err := jobs.BackupJob{Cluster: spec.Name, Namespace: spec.Namespace, RepoHost: deploy, Type: repo.BackupFull}.Render()
		if err != nil {
			t.Fatal(err)
		}
		var out []rendered
		for typ, job := range map[string]*batchv1.Job{
			jobs.BackupTypePGBackRest:   backup,
			jobs.BackupTypePGDump:       jobs.PGDumpJob{Cluster: spec.Name, Namespace: spec.Namespace, Image: cluster.DefaultImage, Database: "app", PVC: "p", Scheduled: true}.Render(),
			jobs.BackupTypePGBaseBackup: jobs.PGBaseBackupJob{Cluster: spec.Name, Namespace: spec.Namespace, Image: cluster.DefaultImage, PVC: "p", Scheduled: true}.Render(),
		} {
			cj, err := jobs.Schedule{Name: spec.Name + "-" + typ, Cluster: spec.Name, Namespace: spec.Namespace, Cron: "@daily", Type: typ, Job: job}.Render()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rendered{"schedule CronJob, " + typ, cj})
		}
		return out
	},
	"jobs.PGBaseBackupJob.Render": func(t *testing.T) []rendered {
		job := jobs.PGBaseBackupJob{Cluster: "hippo", Namespace: "pgo", Image: cluster.DefaultImage, PVC: jobs.DefaultPGBaseBackupPVCName("hippo"), Time: time.Now()}.Render()
		return []rendered{{"pg_basebackup Job", job}}
	},
}

// notRenderers are exported functions whose results have a pod-carrying
// type but that only read, list or forward objects made elsewhere.
var notRenderers = map[string]string{
	"apply.CurrentObjects":  "reads the current state of objects rendered elsewhere",
	"apply.GetObject":       "reads an object",
	"jobs.ActiveJobs":       "lists the Jobs in the cluster",
	"jobs.ActiveJobsOf":     "lists the Jobs in the cluster",
	"jobs.StartBackup":      "creates and resumes a Job rendered by jobs.BackupJob.Render",
	"kube.Apply":            "applies objects rendered elsewhere",
	"kube.FindRunningPod":   "reads a pod",
	"kube.PickRunningPod":   "picks a pod from a list read elsewhere",
	"restore.InPlace.Start": "creates the Job rendered by jobs.RestoreJob.Render",
	"security.PodTemplates": "extracts the templates this test checks",

	// pkg/backup creates, applies or reads what pkg/jobs renders.
	"backup.CreateSchedule":    "applies a CronJob rendered by jobs.Schedule.Render",
	"backup.FindPGBackRestPod": "reads a pod",
	"backup.ListSchedules":     "lists the CronJobs in the cluster",
	"backup.ScheduleJob":       "returns the Job of jobs.PGDumpJob, jobs.PGBaseBackupJob or jobs.BackupJob.Render",
	"backup.Start":             "creates a Job rendered by jobs.BackupJob.Render",
	"backup.StartDump":         "creates a Job rendered by jobs.PGDumpJob or jobs.PGBaseBackupJob.Render",
	"backup.StartDumpRestore":  "creates a Job rendered by jobs.PGDumpRestoreJob.Render",
}

// clusterSpecs are the cluster settings to render: every supported storage
// type (and posix, its synonym), with defaults, with resources, and with
// the longest name.
func clusterSpecs() []cluster.Spec {
	var types [][]cluster.StorageType
	for _, st := range append(cluster.SupportedStorageTypes(), cluster.StoragePosix) {
		types = append(types, []cluster.StorageType{st})
	}
	types = append(types, []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3},
		[]cluster.StorageType{cluster.StorageLocal, cluster.StorageS3, cluster.StorageGCS, cluster.StorageAzure})
	var specs []cluster.Spec
	for _, st := range types {
		specs = append(specs,
			cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: st},
			cluster.Spec{Name: "orders", Namespace: "shop", StorageType: st, StorageClass: "fast", RepoStorageClass: "slow", Cipher: "aes-256-cbc",
				Resources:     cluster.Resources{CPURequest: "500m", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"},
				RepoResources: cluster.Resources{CPURequest: "250m", MemoryLimit: "512Mi"}},
			cluster.Spec{Name: strings.Repeat("x", cluster.MaxNameLength()), Namespace: "pgo", StorageType: st},
		)
	}
	for i := range specs {
		if slices.Contains(specs[i].StorageType, cluster.StorageS3) {
			specs[i].S3 = &cluster.S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca", CredentialsSecret: "s3-keys"}
		}
		if slices.Contains(specs[i].StorageType, cluster.StorageGCS) {
			specs[i].GCS = &cluster.GCSSpec{Bucket: "pg-backups", VerifyTLS: true, CASecret: "gcs-ca", CredentialsSecret: "gcs-key"}
		}
		if slices.Contains(specs[i].StorageType, cluster.StorageAzure) {
			specs[i].Azure = &cluster.AzureSpec{Account: "pgbackups", Container: "pg-backups", VerifyTLS: true, CASecret: "azure-ca", CredentialsSecret: "azure-key"}
		}
	}
	return specs
}

// repoHostDeployment is the Deployment backup Jobs are made from, as the
// backup command gets it: rendered from the settings for an S3-only cluster.
func repoHostDeployment(t *testing.T, spec cluster.Spec) *appsv1.Deployment {
	t.Helper()
	spec.Default()
	d, err := cluster.RepoHostDeployment(spec)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func renderCluster(t *testing.T, spec cluster.Spec) []*unstructured.Unstructured {
	t.Helper()
	spec.Default()
	if err := spec.Validate(); err != nil {
		t.Fatalf("cluster %s: %v", spec.Name, err)
	}
	m := cluster.Material{Password: "p", PKI: cluster.PKI{
		CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"), RepoCert: []byte("c"), RepoKey: []byte("k"),
	}}
	objects, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func typedFrom[T any](t *testing.T, objects []*unstructured.Unstructured, kind string) *T {
	t.Helper()
	for _, obj := range objects {
		if obj.GetKind() == kind {
			out := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no %s rendered", kind)
	return nil
}

var restricted = api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}

// violations runs a pod template through the admission plugin's own checks
// at "restricted", latest, and returns what they forbid.
func violations(t *testing.T, evaluator policy.Evaluator, tmpl corev1.PodTemplateSpec) []string {
	t.Helper()
	var out []string
	for _, r := range evaluator.EvaluatePod(restricted, &tmpl.ObjectMeta, &tmpl.Spec) {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason+": "+r.ForbiddenDetail)
		}
	}
	return out
}

func newEvaluator(t *testing.T) policy.Evaluator {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return evaluator
}

// Every pod template of every renderer passes "restricted", latest.
func TestEveryPodTemplateIsRestricted(t *testing.T) {
	evaluator := newEvaluator(t)
	keys := make([]string, 0, len(renderers))
	for k := range renderers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	checked, bad := 0, 0
	for _, key := range keys {
		objects := renderers[key](t)
		pods := 0
		for _, r := range objects {
			templates, err := PodTemplates(r.obj)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			for _, tmpl := range templates {
				pods++
				checked++
				if v := violations(t, evaluator, tmpl); len(v) > 0 {
					bad += len(v)
					t.Errorf("%s: not restricted: %s", r.name, strings.Join(v, "; "))
				}
				// Least privilege: no pod of the plugin talks to the
				// Kubernetes API, so none gets a token or an account.
				if tok := tmpl.Spec.AutomountServiceAccountToken; tok == nil || *tok {
					t.Errorf("%s: the ServiceAccount token is mounted (automountServiceAccountToken: %v)", r.name, tok)
				}
				if tmpl.Spec.ServiceAccountName != "" {
					t.Errorf("%s: runs as ServiceAccount %s; the default one, without a token, is enough", r.name, tmpl.Spec.ServiceAccountName)
				}
			}
		}
		if pods == 0 {
			t.Errorf("%s rendered no pod template", key)
		}
	}
	t.Logf("%d pod templates from %d renderers checked at %s:%s: %d violations", checked, len(keys), restricted.Level, restricted.Version, bad)
	fmt.Printf("PSS restricted: %d pod templates checked, %d violations\n", checked, bad)
}

// The check above can fail: each of these changes to a rendered template
// is a violation the evaluator reports.
func TestViolationsAreFound(t *testing.T) {
	evaluator := newEvaluator(t)
	base := renderers["jobs.BackupJob.Render"](t)[0]
	templates, err := PodTemplates(base.obj)
	if err != nil || len(templates) != 1 {
		t.Fatalf("%s: %d templates, %v", base.name, len(templates), err)
	}
	for name, mutate := range map[string]func(*corev1.PodSpec){
		"privileged":           func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = ptr.To(true) },
		"privilege escalation": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true) },
		"root allowed": func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = nil
			s.Containers[0].SecurityContext.RunAsNonRoot = ptr.To(false)
		},
		"capability added": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		},
		"host network": func(s *corev1.PodSpec) { s.HostNetwork = true },
		"hostPath volume": func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		},
		"no seccomp profile": func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = nil
			s.Containers[0].SecurityContext.SeccompProfile = nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			tmpl := *templates[0].DeepCopy()
			mutate(&tmpl.Spec)
			if v := violations(t, evaluator, tmpl); len(v) == 0 {
				t.Errorf("%s: no violation reported", name)
			} else {
				t.Logf("%s: %s", name, strings.Join(v, "; "))
			}
		})
	}
	// PodTemplates finds pods wherever they are nested, here in a CronJob.
	cron := map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{
		"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "x", "image": "y"}}}}}}}}
	if got, err := PodTemplates(&unstructured.Unstructured{Object: cron}); err != nil || len(got) != 1 {
		t.Errorf("a CronJob's pod template: %d found, %v", len(got), err)
	}
}

// Pod-carrying result types: a function of pkg/ that returns one of these
// renders pods (or reads them, then it is in notRenderers).
var podTypes = []string{
	"batchv1.Job", "batchv1.CronJob", "batchv1.JobTemplateSpec", "appsv1.StatefulSet", "appsv1.Deployment",
	"appsv1.DaemonSet", "appsv1.ReplicaSet", "corev1.Pod", "corev1.PodSpec", "corev1.PodTemplateSpec", "unstructured.Unstructured",
}

// podRenderers lists the exported functions and methods of pkg/ (outside
// tests) that return a pod-carrying type, as "package.Func" or
// "package.Type.Method".
func podRenderers(t *testing.T) []string {
	t.Helper()
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			name := file.Name.Name + "." + fn.Name.Name
			if fn.Recv != nil {
				recv := string(src[fset.Position(fn.Recv.List[0].Type.Pos()).Offset:fset.Position(fn.Recv.List[0].Type.End()).Offset])
				name = file.Name.Name + "." + strings.TrimPrefix(recv, "*") + "." + fn.Name.Name
			}
			for _, res := range fn.Type.Results.List {
				typ := string(src[fset.Position(res.Type.Pos()).Offset:fset.Position(res.Type.End()).Offset])
				if slices.ContainsFunc(podTypes, func(p string) bool { return strings.TrimLeft(typ, "[]*") == p }) {
					found = append(found, name)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	return slices.Compact(found)
}

// A new renderer cannot be forgotten: every exported function of pkg/ that
// returns a pod-carrying object is either checked above or listed, with the
// reason, as not rendering one; and both lists name only what exists.
func TestRenderersAreAllChecked(t *testing.T) {
	found := podRenderers(t)
	for _, name := range found {
		_, checked := renderers[name]
		_, exempt := notRenderers[name]
		if !checked && !exempt {
			t.Errorf("%s returns a pod-carrying object but is not checked: add it to renderers in %s (or to notRenderers, with the reason)", name, "pss_test.go")
		}
	}
	for name := range renderers {
		if !slices.Contains(found, name) {
			t.Errorf("renderers has %s, which podRenderers does not find", name)
		}
	}
	for name := range notRenderers {
		if !slices.Contains(found, name) {
			t.Errorf("notRenderers has %s, which podRenderers does not find", name)
		}
	}
}
