package grelkube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/fx"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelkube "github.com/grelmicro/grelmicro-go/modules/kube"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: "https://kube.example:6443"}}
users:
- {name: app, user: {token: secret}}
contexts:
- {name: prod, context: {cluster: prod, user: app, namespace: shop}}
current-context: prod
`

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "grelkube-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config")
	_ = os.WriteFile(path, []byte(kubeconfig), 0o600)

	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"KUBECONFIG": path,
		"POD_NAME":   "cart-7d9f-x2k4", // from the downward API in a pod
	}))
	p, err := grelkube.New("", grelkube.WithRegistry(reg), grelkube.WithServiceAccountDir(dir))
	if err != nil {
		panic(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	fmt.Println(p.Addr(), p.Source())
	fmt.Println(p.Namespace(), p.Identity(), p.HealthCheck().Name)
	// Output:
	// https://kube.example:6443 kubeconfig (KUBECONFIG)
	// shop cart-7d9f-x2k4 kube
}

func ExampleWrap() {
	rc := &rest.Config{Host: "https://kube.example:6443"}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		panic(err)
	}
	p, err := grelkube.Wrap("", client, rc, grelkube.WithNamespace("shop"), grelkube.WithIdentity("worker-1"),
		grelkube.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Owned(), p.Instance().Namespace, p.Instance().Identity)
	// Output: false shop worker-1
}

func ExampleNamed() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_KUBE_KUBECONFIG":        "/etc/kube/primary",
		"GREL_KUBE_BACKUP_KUBECONFIG": "/etc/kube/backup", // a second cluster
	}))
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(reg),
		grelkube.Module,
		grelkube.Named("backup"),
		fx.Invoke(fx.Annotate(func(primary, backup kubernetes.Interface) {}, fx.ParamTags("", grelkube.Tag("backup")))),
	}
	fmt.Println(fx.ValidateApp(opts...))
	// Output: <nil>
}
