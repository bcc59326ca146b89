package kube

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Factory hands commands the clients for the cluster selected by
// --kubeconfig, --context, -n and friends. It is an interface so command
// tests can substitute fakes (see package kubefake).
type Factory interface {
	// RESTConfig is the client configuration, including --request-timeout.
	RESTConfig() (*rest.Config, error)
	// Namespace is -n, else the kubeconfig context's namespace, else
	// "default"; explicit reports whether the user chose it with -n.
	Namespace() (ns string, explicit bool, err error)
	KubernetesClient() (kubernetes.Interface, error)
	DynamicClient() (dynamic.Interface, error)
	DiscoveryClient() (discovery.CachedDiscoveryInterface, error)
	// RESTMapper maps kinds to resources via (cached) discovery; pass it
	// to Apply.
	RESTMapper() (meta.RESTMapper, error)
}

// NewFactory returns a Factory backed by getter, normally the
// *genericclioptions.ConfigFlags bound to the root command.
func NewFactory(getter genericclioptions.RESTClientGetter) Factory {
	return &factory{getter: getter}
}

type factory struct {
	getter genericclioptions.RESTClientGetter
}

func (f *factory) RESTConfig() (*rest.Config, error) {
	return f.getter.ToRESTConfig()
}

func (f *factory) Namespace() (string, bool, error) {
	return f.getter.ToRawKubeConfigLoader().Namespace()
}

func (f *factory) KubernetesClient() (kubernetes.Interface, error) {
	cfg, err := f.getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func (f *factory) DynamicClient() (dynamic.Interface, error) {
	cfg, err := f.getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

func (f *factory) DiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return f.getter.ToDiscoveryClient()
}

func (f *factory) RESTMapper() (meta.RESTMapper, error) {
	return f.getter.ToRESTMapper()
}
