package grelredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// Kind is the provider's config kind: GREL_REDIS_* and the describe entries.
const Kind = "REDIS"

// pkg prefixes the package's messages.
const pkg = "grelredis"

// Instance is one Redis client offered to adapters through [InstancesGroup].
type Instance struct {
	// Name is the provider instance name ("" for the default).
	Name   string
	Client redis.UniversalClient
}

// Provider owns one go-redis client: its config, its lifecycle and its
// readiness check. A Provider made by [Wrap] does not own its client and
// never closes it.
type Provider struct {
	name        string
	client      redis.UniversalClient
	addr        string
	owned       bool
	nonCritical bool
	log         *zap.Logger

	state   provider.State
	wg      sync.WaitGroup
	stopErr error
}

// URLVariable returns the vendor variable that holds the URL of the named
// instance: REDIS_URL for the default (""), REDIS_{NAME}_URL otherwise, NAME
// normalised like grelconfig.NormalizeName.
func URLVariable(name string) (string, error) {
	seg, err := grelconfig.NormalizeName(name)
	if err != nil {
		return "", err
	}
	if seg == "" {
		return "REDIS_URL", nil
	}
	return "REDIS_" + seg + "_URL", nil
}

// New returns a Provider for the named instance ("" for the default), its
// URL read from REDIS_URL or REDIS_{NAME}_URL through the registry (see
// [WithRegistry]) unless [WithURL] gives it. The default instance falls back
// to [DefaultURL]; a named instance without its variable is an error. New
// does not connect: [Provider.Start] does.
func New(name string, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	variable, err := URLVariable(name)
	if err != nil {
		return nil, err
	}
	raw := o.url
	if !o.hasURL {
		reg := o.RegistryOrEnv()
		def := ""
		if name == "" {
			def = DefaultURL
		}
		v, ok := reg.Vendor(grelconfig.VendorVar{
			Name: variable, Kind: Kind, Instance: name, Type: "url", Default: def,
			Doc:    "Redis URL: redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://",
			Redact: RedactURL,
		})
		switch {
		case ok:
			raw = v
		case name == "":
			raw = DefaultURL
		default:
			return nil, &URLError{Variable: variable, Reason: "not set (a named instance needs its own URL)"}
		}
	} else {
		variable = ""
	}
	parsed, err := ParseURL(raw)
	if err != nil {
		var ue *URLError
		if errors.As(err, &ue) {
			ue.Variable = variable
		}
		return nil, err
	}
	if o.configure != nil {
		o.configure(parsed)
	}
	client := parsed.NewClient()
	if tp := o.tp; tp != nil && !greltrace.IsNoop(tp) {
		if err := redisotel.InstrumentTracing(client, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false)); err != nil {
			_ = client.Close()
			return nil, errors.New("grelredis: tracing: " + err.Error())
		}
	}
	return newProvider(name, client, RedactURL(raw), true, o), nil
}

// Wrap returns a Provider over a client the app already owns, for the
// named instance ("" for the default). Stop does not close it and tracing
// is left as the owner set it.
func Wrap(name string, client redis.UniversalClient, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("grelredis: Wrap: client is nil")
	}
	return newProvider(name, client, describeClient(client), false, buildOptions(opts)), nil
}

func newProvider(name string, client redis.UniversalClient, addr string, owned bool, o options) *Provider {
	return &Provider{
		name: name, client: client, addr: addr, owned: owned, nonCritical: o.NonCritical,
		log: o.InstanceLog("redis", name),
	}
}

// describeClient names a wrapped client's address for messages.
func describeClient(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		if o.Network == "unix" {
			return "unix://" + o.Addr
		}
		return "redis://" + o.Addr
	case *redis.ClusterClient:
		return "redis+cluster://" + strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		return "redis ring"
	}
	return "redis"
}

// Name returns the instance name ("" for the default).
func (p *Provider) Name() string { return p.name }

// Client returns the shared client.
func (p *Provider) Client() redis.UniversalClient { return p.client }

// Addr returns the address the client dials, any password redacted.
func (p *Provider) Addr() string { return p.addr }

// Owned reports whether the provider created the client (and closes it).
func (p *Provider) Owned() bool { return p.owned }

// Instance returns the value adapters receive through [InstancesGroup].
func (p *Provider) Instance() Instance { return Instance{Name: p.name, Client: p.client} }

// Start connects and sends PING, within ctx: a server that is down or does
// not answer fails Start with a [*ConnectError] by ctx's deadline at the
// latest. After Stop it returns [ErrStopped].
func (p *Provider) Start(ctx context.Context) error {
	if p.state.Stopped() {
		return ErrStopped
	}
	ctx, cancel := provider.BeforeDeadline(ctx)
	defer cancel()
	if err := p.ping(ctx); err != nil {
		p.log.Warn("redis unreachable at start", zap.String("addr", p.addr), zap.Error(err))
		return err
	}
	p.state.MarkStarted()
	p.log.Info("redis connected", zap.String("addr", p.addr), zap.String(grellog.FieldState, "ready"))
	return nil
}

// Ready is the readiness check: PING within ctx. Before a Start succeeded
// it returns [ErrNotStarted], after Stop [ErrStopped], without a request.
func (p *Provider) Ready(ctx context.Context) error {
	if err := p.state.Gate(ErrNotStarted, ErrStopped); err != nil {
		return err
	}
	return p.ping(ctx)
}

// ping runs PING in a goroutine so that ctx bounds it even for a wrapped
// client that does not honour ctx deadlines; Stop waits for it.
func (p *Provider) ping(ctx context.Context) error {
	done := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		done <- p.client.Ping(ctx).Err()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	return &ConnectError{Name: p.name, Addr: p.addr, Err: provider.JoinCtxErr(ctx, err)}
}

// Stop closes the client if the provider owns it, after waiting (within
// ctx) for a PING still in flight. It is idempotent: later calls return
// the first call's result. When ctx ends before that PING returns, Stop
// returns an error that says so and matches ctx's error; the PING's
// goroutine ends by itself once the closed client fails it (a wrapped
// client that ignores ctx may keep it longer).
func (p *Provider) Stop(ctx context.Context) error {
	p.state.Stop(func() {
		var closeErr error
		if p.owned {
			closeErr = p.client.Close()
		}
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		var waitErr error
		select {
		case <-done:
		case <-ctx.Done():
			waitErr = fmt.Errorf("grelredis: close: a PING still in flight at the stop deadline: %w", ctx.Err())
		}
		if closeErr != nil {
			closeErr = errors.New("grelredis: close: " + closeErr.Error())
		}
		p.stopErr = errors.Join(closeErr, waitErr)
		p.log.Debug("redis closed", zap.Bool("owned", p.owned))
	})
	return p.stopErr
}

// CheckName returns the readiness check's name: "redis" for the default
// instance, "redis:<name>" otherwise.
func CheckName(name string) string { return provider.CheckName("redis", name) }

// HealthCheck returns the readiness check for the health module, critical
// unless [WithNonCriticalCheck] was given.
func (p *Provider) HealthCheck() grelhealth.Check {
	return grelhealth.Check{Name: CheckName(p.name), Func: p.Ready, NonCritical: p.nonCritical}
}
