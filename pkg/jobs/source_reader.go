package jobs

import (
	"bytes"
	_ "embed"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// DefaultSourceReaderDeadline bounds the life of a source reader pod whose
// command was interrupted before it removed the pod.
const DefaultSourceReaderDeadline = 15 * time.Minute

// SourceReaderPodName is the name of the source reader pod of the cluster
// being created.
func SourceReaderPodName(clusterName string) string { return clusterName + "-restore-source" }

// SourceReader is a pod that reads another cluster's S3 repository with
// the files and variables of a restore source Secret, as the restore Job
// will: the checks before create cluster --restore-from applies anything.
type SourceReader struct {
	// Cluster is the cluster being created; Namespace is its namespace.
	Cluster, Namespace string
	Image              string
	// SourceSecret, SourceFiles and SourceEnv are as in RestoreJob.
	SourceSecret string
	SourceFiles  []string
	SourceEnv    []corev1.EnvVar
	// Deadline is DefaultSourceReaderDeadline when zero.
	Deadline time.Duration
}

//go:embed templates/restore-source-pod.yaml
var sourceReaderYAML string

var sourceReaderTemplate = parseTemplate("restore-source-pod.yaml", sourceReaderYAML)

// Render returns the pod.
func (s SourceReader) Render() (*corev1.Pod, error) {
	if s.Cluster == "" || s.Namespace == "" || s.Image == "" || s.SourceSecret == "" {
		return nil, fmt.Errorf("source reader: the cluster, its namespace, the image and the source Secret are required")
	}
	config, err := sourceVolume(s.SourceSecret, s.SourceFiles)
	if err != nil {
		return nil, err
	}
	deadline := positiveOr(s.Deadline, DefaultSourceReaderDeadline)
	var buf bytes.Buffer
	err = sourceReaderTemplate.Execute(&buf, map[string]any{
		"Name": SourceReaderPodName(s.Cluster), "Namespace": s.Namespace, "Image": s.Image,
		"Labels":                cluster.Labels(s.Cluster, ComponentRestore),
		"ActiveDeadlineSeconds": int64(deadline / time.Second),
		"UID":                   postgresUID,
		"Env":                   s.SourceEnv,
		"ConfigDir":             pgbackrestConfigDir,
		"Config":                config.Secret,
	})
	if err != nil {
		return nil, fmt.Errorf("rendering the source reader pod: %w", err)
	}
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(buf.Bytes(), pod); err != nil {
		return nil, fmt.Errorf("rendering the source reader pod: the template does not give a Pod: %w", err)
	}
	return pod, nil
}
