package grelkube

import (
	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Option configures a [Provider].
type Option func(*options)

type options struct {
	provider.Options
	settings []grelconfig.Setting[Config]
	rest     *rest.Config
	saDir    string
}

func buildOptions(opts []Option) options {
	o := options{Options: provider.Defaults(), saDir: ServiceAccountDir}
	provider.Apply(&o, opts)
	return o
}

// WithRESTConfig connects with rc (copied) instead of detecting the
// connection; the provider still owns the client it builds from it. rc's
// QPS and Burst are kept unless [WithRateLimit] or GREL_KUBE_QPS /
// GREL_KUBE_BURST set them.
func WithRESTConfig(rc *rest.Config) Option {
	return func(o *options) { o.rest = rc }
}

// WithKubeconfig sets a kubeconfig path that wins over in-cluster config
// and KUBECONFIG (GREL_KUBE_KUBECONFIG).
func WithKubeconfig(path string) Option { return setting(kubeconfigField.Set(path)) }

// WithContext sets the kubeconfig context (GREL_KUBE_CONTEXT).
func WithContext(name string) Option { return setting(contextField.Set(name)) }

// WithNamespace sets the namespace of the patterns' objects
// (GREL_KUBE_NAMESPACE).
func WithNamespace(ns string) Option { return setting(namespaceField.Set(ns)) }

// WithIdentity sets the lease holder identity (GREL_KUBE_IDENTITY).
func WithIdentity(id string) Option { return setting(identityField.Set(id)) }

// WithRateLimit sets the client-side QPS and burst (GREL_KUBE_QPS,
// GREL_KUBE_BURST).
func WithRateLimit(qps float64, burst int) Option {
	return func(o *options) { o.settings = append(o.settings, qpsField.Set(qps), burstField.Set(burst)) }
}

func setting(s grelconfig.Setting[Config]) Option {
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithServiceAccountDir changes where the service account's token, ca.crt
// and namespace are read (default [ServiceAccountDir]).
func WithServiceAccountDir(dir string) Option {
	return func(o *options) { o.saDir = dir }
}

// WithRegistry sets where variables are read and recorded for describe
// (default: a registry over the process environment).
func WithRegistry(reg *grelconfig.Registry) Option {
	return func(o *options) { o.SetRegistry(reg) }
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.SetLogger(l) }
}

// WithNonCriticalCheck makes the readiness check non-critical.
func WithNonCriticalCheck() Option {
	return func(o *options) { o.NonCritical = true }
}
