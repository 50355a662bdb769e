// Package grelsqlite is grelmicro's SQLite provider: one shared database per
// instance on modernc.org/sqlite (pure Go, no cgo), its config, its
// lifecycle, its migrations and its readiness check. SQLite is the durable
// embedded default for one host; the adapters that make it serve the
// patterns' Backends live beside it.
//
// # Config
//
// GREL_SQLITE_PATH (default ./grelmicro.db, in the working folder),
// GREL_SQLITE_BUSY_TIMEOUT (5s), GREL_SQLITE_SYNCHRONOUS (NORMAL),
// GREL_SQLITE_MAX_OPEN_CONNS (4) and GREL_SQLITE_MIGRATE (true), with
// GREL_SQLITE_{NAME}_* per named instance. SQLite has no vendor variables.
//
// # Writes
//
// The database runs in WAL mode (readers never wait for the writer) and
// every read-write transaction begins IMMEDIATE, so a transaction holds the
// write lock from its start and never fails half-way on an upgrade.
// [DB.Write] runs one write at a time per DB and retries SQLite's
// "database is locked" with backoff until the busy timeout, within the ctx:
// several processes on one host can share the file and their writers see
// no such error. [DB.Read] gives a consistent read-only snapshot.
//
// # Lifecycle
//
// [New] opens the database without touching the file. [Provider.Start]
// creates the folder if missing, runs SELECT 1, and applies the migrations
// of [MigrationsGroup] (contributed with [Migrations]) in one BEGIN IMMEDIATE
// transaction ([Migrate]). [Provider.Ready] answers [ErrNotStarted] until
// Start succeeded and [ErrStopped] after Stop. [Provider.Stop] closes it
// unless it came from [Wrap]. Instance names follow one rule for every
// provider (letters, digits, '.', '_', '-'): another name fails [New] and
// [Named].
//
// # Non-guarantees
//
// WAL needs a local file system: do not share the file over NFS or between
// hosts. A write that waits for a lock notices a done ctx within 200ms (the
// slice of SQLite's own busy wait). The function given to Write may run
// more than once. There is no vendor OpenTelemetry instrumentation for this
// driver: the patterns' own spans cover SQLite operations.
package grelsqlite
