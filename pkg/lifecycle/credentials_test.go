package lifecycle

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// ChangeCredentials applies the settings with the new Secret and the pod
// templates that read it, and refuses any other change before a request.
func TestChangeCredentials(t *testing.T) {
	keys := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Data: map[string][]byte{cluster.KeyS3Key: []byte("k"), cluster.KeyS3KeySecret: []byte("s")}}
	}
	f := createdFactory()
	for _, name := range []string{"old-keys", "new-keys"} {
		if err := f.Clientset.Tracker().Add(keys(name)); err != nil {
			t.Fatal(err)
		}
	}
	o := newCreate(t, func(s *cluster.Spec, g *Given) {
		s.StorageType = []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3}
		s.S3 = &cluster.S3Spec{Bucket: "bucket", Endpoint: "s3.example:9000", Region: "us-east-1", CredentialsSecret: "old-keys", URIStyle: "path", VerifyTLS: true}
	})
	if _, _, err := runCreate(f, o); err != nil {
		t.Fatal(err)
	}
	f.MirrorToTyped(t)
	f.ClearActions()
	stored := o.Spec
	next := stored
	s3 := *stored.S3
	s3.CredentialsSecret = "new-keys"
	next.S3 = &s3

	other := next
	other.RetentionFull = 5
	for _, bad := range []cluster.Spec{other, withBucket(next, "elsewhere")} {
		err := ChangeCredentials(context.Background(), clients(f), ChangeCredentialsOptions{Stored: stored, Next: bad})
		if err == nil || !strings.Contains(err.Error(), "only the credentials Secrets may change here") {
			t.Errorf("another setting: %v", err)
		}
	}
	if w := f.Writes(); len(w) != 0 {
		t.Fatalf("writes despite the refusal: %v", w)
	}

	var progress bytes.Buffer
	err := ChangeCredentials(context.Background(), clients(f), ChangeCredentialsOptions{Stored: stored, Next: next,
		Poll: time.Millisecond, Timeout: 20 * time.Millisecond, Progress: &progress})
	// The fake has no controllers: the wait for the restarts ends at the timeout.
	if err == nil {
		t.Errorf("no pod restarted, yet no error")
	}
	for _, want := range []string{"configmap/hippo-pgo-config configured", "statefulset.apps/hippo configured", "deployment.apps/hippo-backrest-shared-repo configured"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	cm, err := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").
		Get(context.Background(), cluster.SettingsConfigMapName("hippo"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Object["data"].(map[string]any)["cluster.yaml"].(string), "credentialsSecret: new-keys") {
		t.Errorf("the stored settings: %v", cm.Object["data"])
	}
}

func withBucket(s cluster.Spec, bucket string) cluster.Spec {
	s3 := *s.S3
	s3.Bucket = bucket
	s.S3 = &s3
	return s
}
