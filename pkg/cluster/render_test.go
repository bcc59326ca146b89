package cluster

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testMaterial is fixed stand-in material: Render copies it as it is, so
// the golden files need no real (random) keys.
func testMaterial() Material {
	return Material{
		PKI: PKI{
			CACert: []byte("test ca.crt\n"), CAKey: []byte("test ca.key\n"),
			DBCert: []byte("test db.crt\n"), DBKey: []byte("test db.key\n"),
			RepoCert: []byte("test repo.crt\n"), RepoKey: []byte("test repo.key\n"),
		},
		Password: "test-password", ReplicationPassword: "test-replication-password",
		S3Key: "test-s3-key", S3KeySecret: "test-s3-key-secret",
		CipherPass: "test-cipher-pass",
	}
}

// longName is a valid name of the longest length allowed.
func longName() string {
	name := "a-long-cluster-name-"
	for len(name) < MaxNameLength() {
		name += "x"
	}
	return name
}

// goldenSpecs are the flag sets of the golden files, before Default.
func goldenSpecs() map[string]Spec {
	return map[string]Spec{
		"defaults": {Name: "hippo", Namespace: "pgo"},
		"replicas": {Name: "hippo", Namespace: "pgo", Replicas: 2, ReplicaBootstrap: "20261204-105910F"},
		"custom": {
			Name:              "orders",
			Namespace:         "shop",
			Image:             "registry.example.com/kubectl-pgo/postgres:15.8",
			StorageSize:       "20Gi",
			StorageClass:      "fast-ssd",
			RepoPVCSize:       "51200Mi",
			RepoStorageClass:  "standard",
			StorageType:       []StorageType{"posix"},
			RetentionFull:     7,
			RetentionFullType: " Time ",
			RetentionDiff:     3,
			Resources:         Resources{CPURequest: "500m", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"},
			RepoResources:     Resources{CPURequest: "250m", CPULimit: "3", MemoryRequest: "128Mi", MemoryLimit: "512Mi"},
		},
		"long-name": {Name: longName(), Namespace: "a-namespace"},
		// S3 alone: no repository host, its PVC or Service; the keys
		// given as flags and a passphrase in the repository Secret.
		"s3": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"s3"}, Cipher: "aes-256-cbc",
			S3: &S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca"},
		},
		// S3 alone, encrypted with the user's passphrase Secret: the
		// pods read it from there, the repository Secret has none.
		"s3-own-passphrase": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"s3"}, Cipher: "aes-256-cbc", CipherSecret: "hippo-passphrase",
			S3: &S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca"},
		},
		// Asynchronous archiving with both queues bounded, and four
		// processes from the CPU limit: db.conf only.
		"archive-async": {
			Name: "hippo", Namespace: "pgo", Resources: Resources{CPULimit: "4"},
			ArchiveAsync: &ArchiveAsyncSpec{PushQueueMax: "512Mi", GetQueueMax: "256Mi"},
		},
		// PostgreSQL 17 (the project's image of it), with block
		// incremental backups in both repositories, as a new cluster of 17
		// gets them.
		"postgres17": {
			Name: "hippo", Namespace: "pgo", PostgresVersion: 17, BlockIncremental: true, StorageType: []StorageType{"local", "s3"},
			S3: &S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca"},
		},
		// Both: repo1 on the repository host, repo2 in the user's bucket
		// with the user's credentials Secret.
		"local-s3": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"local", "s3"},
			S3: &S3Spec{Bucket: "pg-backups", Endpoint: "s3.eu-west-1.amazonaws.com", Region: "eu-west-1", VerifyTLS: true, CredentialsSecret: "aws-keys"},
		},
		// GCS alone: the service key and the CA mounted, no repository
		// host.
		"gcs": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"gcs"},
			GCS: &GCSSpec{Bucket: "pg-backups", Endpoint: "gcs.example:4443", VerifyTLS: true, CredentialsSecret: "gcs-key", CASecret: "gcs-ca", UploadChunkSize: "32Mi"},
		},
		// Azure alone, with a SAS token and path-style URIs.
		"azure": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"azure"}, Cipher: "aes-256-cbc",
			Azure: &AzureSpec{Account: "pgbackups", Container: "pg-backups", Endpoint: "azure.example:10000", URIStyle: "path", KeyType: "sas",
				VerifyTLS: true, CredentialsSecret: "azure-key", CASecret: "azure-ca"},
		},
		// Four repositories: local, s3, gcs with a token, azure with a
		// shared key.
		"local-s3-gcs-azure": {
			Name: "hippo", Namespace: "pgo", StorageType: []StorageType{"local", "s3", "gcs", "azure"},
			S3:    &S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca"},
			GCS:   &GCSSpec{Bucket: "pg-backups", KeyType: "token", VerifyTLS: true, CredentialsSecret: "gcs-token"},
			Azure: &AzureSpec{Account: "pgbackups", Container: "pg-backups", VerifyTLS: true, CredentialsSecret: "azure-key"},
		},
		// A standby of cluster hippo, with an S3 repository of its own:
		// the source's Secret mounted, the standby branch of the start
		// script (streaming from hippo's Service too), and stanza-create
		// --no-online beside the database.
		"standby": {
			Name: "dr", Namespace: "pgo-dr", StorageType: []StorageType{"s3"},
			S3:      &S3Spec{Bucket: "pg-backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca"},
			Standby: &StandbySpec{Source: "hippo", SourceNamespace: "pgo", Host: "hippo.pgo.svc:5432"},
		},
	}
}

func renderSpec(t *testing.T, s Spec) []*unstructured.Unstructured {
	t.Helper()
	s.Default()
	objects, err := Render(s, testMaterial())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return objects
}

// toYAML is the multi-document YAML of the objects, keys sorted.
func toYAML(t *testing.T, objects []*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, obj := range objects {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for name, spec := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			got := toYAML(t, renderSpec(t, spec))
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/cluster -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the objects differ from %s (%s); if the change is intended, run go test ./pkg/cluster -update and review the diff",
					path, firstDifference(got, want))
			}
		})
	}
}

// firstDifference describes the first line where got and want differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl, wl)
		}
	}
	return "no difference"
}

func TestRenderIsDeterministic(t *testing.T) {
	spec := goldenSpecs()["custom"]
	first := toYAML(t, renderSpec(t, spec))
	for i := 0; i < 5; i++ {
		if again := toYAML(t, renderSpec(t, spec)); !bytes.Equal(first, again) {
			t.Fatal("two renders of the same Spec differ")
		}
	}
}

func TestRenderOrderAndNames(t *testing.T) {
	want := []string{
		"Secret/hippo-backrest-repo-config",
		"Secret/hippo-postgres-secret",
		"ConfigMap/hippo-ca",
		"ConfigMap/hippo-pgo-config",
		"ConfigMap/hippo-pgbackrest-config",
		"PersistentVolumeClaim/hippo",
		"PersistentVolumeClaim/hippo-pgbr-repo",
		"Service/hippo",
		"Service/hippo-replicas",
		"Service/hippo-0",
		"StatefulSet/hippo",
		"Deployment/hippo-backrest-shared-repo",
		"Service/hippo-backrest-shared-repo",
	}
	objects := renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"})
	if len(objects) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objects), len(want))
	}
	for i, obj := range objects {
		if got := obj.GetKind() + "/" + obj.GetName(); got != want[i] {
			t.Errorf("object %d is %s, want %s", i, got, want[i])
		}
		if obj.GetNamespace() != "pgo" {
			t.Errorf("%s is in namespace %q", want[i], obj.GetNamespace())
		}
		labels := obj.GetLabels()
		for k, v := range map[string]string{
			LabelCluster: "hippo", LabelInstance: "hippo", LabelName: "postgres", LabelManagedBy: "kubectl-pgo",
		} {
			if labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", want[i], k, labels[k], v)
			}
		}
		if labels[LabelComponent] == "" {
			t.Errorf("%s has no %s label", want[i], LabelComponent)
		}
	}
}

// typed converts the objects to their API types, refusing unknown fields:
// a typo in a template fails here.
func typed(t *testing.T, objects []*unstructured.Unstructured) (map[string]*corev1.ConfigMap, map[string]*corev1.Secret, []*corev1.PodTemplateSpec, []runtime.Object) {
	t.Helper()
	configMaps := map[string]*corev1.ConfigMap{}
	secrets := map[string]*corev1.Secret{}
	var pods []*corev1.PodTemplateSpec
	var all []runtime.Object
	for _, obj := range objects {
		var into runtime.Object
		switch obj.GetKind() {
		case "Secret":
			s := &corev1.Secret{}
			secrets[obj.GetName()] = s
			into = s
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			configMaps[obj.GetName()] = cm
			into = cm
		case "PersistentVolumeClaim":
			into = &corev1.PersistentVolumeClaim{}
		case "Service":
			into = &corev1.Service{}
		case "StatefulSet":
			sts := &appsv1.StatefulSet{}
			pods = append(pods, &sts.Spec.Template)
			into = sts
		case "Deployment":
			d := &appsv1.Deployment{}
			pods = append(pods, &d.Spec.Template)
			into = d
		default:
			t.Fatalf("unexpected kind %s", obj.GetKind())
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, into, true); err != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		all = append(all, into)
	}
	return configMaps, secrets, pods, all
}

func TestRenderedObjectsAreValidTypes(t *testing.T) {
	for name, spec := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			typed(t, renderSpec(t, spec))
		})
	}
}

// Every key a pod projects must exist in the ConfigMap or Secret, or the
// pod would never start.
func TestProjectedKeysExist(t *testing.T) {
	configMaps, secrets, pods, _ := typed(t, renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}))
	for _, pod := range pods {
		for _, vol := range pod.Spec.Volumes {
			if vol.Projected == nil {
				continue
			}
			if mode := vol.Projected.DefaultMode; mode == nil || *mode != 0o440 {
				t.Errorf("volume %s: defaultMode %v, want 0440", vol.Name, mode)
			}
			for _, src := range vol.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					cm := configMaps[src.ConfigMap.Name]
					if cm == nil {
						t.Fatalf("volume %s: no ConfigMap %s", vol.Name, src.ConfigMap.Name)
					}
					for _, item := range src.ConfigMap.Items {
						if _, ok := cm.Data[item.Key]; !ok {
							t.Errorf("volume %s: ConfigMap %s has no key %s", vol.Name, cm.Name, item.Key)
						}
					}
				case src.Secret != nil:
					s := secrets[src.Secret.Name]
					if s == nil {
						t.Fatalf("volume %s: no Secret %s", vol.Name, src.Secret.Name)
					}
					for _, item := range src.Secret.Items {
						if _, ok := s.Data[item.Key]; !ok {
							t.Errorf("volume %s: Secret %s has no key %s", vol.Name, s.Name, item.Key)
						}
					}
				}
			}
		}
	}
}

func TestRenderStorageClassOnlyWhenGiven(t *testing.T) {
	for _, tc := range []struct {
		name       string
		spec       Spec
		data, repo string
	}{
		{"none", Spec{Name: "hippo", Namespace: "pgo"}, "", ""},
		{"both", Spec{Name: "hippo", Namespace: "pgo", StorageClass: "fast", RepoStorageClass: "slow"}, "fast", "slow"},
		{"repo only", Spec{Name: "hippo", Namespace: "pgo", RepoStorageClass: "slow"}, "", "slow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			classes := map[string]string{}
			for _, obj := range renderSpec(t, tc.spec) {
				if obj.GetKind() != "PersistentVolumeClaim" {
					continue
				}
				class, found, _ := unstructured.NestedString(obj.Object, "spec", "storageClassName")
				if found && class == "" {
					t.Errorf("PVC %s has an empty storageClassName, which disables dynamic provisioning", obj.GetName())
				}
				classes[obj.GetName()] = class
			}
			if classes["hippo"] != tc.data || classes["hippo-pgbr-repo"] != tc.repo {
				t.Errorf("storage classes %v, want data %q and repo %q", classes, tc.data, tc.repo)
			}
		})
	}
}

func TestRenderRefusesInvalidInput(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()
	if _, err := Render(spec, Material{}); err == nil || !strings.Contains(err.Error(), "TLS material") {
		t.Errorf("Render without material: err = %v", err)
	}
	bad := spec
	bad.Name = "Hippo"
	if _, err := Render(bad, testMaterial()); err == nil {
		t.Error("Render accepted an invalid name")
	}
}

// The start scripts parse as bash.
func TestScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	spec := goldenSpecs()["custom"]
	spec.Default()
	files, err := renderFiles(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FileStartPostgres, FileStartRepo} {
		cmd := exec.Command(bash, "-n")
		cmd.Stdin = strings.NewReader(files[name])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v\n%s", name, err, out)
		}
	}
}

// With replicas, each instance is a StatefulSet of its own with its own PVC: the primary's
// pod alone carries the primary role (and the pgBackRest commands label without a repository
// host), each replica's the replica role, the selectors tell the instances apart, and every
// pod prefers a node without another instance.
func TestReplicaInstances(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo", Replicas: 2, StorageType: []StorageType{StorageS3},
		S3: &S3Spec{Bucket: "backups", Endpoint: "s3.example.com"}, Primary: "hippo-r1"}
	_, _, _, all := typed(t, renderSpec(t, spec))
	var sets []*appsv1.StatefulSet
	pvcs := map[string]bool{}
	for _, obj := range all {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			sets = append(sets, o)
		case *corev1.PersistentVolumeClaim:
			pvcs[o.Name] = true
		}
	}
	if len(sets) != 3 || sets[0].Name != "hippo-r1" || sets[1].Name != "hippo" || sets[2].Name != "hippo-r2" {
		t.Fatalf("StatefulSets %v, want hippo-r1 (the primary) first, then hippo and hippo-r2", names(sets))
	}
	for i, o := range sets {
		pod := o.Spec.Template
		wantRole := RoleReplica
		if i == 0 {
			wantRole = RolePrimary
		}
		if pod.Labels[LabelRole] != wantRole || pod.Labels[LabelInstanceName] != o.Name {
			t.Errorf("%s: pod labels %v, want role %s and instance %s", o.Name, pod.Labels, wantRole, o.Name)
		}
		if _, ok := pod.Labels[LabelPGBackRestCommands]; ok != (i == 0) {
			t.Errorf("%s: pgBackRest commands label %v, want it on the primary only", o.Name, ok)
		}
		if claim := volumeClaim(pod.Spec, "pgdata"); claim != o.Name || !pvcs[claim] {
			t.Errorf("%s mounts PVC %q (rendered: %v), want its own", o.Name, claim, pvcs[claim])
		}
		if !labelsMatch(o.Spec.Selector.MatchLabels, pod.Labels) {
			t.Errorf("%s: the selector does not select its pod", o.Name)
		}
		for _, other := range sets {
			if other != o && o.Name != "hippo" && labelsMatch(o.Spec.Selector.MatchLabels, other.Spec.Template.Labels) {
				t.Errorf("%s's selector selects %s's pod", o.Name, other.Name)
			}
		}
		a := pod.Spec.Affinity
		if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
			t.Errorf("%s: affinity %+v, want a preferred anti-affinity per node", o.Name, a)
		}
		cmd := strings.Join(pod.Spec.Containers[1].Command, " ")
		if wantServer := i > 0; strings.HasSuffix(cmd, "pgbackrest server") != wantServer {
			t.Errorf("%s: pgbackrest container runs %q; a replica runs the server only, the primary (no repository host) creates the stanza", o.Name, cmd)
		}
	}
	if len(pvcs) != 3 {
		t.Errorf("PVCs %v, want one per instance", pvcs)
	}
}

func names(sets []*appsv1.StatefulSet) []string {
	var out []string
	for _, s := range sets {
		out = append(out, s.Name)
	}
	return out
}

// What the database StatefulSet and the repository Deployment promise.
func TestWorkloads(t *testing.T) {
	_, _, _, all := typed(t, renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}))
	for _, obj := range all {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			if *o.Spec.Replicas != 1 || o.Spec.ServiceName != "hippo" || len(o.Spec.VolumeClaimTemplates) != 0 {
				t.Errorf("StatefulSet: replicas %d, serviceName %q, %d claim templates", *o.Spec.Replicas, o.Spec.ServiceName, len(o.Spec.VolumeClaimTemplates))
			}
			if claim := volumeClaim(o.Spec.Template.Spec, "pgdata"); claim != "hippo" {
				t.Errorf("StatefulSet mounts PVC %q, want hippo", claim)
			}
			if got := containerNames(o.Spec.Template.Spec); got != "database,pgbackrest" {
				t.Errorf("StatefulSet containers %s", got)
			}
			if !labelsMatch(o.Spec.Selector.MatchLabels, o.Spec.Template.Labels) {
				t.Error("the StatefulSet's selector does not select its pods")
			}
		case *appsv1.Deployment:
			if *o.Spec.Replicas != 1 || o.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("Deployment: replicas %d, strategy %s", *o.Spec.Replicas, o.Spec.Strategy.Type)
			}
			if claim := volumeClaim(o.Spec.Template.Spec, "repo"); claim != "hippo-pgbr-repo" {
				t.Errorf("Deployment mounts PVC %q, want hippo-pgbr-repo", claim)
			}
			if !labelsMatch(o.Spec.Selector.MatchLabels, o.Spec.Template.Labels) {
				t.Error("the Deployment's selector does not select its pods")
			}
		case *corev1.Service:
			want := map[string]labels.Set{"hippo": PrimarySelector("hippo"), "hippo-replicas": ReplicaSelector("hippo"),
				RepoHostName("hippo"): RepoSelector("hippo"), "hippo-0": {"statefulset.kubernetes.io/pod-name": "hippo-0"}}[o.Name]
			if !labelsMatch(o.Spec.Selector, want) || len(o.Spec.Selector) != len(want) {
				t.Errorf("Service %s selects %v, want %v", o.Name, o.Spec.Selector, want)
			}
		}
	}
}

func volumeClaim(pod corev1.PodSpec, volume string) string {
	for _, v := range pod.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

func containerNames(pod corev1.PodSpec) string {
	var names []string
	for _, c := range pod.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// labelsMatch tells whether every label of selector is in labels.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// From the network, PostgreSQL takes TLS only: every host line of
// pg_hba.conf rejects, and the others are hostssl or local.
func TestHBAAcceptsOnlyTLS(t *testing.T) {
	spec := Spec{Name: "hippo", Namespace: "pgo"}
	spec.Default()
	files, err := renderFiles(spec)
	if err != nil {
		t.Fatal(err)
	}
	hostssl := 0
	for _, line := range strings.Split(files[FileHBAConf], "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "local":
		case "hostssl":
			hostssl++
		case "host":
			if fields[len(fields)-1] != "reject" {
				t.Errorf("pg_hba.conf accepts clear text: %q", line)
			}
		default:
			t.Errorf("pg_hba.conf has %q", line)
		}
	}
	if hostssl == 0 {
		t.Error("pg_hba.conf has no hostssl line")
	}
}
