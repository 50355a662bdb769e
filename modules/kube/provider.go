package grelkube

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

var (
	// ErrUnavailable matches every [*ConnectError].
	ErrUnavailable = errors.New("grelkube: kube-apiserver unavailable")
	// ErrNotStarted is returned by [Provider.Ready] before Start succeeded.
	ErrNotStarted = errors.New("grelkube: provider not started")
	// ErrStopped is returned by [Provider.Ready] and [Provider.Start] after
	// Stop.
	ErrStopped = errors.New("grelkube: provider stopped")
)

// ConnectError is a failed readiness request at start or by the check. Addr
// is the API server's URL (credentials never appear in it).
type ConnectError struct {
	Name string
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return provider.Unreachable("grelkube", "cannot reach", e.Addr, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Is matches [ErrUnavailable].
func (e *ConnectError) Is(target error) bool { return target == ErrUnavailable }

// Instance is one Kubernetes client offered to adapters through
// [InstancesGroup], with the namespace of the patterns' objects and this
// process's holder identity.
type Instance struct {
	// Name is the provider instance name ("" for the default).
	Name      string
	Client    kubernetes.Interface
	Config    *rest.Config
	Namespace string
	Identity  string
}

// Provider owns one client-go clientset: its config, its lifecycle and its
// readiness check. A Provider made by [Wrap] does not own its client.
type Provider struct {
	name        string
	client      kubernetes.Interface
	rest        *rest.Config
	http        *http.Client // nil for a wrapped client
	source      string
	namespace   string
	identity    string
	nonCritical bool
	log         *zap.Logger

	state provider.State
}

// New returns a Provider for the named instance ("" for the default). The
// connection is, in order: [WithRESTConfig]; GREL_KUBE_[{NAME}_]KUBECONFIG;
// in-cluster config (KUBERNETES_SERVICE_HOST and _PORT, the service
// account's token and CA); KUBECONFIG; ~/.kube/config. The namespace is
// GREL_KUBE_[{NAME}_]NAMESPACE, else POD_NAMESPACE, the service account's
// namespace file, the kubeconfig context's namespace, then "default". The
// identity is GREL_KUBE_[{NAME}_]IDENTITY, else POD_NAME, else the host
// name. Every variable is read through the registry (see [WithRegistry]).
// New does not contact the server: [Provider.Start] does.
func New(name string, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	reg := o.RegistryOrEnv()
	cfg, err := spec.Resolve(reg, name, o.settings...)
	if err != nil {
		return nil, err
	}
	r, err := resolve(reg, name, cfg, o.saDir, o.rest)
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(r.rest)
	if err != nil {
		return nil, r.blame(reasonTLS, err)
	}
	cs, err := kubernetes.NewForConfigAndClient(r.rest, hc)
	if err != nil {
		return nil, r.blame(reasonClient, err)
	}
	p := newProvider(name, cs, r.rest, r.source, r.namespace, r.identity, o)
	p.http = hc
	return p, nil
}

// Wrap returns a Provider over a client the app already owns; Stop leaves
// it alone. rc may be nil when the app has no rest.Config at hand. The
// namespace and identity resolve as in [New].
func Wrap(name string, client kubernetes.Interface, rc *rest.Config, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("grelkube: Wrap: client is nil")
	}
	o := buildOptions(opts)
	reg := o.RegistryOrEnv()
	cfg, err := spec.Resolve(reg, name, o.settings...)
	if err != nil {
		return nil, err
	}
	given := rc
	if given == nil {
		given = &rest.Config{Host: "(wrapped client)"}
	}
	r, err := resolve(reg, name, cfg, o.saDir, given)
	if err != nil {
		return nil, err
	}
	return newProvider(name, client, rc, SourceCode, r.namespace, r.identity, o), nil
}

func newProvider(name string, client kubernetes.Interface, rc *rest.Config, source, ns, id string, o options) *Provider {
	return &Provider{
		name: name, client: client, rest: rc, source: source, namespace: ns, identity: id, nonCritical: o.NonCritical,
		log: o.InstanceLog("kube", name),
	}
}

// Name returns the instance name ("" for the default).
func (p *Provider) Name() string { return p.name }

// Client returns the shared clientset.
func (p *Provider) Client() kubernetes.Interface { return p.client }

// RESTConfig returns the client's config (nil for a wrapped client given
// without one). Do not change it.
func (p *Provider) RESTConfig() *rest.Config { return p.rest }

// Namespace returns the namespace of the patterns' objects.
func (p *Provider) Namespace() string { return p.namespace }

// Identity returns this process's lease holder identity.
func (p *Provider) Identity() string { return p.identity }

// Source says where the connection came from (in-cluster, a kubeconfig).
func (p *Provider) Source() string { return p.source }

// Addr returns the API server's URL.
func (p *Provider) Addr() string {
	if p.rest == nil {
		return "kube-apiserver (wrapped client)"
	}
	return p.rest.Host
}

// Owned reports whether the provider created the client.
func (p *Provider) Owned() bool { return p.http != nil }

// Instance returns the value adapters receive through [InstancesGroup].
func (p *Provider) Instance() Instance {
	return Instance{Name: p.name, Client: p.client, Config: p.rest, Namespace: p.namespace, Identity: p.identity}
}

// Start sends the readiness request within ctx; an API server that is
// down, silent or refuses the credentials fails Start with a
// [*ConnectError] before ctx's deadline. After Stop it returns
// [ErrStopped].
func (p *Provider) Start(ctx context.Context) error {
	if p.state.Stopped() {
		return ErrStopped
	}
	ctx, cancel := provider.BeforeDeadline(ctx)
	defer cancel()
	if err := p.review(ctx); err != nil {
		p.log.Warn("kube-apiserver unreachable at start", zap.String("addr", p.Addr()), zap.Error(err))
		return err
	}
	p.state.MarkStarted()
	p.log.Info("kube-apiserver connected", zap.String("addr", p.Addr()), zap.String("source", p.source),
		zap.String("namespace", p.namespace), zap.String(grellog.FieldHolder, p.identity), zap.String(grellog.FieldState, "ready"))
	return nil
}

// Ready is the readiness check: one cheap authenticated request (a
// SelfSubjectReview, which every authenticated identity may create; the
// server version on API servers older than 1.28). Before a Start succeeded
// it returns [ErrNotStarted], after Stop [ErrStopped], without a request.
func (p *Provider) Ready(ctx context.Context) error {
	if err := p.state.Gate(ErrNotStarted, ErrStopped); err != nil {
		return err
	}
	return p.review(ctx)
}

func (p *Provider) review(ctx context.Context) error {
	_, err := p.client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		err = serverVersion(ctx, p.client)
	}
	if err == nil {
		return nil
	}
	return &ConnectError{Name: p.name, Addr: p.Addr(), Err: provider.JoinCtxErr(ctx, err)}
}

func serverVersion(ctx context.Context, c kubernetes.Interface) error {
	if rc := c.Discovery().RESTClient(); rc != nil {
		return rc.Get().AbsPath("/version").Do(ctx).Error()
	}
	_, err := c.Discovery().ServerVersion()
	return err
}

// Stop releases the client's idle connections if the provider owns it.
// It is idempotent.
func (p *Provider) Stop(context.Context) error {
	p.state.Stop(func() {
		if p.http != nil {
			// Through client-go's round-tripper wrappers, down to the
			// transport (which clients of an equal config share).
			utilnet.CloseIdleConnectionsFor(p.http.Transport)
		}
		p.log.Debug("kube client closed", zap.Bool("owned", p.http != nil))
	})
	return nil
}

// CheckName returns the readiness check's name: "kube" for the default
// instance, "kube:<name>" otherwise.
func CheckName(name string) string { return provider.CheckName("kube", name) }

// HealthCheck returns the readiness check for the health module, critical
// unless [WithNonCriticalCheck] was given.
func (p *Provider) HealthCheck() grelhealth.Check {
	return grelhealth.Check{Name: CheckName(p.name), Func: p.Ready, NonCritical: p.nonCritical}
}
