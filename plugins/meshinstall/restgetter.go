package meshinstall

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restClientGetter is the genericclioptions.RESTClientGetter Helm's
// action.Configuration.Init and kube.Client need, over kubeconfig content
// held in memory (the helm CLI's ConfigFlags read a file instead): one
// context, with namespace as the default namespace of namespaced objects
// the chart leaves unqualified. Discovery is cached in memory only (a
// kind cluster is recreated often; an on-disk cache would go stale), and
// Helm invalidates it after installing CRDs.
type restClientGetter struct {
	loader clientcmd.ClientConfig

	cfgOnce sync.Once
	cfg     *rest.Config
	cfgErr  error

	discOnce sync.Once
	disc     discovery.CachedDiscoveryInterface
	discErr  error

	mapOnce sync.Once
	mapper  meta.RESTMapper
	mapErr  error
}

func newRESTClientGetter(raw clientcmdapi.Config, contextName, namespace string) *restClientGetter {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
	overrides.Context.Namespace = namespace
	return &restClientGetter{loader: clientcmd.NewNonInteractiveClientConfig(raw, contextName, overrides, nil)}
}

// ToRESTConfig returns a copy of the context's REST config (callers may
// change theirs).
func (g *restClientGetter) ToRESTConfig() (*rest.Config, error) {
	g.cfgOnce.Do(func() {
		g.cfg, g.cfgErr = g.loader.ClientConfig()
		if g.cfgErr == nil {
			// As kubectl's defaults for discovery-heavy clients.
			g.cfg.QPS, g.cfg.Burst = 50, 300
		}
	})
	if g.cfgErr != nil {
		return nil, g.cfgErr
	}
	return rest.CopyConfig(g.cfg), nil
}

// ToDiscoveryClient returns a memory-cached discovery client.
func (g *restClientGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.discOnce.Do(func() {
		cfg, err := g.ToRESTConfig()
		if err != nil {
			g.discErr = err
			return
		}
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			g.discErr = err
			return
		}
		g.disc = memory.NewMemCacheClient(dc)
	})
	return g.disc, g.discErr
}

// ToRESTMapper returns a deferred discovery REST mapper with kubectl's
// short names, as genericclioptions.ConfigFlags builds it.
func (g *restClientGetter) ToRESTMapper() (meta.RESTMapper, error) {
	g.mapOnce.Do(func() {
		dc, err := g.ToDiscoveryClient()
		if err != nil {
			g.mapErr = err
			return
		}
		m := restmapper.NewDeferredDiscoveryRESTMapper(dc)
		g.mapper = restmapper.NewShortcutExpander(m, dc, func(string) {})
	})
	return g.mapper, g.mapErr
}

// ToRawKubeConfigLoader returns the kubeconfig loader (with the context
// and namespace overrides).
func (g *restClientGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }
