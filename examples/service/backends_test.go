package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

// The service runs on SQLite with nothing set, and on Redis or PostgreSQL
// when the deployment points it there: the lock route answers with a fence
// the chosen store minted, and /healthz lists that store's check.
func TestStoreFollowsTheDeployment(t *testing.T) {
	tests := []struct {
		store string
		env   func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string {
			return map[string]string{"GREL_SQLITE_PATH": filepath.Join(t.TempDir(), "service.db")}
		}},
		{"redis", func(t *testing.T) map[string]string { return map[string]string{"REDIS_URL": testenv.Redis(t).URL} }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": testenv.Postgres(t).URL}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.store, func(t *testing.T) {
			env := tt.env(t)
			env["GREL_HTTP_ADDR"] = "127.0.0.1:0"
			store, opt := backendsFor(grelconfig.Map(env))
			if store != tt.store {
				t.Fatalf("store = %s, want %s", store, tt.store)
			}
			var srv *Server
			opts := append([]fx.Option{serverModule, opt, fx.Populate(&srv)}, patterns...)
			fxgreltest.Start(t, env, opts...)
			base := "http://" + srv.Addr().String()

			resp, body := do(t, http.MethodPost, base+"/coordination/report")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("lock route: %d %s", resp.StatusCode, body)
			}
			var held struct{ Fence uint64 }
			if err := json.Unmarshal(body, &held); err != nil || held.Fence == 0 {
				t.Fatalf("lock route body %s: %v", body, err)
			}

			// The store's own readiness check is there and passes.
			if resp, body := get(t, base+"/readyz/"+tt.store, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("/readyz/%s: %d %s", tt.store, resp.StatusCode, body)
			}
		})
	}
}

func do(t *testing.T, method, url string) (response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{StatusCode: resp.StatusCode, Header: resp.Header}, body
}
