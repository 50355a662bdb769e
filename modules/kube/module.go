package grelkube

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
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
func Tag(name string) string {
	if name == "" {
		return ""
	}
	return "name:" + strconv.Quote(name)
}

type deps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Registry  *grelconfig.Registry `optional:"true"`
	Logger    *zap.Logger          `optional:"true"`
}

func provide(name string, client kubernetes.Interface, rc *rest.Config, opts []Option) fx.Option {
	ctor := func(d deps) (*Provider, kubernetes.Interface, Instance, grelhealth.Check, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger)}, opts...)
		var p *Provider
		var err error
		if client != nil {
			p, err = Wrap(name, client, rc, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return nil, nil, Instance{}, grelhealth.Check{}, err
		}
		d.Lifecycle.Append(fx.Hook{
			OnStart: func(ctx context.Context) error {
				if err := p.Start(ctx); err != nil {
					// Fx does not stop a hook whose start failed.
					stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					_ = p.Stop(stopCtx)
					return err
				}
				return nil
			},
			OnStop: p.Stop,
		})
		c, in, check := p.Client(), p.Instance(), p.HealthCheck()
		return p, c, in, check, nil
	}
	tag := Tag(name)
	return fx.Options(
		fx.Provide(fx.Annotate(ctor, fx.ResultTags(tag, tag,
			`group:"`+InstancesGroup+`"`, `group:"`+fxgrel.HealthChecksGroup+`"`))),
		fx.Invoke(fx.Annotate(func(*Provider) {}, fx.ParamTags(tag))),
	)
}
