package jobs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The secret values of accessSpecs' clusters: in their Secrets only.
var accessSecretValues = []string{"flag key", "flag secret", "the passphrase"}

// accessSpecs are a cluster of every storage type × where the S3 keys come
// from (flags, kept in the repository Secret, or a Secret of the user's) ×
// cipher, with the material create cluster would give it.
func accessSpecs() map[string]struct {
	spec cluster.Spec
	m    cluster.Material
} {
	out := map[string]struct {
		spec cluster.Spec
		m    cluster.Material
	}{}
	for _, storage := range [][]cluster.StorageType{{cluster.StorageLocal}, {cluster.StorageS3}, {cluster.StorageLocal, cluster.StorageS3},
		{cluster.StorageGCS}, {cluster.StorageAzure}, {cluster.StorageLocal, cluster.StorageGCS, cluster.StorageAzure},
		{cluster.StorageLocal, cluster.StorageS3, cluster.StorageGCS, cluster.StorageAzure}} {
		for _, keys := range []string{"flags", "secret"} {
			if keys == "secret" && !slices.Contains(storage, cluster.StorageS3) {
				continue
			}
			gcsKeyTypes := []string{repo.GCSKeyService}
			if slices.Contains(storage, cluster.StorageGCS) {
				gcsKeyTypes = append(gcsKeyTypes, repo.GCSKeyToken)
			}
			for _, gcsKey := range gcsKeyTypes {
				for _, cipher := range []string{"", repo.CipherAES256} {
					spec := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: storage, Cipher: cipher}
					m := cluster.Material{PKI: cluster.PKI{CACert: []byte("ca"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
						RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p", CipherPass: "the passphrase"}
					if slices.Contains(storage, cluster.StorageS3) {
						spec.S3 = &cluster.S3Spec{Bucket: "backups", Endpoint: "s3.pgo.svc:9000", VerifyTLS: true, CASecret: "s3-ca"}
						if keys == "secret" {
							spec.S3.CredentialsSecret = "s3-keys"
						} else {
							m.S3Key, m.S3KeySecret = "flag key", "flag secret"
						}
					}
					if slices.Contains(storage, cluster.StorageGCS) {
						spec.GCS = &cluster.GCSSpec{Bucket: "backups", Endpoint: "gcs.pgo.svc:4443", KeyType: gcsKey, VerifyTLS: true, CredentialsSecret: "gcs-key", CASecret: "gcs-ca"}
					}
					if slices.Contains(storage, cluster.StorageAzure) {
						spec.Azure = &cluster.AzureSpec{Account: "acct", Container: "backups", Endpoint: "azure.pgo.svc:10000", URIStyle: "path",
							VerifyTLS: true, CredentialsSecret: "azure-key", CASecret: "azure-ca"}
					}
					spec = fakecluster.Defaulted(spec)
					out[fmt.Sprintf("%v, keys as %s, cipher %q, gcs key %s", spec.StorageType, keys, cipher, gcsKey)] = struct {
						spec cluster.Spec
						m    cluster.Material
					}{spec, m}
				}
			}
		}
	}
	return out
}

// Every pod that runs pgBackRest for a cluster of every storage type ×
// where its keys come from × cipher has what pgBackRest needs for each of
// its repositories, from Secrets: the database pod's containers
// (archive-push, in-place restore, and verify without a repository host),
// the repository host (verify, backup), the in-place restore Job (from
// the default repository and from each one), the backup Job and the
// schedule's CronJob.
func TestRepositoryAccessCombinations(t *testing.T) {
	for name, c := range accessSpecs() {
		t.Run(name, func(t *testing.T) {
			objects, err := cluster.Render(c.spec, c.m)
			if err != nil {
				t.Fatal(err)
			}
			var sts *appsv1.StatefulSet
			var deploy *appsv1.Deployment
			for _, obj := range objects {
				switch obj.GetKind() {
				case "StatefulSet":
					sts = &appsv1.StatefulSet{}
					err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, sts)
				case "Deployment":
					deploy = &appsv1.Deployment{}
					err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, deploy)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if deploy == nil {
				// S3 only: backup Jobs are made from the template alone.
				if deploy, err = cluster.RepoHostDeployment(c.spec); err != nil {
					t.Fatal(err)
				}
			}
			type pod struct {
				what, container string
				spec            corev1.PodSpec
			}
			pods := []pod{
				{"database container", databaseContainer, sts.Spec.Template.Spec},
				{"database pod's pgbackrest container", pgbackrestContainer, sts.Spec.Template.Spec},
				{"repository host", RepoHostContainer, deploy.Spec.Template.Spec},
			}
			repos := c.spec.Repositories()
			for _, n := range append([]int{0}, indexes(repos)...) {
				job, err := RestoreJob{Cluster: "hippo", Namespace: "pgo", Database: sts, PGData: "/pgdata/hippo",
					Options: repo.RestoreOptions{Repo: n}}.Render()
				if err != nil {
					t.Fatal(err)
				}
				pods = append(pods, pod{fmt.Sprintf("restore Job (--repo=%d)", n), RestoreContainer, job.Spec.Template.Spec})
				backup, err := BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: deploy, Type: "full", Repo: n}.Render()
				if err != nil {
					t.Fatal(err)
				}
				pods = append(pods, pod{fmt.Sprintf("backup Job (--repo=%d)", n), RepoHostContainer, backup.Spec.Template.Spec})
				cj, err := Schedule{Name: "hippo-pgbackrest-full", Cluster: "hippo", Namespace: "pgo", Cron: "0 1 * * *",
					Type: BackupTypePGBackRest, Job: backup}.Render()
				if err != nil {
					t.Fatal(err)
				}
				pods = append(pods, pod{fmt.Sprintf("schedule CronJob (--repo=%d)", n), RepoHostContainer, cj.Spec.JobTemplate.Spec.Template.Spec})
			}
			for _, p := range pods {
				if err := CheckRepositoryAccess(p.spec, p.container, repos); err != nil {
					t.Errorf("%s: %v", p.what, err)
				}
				text := fmt.Sprintf("%+v", p.spec)
				for _, v := range accessSecretValues {
					if strings.Contains(text, v) {
						t.Errorf("%s holds the secret %q in plain text", p.what, v)
					}
				}
			}
		})
	}
}

func indexes(repos []repo.Repository) []int {
	var out []int
	for _, r := range repos {
		out = append(out, r.Index)
	}
	return out
}

// What reads a source's repositories from the restore source Secret.
func TestNewSourceAccess(t *testing.T) {
	local := repo.Repository{Index: 1, Type: repo.Posix, Path: "/r", Cipher: repo.CipherAES256}
	s3 := repo.Repository{Index: 2, Type: repo.S3, Path: "/r", S3: &repo.S3Location{Bucket: "b", Endpoint: "e", CAFile: cluster.S3CAFile}}
	tests := []struct {
		name  string
		repos []repo.Repository
		files []string
		env   []string
	}{
		{"local, encrypted", []repo.Repository{local}, []string{SourceKeyConfig, SourceKeyCACert, SourceKeyCert, SourceKeyKey},
			[]string{"PGBACKREST_REPO1_CIPHER_PASS=cipher-pass"}},
		{"local and s3", []repo.Repository{local, s3}, []string{SourceKeyConfig, SourceKeyCACert, SourceKeyCert, SourceKeyKey, SourceKeyS3CA},
			[]string{"PGBACKREST_REPO1_CIPHER_PASS=cipher-pass", "PGBACKREST_REPO2_S3_KEY=s3-key", "PGBACKREST_REPO2_S3_KEY_SECRET=s3-key-secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewSourceAccess("src", tc.repos)
			if !slices.Equal(a.Files, tc.files) {
				t.Errorf("files %v, want %v", a.Files, tc.files)
			}
			var env []string
			for _, e := range a.Env {
				if e.ValueFrom.SecretKeyRef.Name != "src" {
					t.Errorf("%s is from Secret %s", e.Name, e.ValueFrom.SecretKeyRef.Name)
				}
				env = append(env, e.Name+"="+e.ValueFrom.SecretKeyRef.Key)
			}
			if !slices.Equal(env, tc.env) {
				t.Errorf("env %v, want %v", env, tc.env)
			}
			data := map[string][]byte{}
			for _, k := range a.Keys() {
				data[k] = []byte("x")
			}
			if m := a.Missing(data); len(m) != 0 {
				t.Errorf("missing %v with every key", m)
			}
			delete(data, SourceKeyCipherPass)
			data[SourceKeyConfig] = nil
			if m := a.Missing(data); !slices.Equal(m, []string{SourceKeyConfig, SourceKeyCipherPass}) {
				t.Errorf("missing %v, want the config and the passphrase", m)
			}
		})
	}
}

// CheckRepositoryAccess names what pgBackRest would miss.
func TestCheckRepositoryAccessRefuses(t *testing.T) {
	repos := []repo.Repository{
		{Index: 1, Type: repo.Posix, Path: "/r"},
		{Index: 2, Type: repo.S3, Path: "/r", Cipher: repo.CipherAES256, S3: &repo.S3Location{Bucket: "b", Endpoint: "e", CAFile: "/etc/pgbackrest/s3/ca.crt"}},
	}
	access := NewSourceAccess("src", repos)
	complete := func() corev1.PodSpec {
		source, err := sourceVolume("src", access.Files)
		if err != nil {
			t.Fatal(err)
		}
		return corev1.PodSpec{
			Containers: []corev1.Container{{Name: "pgbackrest", Env: slices.Clone(access.Env),
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/pgbackrest"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: source}},
		}
	}
	if err := CheckRepositoryAccess(complete(), "pgbackrest", repos); err != nil {
		t.Fatalf("complete pod: %v", err)
	}
	tests := []struct {
		name   string
		change func(*corev1.PodSpec)
		want   string
	}{
		{"no container", func(p *corev1.PodSpec) { p.Containers[0].Name = "other" }, "no container pgbackrest"},
		{"no key", func(p *corev1.PodSpec) { p.Containers[0].Env = p.Containers[0].Env[1:] },
			"repo2 (s3) has no PGBACKREST_REPO2_S3_KEY from a Secret (repo2-s3-key)"},
		{"key in plain text", func(p *corev1.PodSpec) {
			p.Containers[0].Env[0] = corev1.EnvVar{Name: "PGBACKREST_REPO2_S3_KEY", Value: "plain"}
		}, "repo2 (s3) has no PGBACKREST_REPO2_S3_KEY from a Secret"},
		{"no passphrase", func(p *corev1.PodSpec) { p.Containers[0].Env = p.Containers[0].Env[:2] },
			"repo2 (s3) has no PGBACKREST_REPO2_CIPHER_PASS from a Secret (repo2-cipher-pass)"},
		{"no CA", func(p *corev1.PodSpec) { p.Volumes[0].Secret.Items = p.Volumes[0].Secret.Items[:4] },
			"repo2 (s3) has no S3 CA file /etc/pgbackrest/s3/ca.crt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := complete()
			tc.change(&p)
			err := CheckRepositoryAccess(p, "pgbackrest", repos)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
