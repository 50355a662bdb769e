package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"cirello.io/pglock"
	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelkube "github.com/grelmicro/grelmicro-go/modules/kube"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// lockNoEnv keeps the benchmarked locks away from the environment.
var lockNoEnv = grellock.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))

// roundTrips counts what each client sends to its server: commands for
// Redis (a go-redis hook), statements for PostgreSQL (a pgx tracer, a
// database/sql driver wrapper), requests for Kubernetes (a transport).
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) report(b *testing.B) {
	b.ReportMetric(float64(c.n.Load())/float64(b.N), "roundtrips/op")
}

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}
func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BenchmarkLockAcquireRelease acquires a free lock and releases it, one
// goroutine, on each store: BenchmarkLockAcquireRelease/<store>/<impl>, grel
// against the peer a user of that store would pick, on the same client
// (same options, same pool, the same counting hook and nothing else). Each
// op is one acquisition and one release.
//
//	go test -run '^$' -bench 'LockAcquireRelease|LeaderRenew' -benchmem . | go run ./cmd/benchratio
func BenchmarkLockAcquireRelease(b *testing.B) {
	ctx := context.Background()
	grelLoop := func(b *testing.B, backend grellock.Backend, rt *roundTrips) {
		l, err := grellock.New("bench-lock", backend, lockNoEnv, grellock.WithLeaseDuration(30*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		// Warm the script cache and the statement cache.
		h, err := l.TryAcquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		_ = h.Release(ctx)
		if rt != nil {
			rt.n.Store(0)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			h, err := l.TryAcquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if rt != nil {
			rt.report(b)
		}
	}
	redisClient := func(b *testing.B) (*redis.Client, *roundTrips, string) {
		env := testenv.Redis(b)
		opts, err := redis.ParseURL(env.URL)
		if err != nil {
			b.Fatal(err)
		}
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(opts)
		b.Cleanup(func() { _ = c.Close() })
		rt := &roundTrips{}
		c.AddHook(rt)
		return c, rt, env.Prefix
	}

	b.Run("memory", func(b *testing.B) {
		b.Run("grel", func(b *testing.B) { grelLoop(b, grellock.NewMemory(), nil) })
	})

	b.Run("redis", func(b *testing.B) {
		b.Run("grel", func(b *testing.B) {
			c, rt, prefix := redisClient(b)
			grelLoop(b, grelredis.NewLockBackend(c, grelredis.WithLockPrefix(prefix)), rt)
		})
		b.Run("redsync", func(b *testing.B) {
			c, rt, prefix := redisClient(b)
			rs := redsync.New(redsyncgoredis.NewPool(c))
			m := rs.NewMutex(prefix+"bench-lock", redsync.WithExpiry(30*time.Second), redsync.WithTries(1))
			// Warm the script cache.
			if err := m.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := m.UnlockContext(ctx); err != nil {
				b.Fatal(err)
			}
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := m.LockContext(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := m.UnlockContext(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.report(b)
		})
		b.Run("redislock", func(b *testing.B) {
			c, rt, prefix := redisClient(b)
			locker := redislock.New(c)
			l, err := locker.Obtain(ctx, prefix+"bench-lock", 30*time.Second, nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = l.Release(ctx)
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l, err := locker.Obtain(ctx, prefix+"bench-lock", 30*time.Second, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.report(b)
		})
	})

	b.Run("postgres", func(b *testing.B) {
		b.Run("grel", func(b *testing.B) {
			env := testenv.Postgres(b)
			cfg, err := pgxpool.ParseConfig(env.URL)
			if err != nil {
				b.Fatal(err)
			}
			rt := &roundTrips{}
			cfg.ConnConfig.Tracer = rt
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			if err := grelpostgres.Migrate(ctx, pool, env.Schema, grelpostgres.LockMigration); err != nil {
				b.Fatal(err)
			}
			grelLoop(b, grelpostgres.NewLockBackend(pool, env.Schema), rt)
		})
		b.Run("pglock", func(b *testing.B) {
			env := testenv.Postgres(b)
			connector, err := pq.NewConnector(env.URL)
			if err != nil {
				b.Fatal(err)
			}
			rt := &roundTrips{}
			db := sql.OpenDB(countingConnector{Connector: connector, rt: rt})
			b.Cleanup(func() { _ = db.Close() })
			c, err := pglock.New(db, pglock.WithLeaseDuration(30*time.Second), pglock.WithHeartbeatFrequency(0))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.CreateTable(); err != nil {
				b.Fatal(err)
			}
			l, err := c.AcquireContext(ctx, "bench-lock")
			if err != nil {
				b.Fatal(err)
			}
			_ = c.ReleaseContext(ctx, l)
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l, err := c.AcquireContext(ctx, "bench-lock")
				if err != nil {
					b.Fatal(err)
				}
				if err := c.ReleaseContext(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.report(b)
		})
	})

	b.Run("sqlite", func(b *testing.B) {
		b.Run("grel", func(b *testing.B) {
			cfg := grelsqlite.DefaultConfig()
			cfg.Path = testenv.SQLitePath(b)
			db, err := grelsqlite.Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			if err := grelsqlite.Migrate(ctx, db, "", grelsqlite.LockMigration); err != nil {
				b.Fatal(err)
			}
			grelLoop(b, grelsqlite.NewLockBackend(db, ""), nil)
		})
	})
}

// BenchmarkLeaderRenew is the leader's renewal on a real kube-apiserver:
// grel's hold extension against client-go's LeaseLock update (its
// optimistic fast path: one update from the last observed Lease).
func BenchmarkLeaderRenew(b *testing.B) {
	ctx := context.Background()
	client := func(b *testing.B) (kubernetes.Interface, *roundTrips, string) {
		env := testenv.Kube(b)
		rt := &roundTrips{}
		cfg := rest.CopyConfig(env.Config)
		cfg.QPS, cfg.Burst = 1e6, 1e6
		cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper { return countingTransport{next: next, rt: rt} }
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return c, rt, env.Namespace
	}
	b.Run("kube", func(b *testing.B) {
		b.Run("grel", func(b *testing.B) {
			c, rt, ns := client(b)
			l, err := grellock.New("bench-leader", grelkube.NewLockBackend(c, ns), lockNoEnv, grellock.WithLeaseDuration(15*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			h, err := l.TryAcquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = h.Release(ctx) }()
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := h.Extend(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.report(b)
		})
		b.Run("client-go-leaselock", func(b *testing.B) {
			c, rt, ns := client(b)
			lock := &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Name: "bench-leader", Namespace: ns},
				Client:     c.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: "bench"},
			}
			now := metav1.NewTime(time.Now())
			rec := resourcelock.LeaderElectionRecord{HolderIdentity: "bench", LeaseDurationSeconds: 15, AcquireTime: now, RenewTime: now}
			if err := lock.Create(ctx, rec); err != nil {
				b.Fatal(err)
			}
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec.RenewTime = metav1.NewTime(time.Now())
				if err := lock.Update(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.report(b)
		})
	})
}

type countingTransport struct {
	next http.RoundTripper
	rt   *roundTrips
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.rt.n.Add(1)
	return t.next.RoundTrip(r)
}

// countingConnector counts the statements, begins and commits a
// database/sql client sends (each one round trip with lib/pq).
type countingConnector struct {
	driver.Connector
	rt *roundTrips
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, rt: c.rt}, nil
}

type countingConn struct {
	driver.Conn
	rt *roundTrips
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.rt.n.Add(1)
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{Tx: tx, rt: c.rt}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.rt.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.rt.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

type countingTx struct {
	driver.Tx
	rt *roundTrips
}

func (t countingTx) Commit() error   { t.rt.n.Add(1); return t.Tx.Commit() }
func (t countingTx) Rollback() error { t.rt.n.Add(1); return t.Tx.Rollback() }
