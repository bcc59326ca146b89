package cluster

import (
	"testing"

	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Every pod passes the Pod Security Standards' "restricted" level, checked
// by the admission plugin's own code, so the cluster runs in a namespace
// that enforces it.
func TestPodsAreRestricted(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	for name, spec := range goldenSpecs() {
		_, _, pods, _ := typed(t, renderSpec(t, spec))
		want := 2 + spec.Replicas // each instance, and the repository host
		if !spec.HasLocalRepo() && len(spec.StorageType) > 0 {
			want--
		}
		if len(pods) != want {
			t.Fatalf("%s: %d pod templates, want %d", name, len(pods), want)
		}
		for _, pod := range pods {
			result := policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, &pod.ObjectMeta, &pod.Spec))
			if !result.Allowed {
				t.Errorf("%s: pod %v is not restricted: %s: %s", name, pod.Labels[LabelComponent], result.ForbiddenReason(), result.ForbiddenDetail())
			}
		}
	}
}

// The checks above pass; these are the settings the brief asks for beyond
// them, checked directly.
func TestPodSettings(t *testing.T) {
	_, _, pods, _ := typed(t, renderSpec(t, Spec{Name: "hippo", Namespace: "pgo"}))
	for _, pod := range pods {
		s := pod.Spec
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			t.Error("the service account token is mounted")
		}
		sc := s.SecurityContext
		if sc == nil || *sc.RunAsUser != postgresUID || *sc.RunAsGroup != postgresUID || *sc.FSGroup != postgresUID {
			t.Errorf("pod security context %+v: want user, group and fsGroup 26", sc)
		}
		for _, c := range s.Containers {
			if c.ImagePullPolicy != "IfNotPresent" {
				t.Errorf("container %s: imagePullPolicy %s", c.Name, c.ImagePullPolicy)
			}
			if c.ReadinessProbe == nil {
				t.Errorf("container %s has no readiness probe", c.Name)
			}
		}
	}
}
