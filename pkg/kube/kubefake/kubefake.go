// Package kubefake owns an in-memory kube.Factory for unit tests of
// commands: typed and dynamic fake clients, a static RESTMapper for the
// built-in kinds and a fixed namespace, with no cluster or kubeconfig.
package kubefake

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// Factory implements kube.Factory with fakes. Tests may replace any field,
// or set Err to make every method fail (e.g. to simulate a bad kubeconfig).
type Factory struct {
	Config    *rest.Config
	NS        string
	Explicit  bool
	Clientset *fake.Clientset
	Dynamic   *dynamicfake.FakeDynamicClient
	Mapper    meta.RESTMapper
	Err       error
	// NoDiscovery makes DiscoveryClient and RESTMapper fail, to check that
	// a command makes do with typed clients (discovery costs requests).
	NoDiscovery bool
}

// ErrDiscovery is what DiscoveryClient and RESTMapper return with
// NoDiscovery.
var ErrDiscovery = errors.New("kubefake: discovery used by a command that should not need it")

var _ kube.Factory = (*Factory)(nil)

// NewFactory returns a Factory in namespace "default" whose typed clientset
// holds objects and whose dynamic client holds unstructured copies of them
// (the two are separate stores).
func NewFactory(objects ...runtime.Object) *Factory {
	return &Factory{
		Config:    &rest.Config{Host: "https://fake.invalid"},
		NS:        "default",
		Clientset: fake.NewClientset(objects...),
		Dynamic:   dynamicfake.NewSimpleDynamicClient(scheme.Scheme, objects...),
		Mapper:    testrestmapper.TestOnlyStaticRESTMapper(scheme.Scheme),
	}
}

// FakeDiscovery is the clientset's discovery, e.g. to set
// FakedServerVersion.
func (f *Factory) FakeDiscovery() *fakediscovery.FakeDiscovery {
	return f.Clientset.Discovery().(*fakediscovery.FakeDiscovery)
}

func (f *Factory) RESTConfig() (*rest.Config, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return rest.CopyConfig(f.Config), nil
}

func (f *Factory) Namespace() (string, bool, error) {
	if f.Err != nil {
		return "", false, f.Err
	}
	return f.NS, f.Explicit, nil
}

func (f *Factory) KubernetesClient() (kubernetes.Interface, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return f.Clientset, nil
}

func (f *Factory) DynamicClient() (dynamic.Interface, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return f.Dynamic, nil
}

func (f *Factory) DiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	if f.NoDiscovery {
		return nil, ErrDiscovery
	}
	return memory.NewMemCacheClient(f.Clientset.Discovery()), nil
}

func (f *Factory) RESTMapper() (meta.RESTMapper, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	if f.NoDiscovery {
		return nil, ErrDiscovery
	}
	return f.Mapper, nil
}
