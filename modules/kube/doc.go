// Package grelkube is grelmicro's Kubernetes provider: one shared client-go
// clientset per instance, the namespace that holds the patterns' objects
// (coordination.k8s.io/v1 Leases) and this process's holder identity, with
// the lifecycle and the readiness check. The adapters that make Kubernetes
// serve the patterns' Backends live beside it.
//
// # Config
//
// The connection is in-cluster config (KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT with the service account's token and CA), else
// KUBECONFIG, else ~/.kube/config; GREL_KUBE_KUBECONFIG (and
// GREL_KUBE_CONTEXT) choose a kubeconfig explicitly. The namespace is
// GREL_KUBE_NAMESPACE, else POD_NAMESPACE, else the service account's
// namespace file, else the kubeconfig context's, else "default". The
// identity is GREL_KUBE_IDENTITY, else POD_NAME, else the host name.
// GREL_KUBE_QPS and GREL_KUBE_BURST bound the request rate (a rest.Config
// given in code keeps its own unless they are set). Named instances read
// GREL_KUBE_{NAME}_*. Every variable is read through a grelconfig.Registry,
// so describe lists it. A kubeconfig that cannot be used (no file, not
// YAML, a context that does not exist, TLS files that do not load) fails
// New with a *grelconfig.Error that names the variable at fault
// (GREL_KUBE_KUBECONFIG, GREL_KUBE_CONTEXT, KUBECONFIG, HOME) and never
// the path, the context or the server.
//
// # Lifecycle
//
// [New] builds the client without contacting the server. [Provider.Start]
// sends one cheap authenticated request (a SelfSubjectReview) within its
// ctx and fails with a [*ConnectError] naming the server when it is down,
// silent or refuses the credentials. [Provider.Ready] answers
// [ErrNotStarted] until Start succeeded. [Provider.Stop] releases the
// client's idle connections, unless it came from [Wrap]. After a restart of
// the API server the readiness check fails, then recovers by itself.
//
// # Non-guarantees
//
// Outside Kubernetes two processes on one host share the host name: give
// each its own GREL_KUBE_IDENTITY when they compete for the same lease.
// client-go has no vendor OpenTelemetry instrumentation of its own here:
// the patterns' spans cover the API calls.
package grelkube
