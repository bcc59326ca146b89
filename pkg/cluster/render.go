package cluster

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

//go:embed templates/*.yaml templates/*.tpl templates/files/*
var templateFS embed.FS

// templates holds the object templates (by file name, e.g.
// "statefulset.yaml") and the file templates ("start-postgres.sh").
var templates = template.Must(template.New("").
	Option("missingkey=error").
	Funcs(template.FuncMap{
		"quote": quote,
		"json":  toJSON,
		"b64":   b64,
		"shq":   shellQuote,
	}).
	ParseFS(templateFS, "templates/*.yaml", "templates/*.tpl", "templates/files/*"))

// objectTemplates are rendered in this order, which is also the order to
// apply them in: what a pod mounts exists before the pod.
var objectTemplates = []string{
	"repo-secret.yaml",
	"postgres-secret.yaml",
	"ca-configmap.yaml",
	"settings-configmap.yaml",
	"pgbackrest-configmap.yaml",
	"data-pvc.yaml",
	"repo-pvc.yaml",
	"service.yaml",
	"replicas-service.yaml",
	"instance-service.yaml",
	"statefulset.yaml",
	"repo-deployment.yaml",
	"repo-service.yaml",
}

// localRepoTemplates are the repository host's objects: only a cluster
// with a local repository has them.
var localRepoTemplates = []string{"repo-pvc.yaml", "repo-deployment.yaml", "repo-service.yaml"}

// RepoHostDeployment renders the repository host's Deployment from the
// Spec alone. Backup Jobs are made from it, also when the cluster has no
// local repository and so no such Deployment.
func RepoHostDeployment(spec Spec) (*appsv1.Deployment, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	v, err := newObjectValues(spec, Material{})
	if err != nil {
		return nil, err
	}
	obj, err := renderObject("repo-deployment.yaml", v)
	if err != nil {
		return nil, fmt.Errorf("rendering the repository host: %w", err)
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Render returns the cluster's objects, in the order to apply them. The
// Spec must have been defaulted; it is validated here. The output depends
// only on the arguments, so rendering twice gives the same objects.
//
// The database runs in a StatefulSet of one replica that mounts the data
// PVC by name, not through volumeClaimTemplates: the PVC belongs to the
// cluster (restore Jobs mount it while the StatefulSet is scaled to zero,
// and it outlives the StatefulSet), and a StatefulSet never runs two pods
// on it, where a Deployment's rolling update would start the new pod
// before the old one has stopped.
func Render(spec Spec, m Material) ([]*unstructured.Unstructured, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if spec.CipherSecret != "" {
		// The user's Secret holds the passphrase, never ours.
		m.CipherPass = ""
	}
	v, err := newObjectValues(spec, m)
	if err != nil {
		return nil, err
	}
	objects := make([]*unstructured.Unstructured, 0, len(objectTemplates))
	for _, name := range objectTemplates {
		if !spec.HasLocalRepo() && slices.Contains(localRepoTemplates, name) {
			continue
		}
		each := []objectValues{v}
		if slices.Contains(instanceTemplates, name) {
			each = v.perInstance()
		}
		for _, iv := range each {
			obj, err := renderObject(name, iv)
			if err != nil {
				return nil, fmt.Errorf("rendering %s: %w", name, err)
			}
			objects = append(objects, obj)
		}
	}
	return objects, nil
}

// instanceTemplates are rendered once per instance (Spec.InstanceNames),
// the primary first.
var instanceTemplates = []string{"data-pvc.yaml", "instance-service.yaml", "statefulset.yaml"}

// instanceValues are one instance's part of objectValues.
type instanceValues struct {
	Name, PVC, Role string
	// Pod is its pod's name, and the name of its own Service.
	Pod     string
	Primary bool
	// Selector is its StatefulSet's (InstanceSelector); PodLabels its pod's.
	Selector, PodLabels map[string]string
}

// perInstance returns v once per instance, with Instance set, the primary
// first.
func (v objectValues) perInstance() []objectValues {
	spec := v.Spec
	names := append([]string{spec.PrimaryInstance()}, spec.ReplicaInstances()...)
	out := make([]objectValues, 0, len(names))
	for _, name := range names {
		iv := v
		primary := name == spec.PrimaryInstance()
		iv.Instance = instanceValues{Name: name, PVC: name, Pod: InstancePodName(name), Role: RoleReplica, Primary: primary,
			Selector: InstanceSelector(spec.Name, name), PodLabels: map[string]string{}}
		if primary {
			iv.Instance.Role = RolePrimary
		}
		for k, val := range v.PodLabels.Database {
			// pgBackRest's commands run on the primary (without a
			// repository host), never on a replica.
			if k != LabelPGBackRestCommands || primary {
				iv.Instance.PodLabels[k] = val
			}
		}
		iv.Instance.PodLabels[LabelRole] = iv.Instance.Role
		iv.Instance.PodLabels[LabelInstanceName] = name
		out = append(out, iv)
	}
	return out
}

func renderObject(name string, v objectValues) (*unstructured.Unstructured, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return nil, err
	}
	data, err := yaml.YAMLToJSON(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("the template does not give valid YAML: %w", err)
	}
	obj := &unstructured.Unstructured{}
	// UnmarshalJSON keeps integers as int64, as the rest of client-go expects.
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	if obj.GetName() == "" || obj.GetNamespace() == "" {
		return nil, fmt.Errorf("the object has no name or namespace")
	}
	return obj, nil
}

func (m Material) validate() error {
	p := m.PKI
	for _, v := range [][]byte{p.CACert, p.CAKey, p.DBCert, p.DBKey, p.RepoCert, p.RepoKey} {
		if len(v) == 0 {
			return fmt.Errorf("the TLS material is incomplete: generate it with NewPKI or read it with PKIFromSecret")
		}
	}
	if m.Password == "" {
		return fmt.Errorf("the superuser password is empty")
	}
	return nil
}

// quote makes a YAML string of any text: JSON strings are YAML.
func quote(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// toJSON renders a value inline: JSON is YAML, and json.Marshal sorts map keys.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func b64(v any) (string, error) {
	switch v := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	case string:
		return base64.StdEncoding.EncodeToString([]byte(v)), nil
	default:
		return "", fmt.Errorf("b64: cannot encode %T", v)
	}
}

// shellQuote quotes a string for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// objectValues are what the object templates see.
type objectValues struct {
	Spec      Spec
	Namespace string
	Names     objectNames
	Labels    struct{ Database, Repo, Config map[string]string }
	// PodLabels are the pods': the one that runs pgBackRest's commands
	// carries LabelPGBackRestCommands too.
	PodLabels struct{ Database, Repo map[string]string }

	DatabaseSelector, RepoSelector map[string]string
	// PrimarySelector and ReplicaSelector are the Services'.
	PrimarySelector, ReplicaSelector map[string]string
	// Instance is the instance an instance template is rendered for.
	Instance instanceValues

	Material  Material
	Superuser string
	SpecYAML  string
	Files     map[string]string

	ConfigHashAnnotation               string
	DatabaseConfigHash, RepoConfigHash string
	DatabaseResources, RepoResources   map[string]map[string]string
	// PGBackRestEnv carries the object stores' keys and the repository
	// passphrase from Secrets to every container that runs pgBackRest.
	PGBackRestEnv []corev1.EnvVar

	PGData, PostgresBinDir, BackupInfo                                        string
	PGDataMountPath, RepoMountPath, SocketDir, PGBackRestConfigDir, ConfigDir string
	StandbySourceDir                                                          string
	PostgresPort, ServerPort, UID                                             int
}

type objectNames struct {
	DataPVC, RepoPVC, Service, ReplicasService, StatefulSet, RepoHost        string
	PostgresSecret, RepoConfigSecret, SettingsConfigMap, PGBackRestConfigMap string
	StandbySourceSecret, CAConfigMap                                         string
}

func newObjectValues(spec Spec, m Material) (objectValues, error) {
	c := spec.Name
	files, err := renderFiles(spec)
	if err != nil {
		return objectValues{}, err
	}
	specYAML, err := yaml.Marshal(spec)
	if err != nil {
		return objectValues{}, err
	}
	v := objectValues{
		Spec:      spec,
		Namespace: spec.Namespace,
		Names: objectNames{
			DataPVC: DataPVCName(c), RepoPVC: RepoPVCName(c),
			Service: ServiceName(c), ReplicasService: ReplicasServiceName(c), StatefulSet: StatefulSetName(c), RepoHost: RepoHostName(c),
			PostgresSecret: PostgresSecretName(c), RepoConfigSecret: RepoConfigSecretName(c),
			SettingsConfigMap: SettingsConfigMapName(c), PGBackRestConfigMap: PGBackRestConfigMapName(c),
			StandbySourceSecret: StandbySourceSecretName(c), CAConfigMap: CAConfigMapName(c),
		},
		DatabaseSelector:     DatabaseSelector(c),
		RepoSelector:         RepoSelector(c),
		PrimarySelector:      PrimarySelector(c),
		ReplicaSelector:      ReplicaSelector(c),
		Material:             m,
		Superuser:            Superuser,
		SpecYAML:             string(specYAML),
		Files:                files,
		ConfigHashAnnotation: AnnotationConfigHash,
		DatabaseConfigHash:   filesHash(files, databaseFilesOf(spec)),
		RepoConfigHash:       filesHash(files, repoFiles),
		DatabaseResources:    spec.Resources.requirements(),
		RepoResources:        spec.RepoResources.requirements(),
		PGBackRestEnv:        PGBackRestEnv(spec),
		PGData:               DataDirectory(c),
		PostgresBinDir:       postgresBinDir(spec.PostgresVersion),
		BackupInfo:           spec.RepoPath + "/backup/" + repo.StanzaName + "/backup.info",
		PGDataMountPath:      pgdataMountPath,
		RepoMountPath:        repoMountPath,
		SocketDir:            socketDir,
		PGBackRestConfigDir:  pgbackrestConfigDir,
		ConfigDir:            configDir,
		StandbySourceDir:     standbySourceDir,
		PostgresPort:         postgresPort,
		ServerPort:           repo.ServerPort,
		UID:                  postgresUID,
	}
	v.Labels.Database = Labels(c, ComponentDatabase)
	v.Labels.Repo = Labels(c, ComponentRepo)
	v.Labels.Config = Labels(c, ComponentConfig)
	v.PodLabels.Database, v.PodLabels.Repo = Labels(c, ComponentDatabase), Labels(c, ComponentRepo)
	if spec.HasLocalRepo() {
		v.PodLabels.Repo[LabelPGBackRestCommands] = "true"
	} else {
		v.PodLabels.Database[LabelPGBackRestCommands] = "true"
	}
	return v, nil
}

// requirements is the resources of a container in the shape of
// corev1.ResourceRequirements.
func (r Resources) requirements() map[string]map[string]string {
	req := map[string]map[string]string{}
	set := func(kind, name, value string) {
		if value == "" {
			return
		}
		if req[kind] == nil {
			req[kind] = map[string]string{}
		}
		req[kind][name] = value
	}
	set("requests", "cpu", r.CPURequest)
	set("requests", "memory", r.MemoryRequest)
	set("limits", "cpu", r.CPULimit)
	set("limits", "memory", r.MemoryLimit)
	return req
}

// PGBackRestEnv is the environment that gives pgBackRest the S3 keys, the
// GCS token, the Azure key and the repository passphrase, each from its
// Secret: they are never in a ConfigMap or a command line. A GCS service
// key is a file (the objectStoreFiles template).
func PGBackRestEnv(spec Spec) []corev1.EnvVar {
	var env []corev1.EnvVar
	fromSecret := func(name, secret, key string) {
		env = append(env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key},
		}})
	}
	for _, r := range spec.Repositories() {
		for _, s := range r.Secrets() {
			switch {
			case s.Secret == repo.SecretCipherPass:
				fromSecret(s.Env, spec.PassphraseSecret(), KeyCipherPass)
			case spec.S3 == nil:
			case s.Secret == repo.SecretS3Key:
				fromSecret(s.Env, spec.S3.CredentialsSecret, KeyS3Key)
			case s.Secret == repo.SecretS3KeySecret:
				fromSecret(s.Env, spec.S3.CredentialsSecret, KeyS3KeySecret)
			}
			switch {
			case s.Secret == repo.SecretGCSToken && spec.GCS != nil:
				fromSecret(s.Env, spec.GCS.CredentialsSecret, KeyGCSToken)
			case s.Secret == repo.SecretAzureKey && spec.Azure != nil:
				fromSecret(s.Env, spec.Azure.CredentialsSecret, KeyAzureKey)
			}
		}
	}
	return env
}
