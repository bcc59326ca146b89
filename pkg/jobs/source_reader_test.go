package jobs

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// sourceEnvOf is the source's S3 keys, as create cluster --restore-from
// gives them.
func sourceEnvOf(secret string) []corev1.EnvVar {
	ref := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
	}
	return []corev1.EnvVar{ref("PGBACKREST_REPO1_S3_KEY", SourceKeyS3Key), ref("PGBACKREST_REPO1_S3_KEY_SECRET", SourceKeyS3KeySecret)}
}

// The keys of the pgBackRest variables of a container: what refers to
// Secret name/key.
func envRefs(env []corev1.EnvVar) map[string][]string {
	refs := map[string][]string{}
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = append(refs[e.Name], e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key)
		}
	}
	return refs
}

func TestSourceReader(t *testing.T) {
	tests := []struct {
		name    string
		r       SourceReader
		want    string // an error, or "" for a pod
		items   []string
		timeout int64
	}{
		{name: "config and CA", r: SourceReader{Cluster: "new", Namespace: "pgo", Image: "img", SourceSecret: "new-restore-source",
			SourceFiles: []string{SourceKeyConfig, SourceKeyS3CA}, SourceEnv: sourceEnvOf("new-restore-source")},
			items: []string{"pgbackrest.conf", "s3/ca.crt"}, timeout: 900},
		{name: "deadline", r: SourceReader{Cluster: "new", Namespace: "pgo", Image: "img", SourceSecret: "s", SourceFiles: []string{SourceKeyConfig}, Deadline: time.Minute},
			items: []string{"pgbackrest.conf"}, timeout: 60},
		{name: "no Secret", r: SourceReader{Cluster: "new", Namespace: "pgo", Image: "img"}, want: "the source Secret are required"},
		{name: "not a file", r: SourceReader{Cluster: "new", Namespace: "pgo", Image: "img", SourceSecret: "s", SourceFiles: []string{SourceKeyS3Key}},
			want: `"s3-key" is not a file of it`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod, err := tc.r.Render()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pod.Name != "new-restore-source" || pod.Namespace != "pgo" || pod.Labels[cluster.LabelCluster] != "new" ||
				pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds != tc.timeout {
				t.Errorf("pod %s/%s, labels %v, deadline %v", pod.Namespace, pod.Name, pod.Labels, pod.Spec.ActiveDeadlineSeconds)
			}
			var items []string
			for _, v := range pod.Spec.Volumes {
				if v.Secret != nil {
					for _, it := range v.Secret.Items {
						items = append(items, it.Path)
					}
				}
			}
			if strings.Join(items, ",") != strings.Join(tc.items, ",") {
				t.Errorf("mounted %v, want %v", items, tc.items)
			}
			c := pod.Spec.Containers[0]
			if got := envRefs(c.Env); len(tc.r.SourceEnv) > 0 && got["PGBACKREST_REPO1_S3_KEY"][0] != "new-restore-source/"+SourceKeyS3Key {
				t.Errorf("env %v", got)
			}
			if c.VolumeMounts[0].MountPath != pgbackrestConfigDir {
				t.Errorf("mounts %+v", c.VolumeMounts)
			}
		})
	}
}

// Restoring from another cluster's S3 repository: its files and keys
// from the source Secret, and none of the cluster's own pgBackRest
// variables (its own S3 keys would read its own bucket path).
func TestRestoreJobS3Source(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "backups", Endpoint: "s3:9000", CASecret: "ca"}, Cipher: "aes-256-cbc"}
	sts := renderedStatefulSetOf(t, spec)
	if refs := envRefs(sts.Spec.Template.Spec.Containers[0].Env); len(refs["PGBACKREST_REPO1_S3_KEY"]) != 1 || len(refs["PGBACKREST_REPO1_CIPHER_PASS"]) != 1 {
		t.Fatalf("the database container has no pgBackRest variables to replace: %v", refs)
	}
	opts, err := repo.ParseRestoreOptions("")
	if err != nil {
		t.Fatal(err)
	}
	job, err := RestoreJob{
		Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo", Options: opts,
		ExtraArgs: []string{"--pg1-path=/pgdata/hippo"}, SourceSecret: "hippo-restore-source",
		SourceFiles: []string{SourceKeyConfig, SourceKeyS3CA}, SourceEnv: sourceEnvOf("hippo-restore-source"),
		Recover: true, PostgresBinDir: "/usr/lib/postgresql/15/bin", PasswordFile: "/etc/kubectl-pgo/password", Superuser: "postgres",
	}.Render()
	if err != nil {
		t.Fatal(err)
	}
	c := job.Spec.Template.Spec.Containers[0]
	refs := envRefs(c.Env)
	if got := refs["PGBACKREST_REPO1_S3_KEY"]; len(got) != 1 || got[0] != "hippo-restore-source/"+SourceKeyS3Key {
		t.Errorf("PGBACKREST_REPO1_S3_KEY from %v, want the source Secret only", got)
	}
	if got := refs["PGBACKREST_REPO1_CIPHER_PASS"]; len(got) != 0 {
		t.Errorf("the cluster's own passphrase is still given: %v", got)
	}
	var items []string
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "hippo-restore-source" {
			for _, it := range v.Secret.Items {
				items = append(items, it.Key+"="+it.Path)
			}
		}
	}
	if got, want := strings.Join(items, ","), "pgbackrest.conf=pgbackrest.conf,s3-ca.crt=s3/ca.crt"; got != want {
		t.Errorf("source Secret items %s, want %s", got, want)
	}
}

// The reader pod of an S3 source, as a golden file (go test -update).
func TestSourceReaderGolden(t *testing.T) {
	pod, err := SourceReader{Cluster: "new", Namespace: "pgo", Image: cluster.DefaultImage, SourceSecret: "new-restore-source",
		SourceFiles: []string{SourceKeyConfig, SourceKeyS3CA}, SourceEnv: sourceEnvOf("new-restore-source")}.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "restore-source-pod.yaml", pod)
}
