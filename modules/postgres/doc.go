// Package grelpostgres is grelmicro's PostgreSQL provider: one shared pgx v5
// pool (pgxpool) per instance, configured by the vendor's variables, with
// its lifecycle, its migrations and its readiness check. The adapters that
// make PostgreSQL serve the patterns' Backends live beside it.
//
// # Config
//
// The default instance reads DATABASE_URL, else POSTGRES_URL (a
// postgres:// URL, hosts comma-separated, or a keyword=value string), and
// libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
// PGSSLMODE, ...) fill what the string leaves out, as in libpq. A named
// instance reads DATABASE_{NAME}_URL, else POSTGRES_{NAME}_URL. Pool
// settings are pgxpool's query parameters (pool_max_conns,
// pool_min_conns, pool_max_conn_lifetime, ...). grelmicro's own settings
// are GREL_POSTGRES_SCHEMA (default public) and GREL_POSTGRES_MIGRATE
// (default true), with the usual GREL_POSTGRES_{NAME}_* per instance.
// Everything is read through a grelconfig.Registry, so describe lists it
// with passwords redacted.
//
// # Lifecycle and migrations
//
// [New] creates the pool without connecting. [Provider.Start] runs SELECT 1
// within its ctx (a [*ConnectError] naming the server, never the password,
// when it is down or silent), then applies the pending migrations. [Migrate]
// applies migrations in one transaction under pg_advisory_xact_lock, so
// replicas that start together apply each once, and PgBouncer's transaction
// pooling is fine. Adapters contribute their DDL to [MigrationsGroup] with
// [Migrations]. [Provider.Stop] closes the pool, unless it came from
// [Wrap]. With Fx the hooks order Stop after every pattern that uses the
// pool.
//
// # Guarantees
//
//   - Start never outlasts its ctx; no error contains a password.
//   - A migration applies once per schema; a failing call applies nothing.
//   - After a server restart pgxpool drops the broken connections: the
//     readiness check recovers and the pool works again without a restart.
//   - Tracing is the otelpgx tracer, on only with a non-no-op tracer
//     provider; query arguments are not recorded.
//
// # Non-guarantees
//
// Applied migrations are never re-run, even if their SQL changed (it is
// recorded with a checksum for inspection). pgx also reads the process's own
// PG* variables beneath the settings given here. Creating a pool starts
// pgxpool's background health check: call Stop (Fx does) even when Start was
// never called.
package grelpostgres
