package grelpipeline

import (
	"errors"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
	"go.uber.org/fx"
)

// Tag returns the Fx tag of the pipeline named name (`name:"checkout"`).
func Tag(name string) string { return `name:"` + name + `"` }

// Uses names the Fx instances a named pipeline is built from: the names
// given to grelretry.Named, grelbreaker.Named, grelbulkhead.Named and
// greltimeout.Named. An empty name leaves that stage out. A name that no
// module provides fails fx.New.
type Uses struct {
	Retry, Breaker, Bulkhead, Timeout string
}

// none is a tag no module provides: an optional parameter with it is nil.
const none = `name:"grel.pipeline.none" optional:"true"`

// Named provides a *Pipeline[T] tagged [Tag](name), built from the named
// instances in uses plus opts (a fallback, an order):
//
//	fx.New(
//		fxgrel.Module, grelbreaker.Module,
//		grelretry.Named("checkout"), grelbreaker.Named("checkout"), greltimeout.Named("checkout"),
//		grelpipeline.Named[*http.Response]("checkout",
//			grelpipeline.Uses{Retry: "checkout", Breaker: "checkout", Timeout: "checkout"}),
//	)
func Named[T any](name string, uses Uses, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelpipeline: Named needs a name"))
	}
	tag := func(n string, tagOf func(string) string) string {
		if n == "" {
			return none
		}
		return tagOf(n)
	}
	return fx.Provide(fx.Annotate(
		func(r *grelretry.Retrier, b *grelbreaker.Breaker, bh *grelbulkhead.Bulkhead, t *greltimeout.Timeout) (*Pipeline[T], error) {
			all := make([]Option, 0, 4+len(opts))
			if r != nil {
				all = append(all, WithRetry(r))
			}
			if b != nil {
				all = append(all, WithBreaker(b))
			}
			if bh != nil {
				all = append(all, WithBulkhead(bh))
			}
			if t != nil {
				all = append(all, WithTimeout(t))
			}
			return New[T](append(all, opts...)...)
		},
		fx.ParamTags(tag(uses.Retry, grelretry.Tag), tag(uses.Breaker, grelbreaker.Tag), tag(uses.Bulkhead, grelbulkhead.Tag), tag(uses.Timeout, greltimeout.Tag)),
		fx.ResultTags(Tag(name)),
	))
}
