package jobs

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// sourceKeyOf is the key of a restore source Secret that holds a
// repository secret.
var sourceKeyOf = map[repo.Secret]string{
	repo.SecretS3Key:       SourceKeyS3Key,
	repo.SecretS3KeySecret: SourceKeyS3KeySecret,
	repo.SecretCipherPass:  SourceKeyCipherPass,
	repo.SecretGCSToken:    SourceKeyGCSToken,
	repo.SecretAzureKey:    SourceKeyAzureKey,
}

// SourceAccess is how pgBackRest reads another cluster's repositories
// from a restore source Secret: the keys of the Secret mounted as files
// (RestoreJob.SourceFiles) and the variables set from its other keys
// (RestoreJob.SourceEnv).
type SourceAccess struct {
	Files []string
	Env   []corev1.EnvVar
}

// NewSourceAccess is what reads every one of repos, the source's
// repositories as its pgbackrest.conf names them, from Secret secret:
// pgBackRest refuses to run when any of them lacks a setting, even to
// read another repository. The files are the pgbackrest.conf, the TLS
// files of the database side for a repository on a repository host, and
// the files of the object stores (CAs, a GCS service key); the variables
// are the object stores' keys and the passphrase, for each repository that
// needs them.
func NewSourceAccess(secret string, repos []repo.Repository) SourceAccess {
	a := SourceAccess{Files: []string{SourceKeyConfig}}
	if repo.HasPosix(repos) {
		a.Files = append(a.Files, SourceKeyCACert, SourceKeyCert, SourceKeyKey)
	}
	for _, r := range repos {
		for _, f := range r.Files() {
			if k := SourceKeyOfFile(f.Path); k != "" && !slices.Contains(a.Files, k) {
				a.Files = append(a.Files, k)
			}
		}
	}
	for _, r := range repos {
		for _, s := range r.Secrets() {
			a.Env = append(a.Env, corev1.EnvVar{Name: s.Env, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: sourceKeyOf[s.Secret]},
			}})
		}
	}
	return a
}

// Keys are the keys of the source Secret that the files and the variables
// read.
func (a SourceAccess) Keys() []string {
	keys := slices.Clone(a.Files)
	for _, e := range a.Env {
		if k := e.ValueFrom.SecretKeyRef.Key; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Missing are the keys that data, the source Secret's, lacks or has
// empty.
func (a SourceAccess) Missing(data map[string][]byte) []string {
	var missing []string
	for _, k := range a.Keys() {
		if len(data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	return missing
}

// CheckRepositoryAccess checks that the named container of pod has what
// pgBackRest needs to run with repos in its pgbackrest.conf, which it
// checks before it reads any of them: every variable of their Secrets,
// each from a Secret (never in plain text), and their files (an object
// store's CA, a GCS service key) mounted.
// A pod without them fails at once with "requires option".
func CheckRepositoryAccess(pod corev1.PodSpec, container string, repos []repo.Repository) error {
	i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == container })
	if i < 0 {
		return fmt.Errorf("the pod has no container %s", container)
	}
	c := pod.Containers[i]
	var names []string
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		names = append(names, e.Name)
	}
	var problems []string
	for _, r := range repos {
		for _, s := range r.Secrets() {
			if !slices.Contains(names, s.Env) {
				problems = append(problems, fmt.Sprintf("%s has no %s from a Secret (%s)", r.Name(), s.Env, r.Option(string(s.Secret))))
			}
		}
		for _, f := range r.Files() {
			if !mountsFile(pod, c, f.Path) {
				problems = append(problems, fmt.Sprintf("%s has no %s file %s", r.Name(), f.What, f.Path))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("pgBackRest in container %s could not run: %s", container, strings.Join(problems, "; "))
	}
	return nil
}

// mountsFile tells whether container c of pod mounts a Secret or
// projected file at file.
func mountsFile(pod corev1.PodSpec, c corev1.Container, file string) bool {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			var items []corev1.KeyToPath
			switch {
			case v.Secret != nil:
				items = v.Secret.Items
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						items = append(items, src.Secret.Items...)
					}
				}
			}
			if slices.ContainsFunc(items, func(k corev1.KeyToPath) bool { return k.Path == rel }) {
				return true
			}
		}
	}
	return false
}
