package grelkube

import (
	"go.uber.org/fx"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// InstancesGroup is the Fx value group of [Instance] values, one per
// client, from which adapters build their Backends.
const InstancesGroup = "grel.kube.instances"

// Module provides the default client (in-cluster, else KUBECONFIG, else
// ~/.kube/config): a kubernetes.Interface and a *Provider (both untagged),
// an [Instance] in [InstancesGroup] and a readiness check in
// fxgrel.HealthChecksGroup. It checks the API server on start.
var Module = fx.Module("grel.kube", provide("", nil, nil, nil))

// Named provides a second client, tuned by GREL_KUBE_{NAME}_* (its own
// kubeconfig, context or namespace), under the Fx name tag [Tag](name).
func Named(name string, opts ...Option) fx.Option {
	return fx.Module("grel.kube."+name, provide(name, nil, nil, opts))
}

// FromClient provides a client the app already owns as the named instance
// ("" for the default); rc may be nil.
func FromClient(name string, client kubernetes.Interface, rc *rest.Config, opts ...Option) fx.Option {
	return fx.Module("grel.kube."+name, provide(name, client, rc, opts))
}

// Tag returns the Fx tag of the named instance: name:"<name>", or "" for
// the default.
func Tag(name string) string { return provider.Tag(name) }

type deps struct {
	fx.In
	Registry *grelconfig.Registry `optional:"true"`
	Logger   *zap.Logger          `optional:"true"`
}

type parts = provider.Parts[*Provider, kubernetes.Interface, Instance]

func provide(name string, client kubernetes.Interface, rc *rest.Config, opts []Option) fx.Option {
	return provider.Provide("grelkube", name, InstancesGroup, func(d deps) (parts, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger)}, opts...)
		var p *Provider
		var err error
		if client != nil {
			p, err = Wrap(name, client, rc, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return parts{}, err
		}
		return parts{
			Provider: p, Client: p.Client(), Instance: p.Instance(), Check: p.HealthCheck(),
			Start: p.Start, Stop: p.Stop,
		}, nil
	})
}
