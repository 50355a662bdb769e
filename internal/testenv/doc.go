// Package testenv gives tests real servers: Redis, PostgreSQL, SQLite files
// and a real kube-apiserver (with etcd), each isolated per test.
//
// The shared servers are started by scripts/testenv (make test does it),
// which writes their addresses to <repo>/.testenv/env. A variable set in the
// process environment (GREL_TEST_REDIS_URL, GREL_TEST_POSTGRES_URL,
// GREL_TEST_KUBECONFIG) wins over that file; the file is found by walking up
// from the working directory to the go.mod of github.com/grelmicro/grelmicro-go
// (GREL_TESTENV_DIR names another state folder). So after
//
//	scripts/testenv start
//
// a plain go test works without sourcing anything.
//
// # Isolation
//
//   - [Redis]: a key prefix unique to the test; every key under it is deleted
//     at cleanup (SCAN + UNLINK).
//   - [Postgres]: a fresh schema; the returned URL sets search_path to it; the
//     schema is dropped (CASCADE) at cleanup.
//   - [Kube]: a fresh namespace; its leases, config maps and events are
//     deleted and the namespace removed at cleanup.
//   - [SQLitePath]: a database file under t.TempDir().
//   - [StartRedis], [StartPostgres], [StartKube]: a private server process
//     for tests that stop and restart the server under a client (for
//     StartKube, a kube-apiserver with its own etcd: the binaries that
//     scripts/testenv records as GREL_TEST_KUBE_APISERVER and
//     GREL_TEST_ETCD); stopped at cleanup.
//   - [StartPgBouncer]: a private PgBouncer in transaction pooling mode in
//     front of a PostgreSQL server (Debian's pgbouncer, installed by
//     scripts/testenv); stopped at cleanup.
//
// # Absent servers
//
// A server that is not configured or does not answer a ping within 2s skips
// the test with the command that starts it. Under CI=true (see [InCI]) the
// test fails instead: CI must never pass by skipping.
//
// # Non-guarantees
//
// Isolation is by naming only: a test that reaches outside its prefix,
// schema or namespace can see and disturb other tests. Cleanup of a
// PostgreSQL schema waits for the test's own connections' locks: close pools
// in the test (their cleanups run before this package's). Stop, Start and
// Restart of the private processes call t.Fatal on failure, so call them from
// the test's goroutine.
package testenv
