package grelkube

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Kind is the provider's config kind: GREL_KUBE_*.
const Kind = "KUBE"

// pkg prefixes the package's messages.
const pkg = "grelkube"

// ServiceAccountDir is where Kubernetes mounts a pod's service account
// (token, ca.crt, namespace).
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// DefaultNamespace is the namespace when nothing else names one.
const DefaultNamespace = "default"

// Config is grelmicro's own settings of one Kubernetes client. Empty
// strings mean "detect" (see [New]).
type Config struct {
	// Kubeconfig is a kubeconfig path that wins over in-cluster config and
	// KUBECONFIG (GREL_KUBE_KUBECONFIG).
	Kubeconfig string
	// Context is the kubeconfig context (GREL_KUBE_CONTEXT); empty: the
	// current one.
	Context string
	// Namespace holds the patterns' objects (GREL_KUBE_NAMESPACE); empty:
	// POD_NAMESPACE, the service account's namespace, the kubeconfig
	// context's, then "default".
	Namespace string
	// Identity names this process as a lease holder (GREL_KUBE_IDENTITY);
	// empty: POD_NAME, then the host name.
	Identity string
	// QPS and Burst bound the client's request rate (GREL_KUBE_QPS,
	// GREL_KUBE_BURST). A rest.Config given with [WithRESTConfig] keeps
	// its own unless an option or a variable sets them; a wrapped client
	// ([Wrap], FromClient) keeps its own rate limiter.
	QPS   float64
	Burst int
}

var spec = grelconfig.NewSpec[Config](Kind)

var (
	kubeconfigField = spec.String("KUBECONFIG", func(c *Config) *string { return &c.Kubeconfig }, "").
			Doc("kubeconfig path that wins over in-cluster config and KUBECONFIG")
	contextField = spec.String("CONTEXT", func(c *Config) *string { return &c.Context }, "").
			Doc("kubeconfig context (empty: the current one)")
	namespaceField = spec.String("NAMESPACE", func(c *Config) *string { return &c.Namespace }, "",
		grelconfig.NewRule("must be a DNS-1123 label (lower case letters, digits and '-', at most 63)", func(s string) bool {
			return s == "" || len(validation.IsDNS1123Label(s)) == 0
		})).
		Doc("namespace of the patterns' objects (empty: POD_NAMESPACE, the service account's, the kubeconfig context's, default)")
	identityField = spec.String("IDENTITY", func(c *Config) *string { return &c.Identity }, "").
			Doc("lease holder identity (empty: POD_NAME, then the host name)")
	qpsField = spec.Float("QPS", func(c *Config) *float64 { return &c.QPS }, 20, grelconfig.Positive[float64]()).
			Doc("client-side request rate limit, per second")
	burstField = spec.Int("BURST", func(c *Config) *int { return &c.Burst }, 40, grelconfig.AtLeast(1)).
			Doc("client-side request burst")
)

// Validate checks a Config given as-is.
func (c Config) Validate() error { return spec.Validate(c) }

// Sources of the connection, for messages and describe.
const (
	SourceExplicit  = "kubeconfig (GREL_KUBE_KUBECONFIG)"
	SourceInCluster = "in-cluster"
	SourceEnv       = "kubeconfig (KUBECONFIG)"
	SourceHome      = "kubeconfig (~/.kube/config)"
	SourceCode      = "rest.Config given in code"
)

// ErrNoConfig is returned when no connection can be found: not in a
// cluster, no KUBECONFIG and no ~/.kube/config.
var ErrNoConfig = errors.New("grelkube: no Kubernetes config: not in a cluster (KUBERNETES_SERVICE_HOST unset), KUBECONFIG unset and no ~/.kube/config; set KUBECONFIG or GREL_KUBE_KUBECONFIG")

// resolved is where an instance connects and who it is there.
type resolved struct {
	rest      *rest.Config
	source    string
	namespace string
	identity  string
	// blame returns the error for a connection config that is not
	// usable: a *grelconfig.Error naming where it came from (the
	// kubeconfig variable, KUBECONFIG, HOME, the in-cluster variables)
	// with reason, never a value; for a rest.Config given in code, a
	// grelkube error with client-go's cause.
	blame func(reason string, cause error) error
}

// vendor reads the vendor variables through reg.
type vendor struct {
	reg      *grelconfig.Registry
	instance string
}

func (v vendor) get(name, doc string) string {
	val, _ := v.reg.Vendor(grelconfig.VendorVar{Name: name, Kind: Kind, Instance: v.instance, Doc: doc})
	return val
}

// Reasons of the config errors: none holds a value (a path, a context
// name, a server URL), since client-go's own messages do.
const (
	reasonNoFile     = "no file at that path"
	reasonNoFiles    = "none of its paths is a file"
	reasonUnreadable = "cannot be read as a kubeconfig (unreadable, or not YAML of kind Config)"
	reasonNoContexts = "the kubeconfig holds no context"
	reasonNoCurrent  = "the kubeconfig has no current-context: set one, or GREL_KUBE_CONTEXT"
	reasonBadCurrent = "the kubeconfig's current-context names no context in it"
	reasonNoSuchCtx  = "names no context of the kubeconfig"
	reasonUnusable   = "the kubeconfig's context is not usable: its cluster or user is missing, the cluster has no server, or the credentials conflict"
	reasonTLS        = "its TLS settings or credentials cannot be loaded (a certificate, key or CA missing or not PEM)"
	reasonClient     = "its server address cannot make a client"
	prefixHome       = "~/.kube/config: "
	prefixInCluster  = "in-cluster config: "
)

// resolve finds the connection, the namespace and the identity of cfg in
// the order documented on [New].
func resolve(reg *grelconfig.Registry, name string, cfg Config, saDir string, given *rest.Config) (*resolved, error) {
	v := vendor{reg: reg, instance: name}
	host := v.get("KUBERNETES_SERVICE_HOST", "set by Kubernetes in a pod: in-cluster config")
	port := v.get("KUBERNETES_SERVICE_PORT", "set by Kubernetes in a pod: in-cluster config")
	kubeconfigEnv := v.get("KUBECONFIG", "kubeconfig paths, separated by ':'")
	podNS := v.get("POD_NAMESPACE", "the pod's namespace (downward API)")
	podName := v.get("POD_NAME", "the pod's name (downward API): the lease holder identity")

	vendorErr := func(variable, prefix string) func(string, error) error {
		return func(reason string, _ error) error {
			return &grelconfig.Error{Variable: variable, Origin: grelconfig.OriginEnv, Reason: prefix + reason}
		}
	}
	r := &resolved{}
	var cc clientcmd.ClientConfig
	var paths []string
	switch {
	case given != nil:
		r.rest, r.source = rest.CopyConfig(given), SourceCode
		r.blame = func(_ string, cause error) error { return errors.New("grelkube: " + SourceCode + ": " + cause.Error()) }
	case cfg.Kubeconfig != "":
		paths, r.source = []string{cfg.Kubeconfig}, SourceExplicit
		r.blame = func(reason string, _ error) error {
			return provider.FieldError(reg, Kind, name, kubeconfigField.Key(), kubeconfigField.Name(), reason)
		}
	case host != "" && port != "":
		r.rest, r.source = inCluster(host, port, saDir), SourceInCluster
		r.blame = vendorErr("KUBERNETES_SERVICE_HOST", prefixInCluster)
	case kubeconfigEnv != "":
		paths, r.source = filepath.SplitList(kubeconfigEnv), SourceEnv
		r.blame = vendorErr("KUBECONFIG", "")
	default:
		home, _ := reg.Source().Lookup("HOME")
		p := filepath.Join(home, ".kube", "config")
		if _, err := os.Stat(p); home == "" || err != nil {
			return nil, ErrNoConfig
		}
		paths, r.source = []string{p}, SourceHome
		r.blame = vendorErr("HOME", prefixHome)
	}
	kubeconfigNS := ""
	if paths != nil {
		cc = kubeconfigClient(paths, cfg.Context)
		rc, err := loadKubeconfig(reg, name, cfg, paths, r, cc)
		if err != nil {
			return nil, err
		}
		r.rest = rc
		if ns, _, err := cc.Namespace(); err == nil {
			kubeconfigNS = ns
		}
	}
	// QPS and Burst: the caller's rest.Config keeps its own unless an
	// option or a variable sets them; a config built here gets the
	// resolved values (the documented defaults when nothing is set).
	if given == nil || setByUser(reg, name, qpsField.Key(), qpsField.Name()) {
		r.rest.QPS = float32(cfg.QPS)
	}
	if given == nil || setByUser(reg, name, burstField.Key(), burstField.Name()) {
		r.rest.Burst = cfg.Burst
	}
	if r.rest.UserAgent == "" {
		r.rest.UserAgent = "grelmicro-go " + rest.DefaultKubernetesUserAgent()
	}

	saNS := ""
	if b, err := os.ReadFile(filepath.Join(saDir, "namespace")); err == nil {
		saNS = strings.TrimSpace(string(b))
	}
	r.namespace = first(cfg.Namespace, podNS, saNS, kubeconfigNS, DefaultNamespace)
	if errs := validation.IsDNS1123Label(r.namespace); len(errs) > 0 {
		return nil, errors.New("grelkube: the namespace found (from POD_NAMESPACE, the service account or the kubeconfig) is not a DNS-1123 label")
	}
	hostname := ""
	if cfg.Identity == "" && podName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, errors.New("grelkube: no identity: GREL_KUBE_IDENTITY and POD_NAME are unset and the host name is unknown: " + err.Error())
		}
		hostname = h
	}
	r.identity = first(cfg.Identity, podName, hostname)
	return r, nil
}

// setByUser reports whether an option or a variable gave the field.
func setByUser(reg *grelconfig.Registry, name, key, field string) bool {
	origin, _ := provider.FieldSource(reg, Kind, name, key, field)
	return origin == grelconfig.OriginOption || origin == grelconfig.OriginInstance || origin == grelconfig.OriginKind
}

// loadKubeconfig reads the kubeconfig files and builds the rest.Config of
// the chosen context, checking first what client-go would report with the
// path, the context name or the server in its message (or with advice
// about KUBERNETES_MASTER for a missing file), so that each failure is a
// config error naming the variable at fault.
func loadKubeconfig(reg *grelconfig.Registry, name string, cfg Config, paths []string, r *resolved, cc clientcmd.ClientConfig) (*rest.Config, error) {
	found := 0
	for _, p := range paths {
		if p != "" && fileExists(p) {
			found++
		}
	}
	if found == 0 {
		if len(paths) == 1 {
			return nil, r.blame(reasonNoFile, nil)
		}
		return nil, r.blame(reasonNoFiles, nil)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, r.blame(reasonUnreadable, err)
	}
	switch {
	case cfg.Context != "":
		if _, ok := raw.Contexts[cfg.Context]; !ok {
			return nil, provider.FieldError(reg, Kind, name, contextField.Key(), contextField.Name(), reasonNoSuchCtx+" ("+r.source+")")
		}
	case len(raw.Contexts) == 0:
		return nil, r.blame(reasonNoContexts, nil)
	case raw.CurrentContext == "":
		return nil, r.blame(reasonNoCurrent, nil)
	default:
		if _, ok := raw.Contexts[raw.CurrentContext]; !ok {
			return nil, r.blame(reasonBadCurrent, nil)
		}
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, r.blame(reasonUnusable, err)
	}
	return rc, nil
}

func kubeconfigClient(paths []string, context string) clientcmd.ClientConfig {
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: paths}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
}

// inCluster is client-go's in-cluster config, from the variables read
// through the registry and the service account folder.
func inCluster(host, port, saDir string) *rest.Config {
	rc := &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		BearerTokenFile: filepath.Join(saDir, "token"),
	}
	if ca := filepath.Join(saDir, "ca.crt"); fileExists(ca) {
		rc.TLSClientConfig.CAFile = ca
	}
	return rc
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
