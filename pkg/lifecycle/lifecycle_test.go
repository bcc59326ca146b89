package lifecycle

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// clients are the fake factory's clients.
func clients(f *kubefake.Factory) *apply.Clients {
	return &apply.Clients{Config: f.Config, Client: f.Clientset, Dynamic: f.Dynamic, Mapper: f.Mapper}
}

// newClusterFactory is a fake factory whose namespace "default" exists,
// holding objs.
func newClusterFactory(objs ...runtime.Object) *kubefake.Factory {
	return kubefake.NewFactory(append([]runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}}, objs...)...)
}
