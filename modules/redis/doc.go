// Package grelredis is grelmicro's Redis provider: one shared go-redis v9
// client per instance, configured by the vendor's REDIS_URL, with its
// lifecycle and its readiness check. The adapters that make Redis serve the
// patterns' Backends live beside it.
//
// # Config
//
// The default instance reads REDIS_URL (default [DefaultURL]); a named
// instance reads REDIS_{NAME}_URL, NAME normalised like
// grelconfig.NormalizeName. [ParseURL] lists the accepted forms: single
// server (redis://, rediss://, unix://), Sentinel (redis+sentinel://) and
// Cluster (redis+cluster://), with go-redis's pool and timeout query
// parameters. Both are read through a grelconfig.Registry, so an app's
// describe output lists them with the password redacted.
//
// # Lifecycle
//
// [New] parses and builds the client without connecting. [Provider.Start]
// sends PING within its ctx and fails with a [*ConnectError] naming the
// address (password redacted) when the server is down or silent.
// [Provider.Ready] answers [ErrNotStarted] until Start succeeded and
// [ErrStopped] after Stop. [Provider.Stop] closes the client, unless it came
// from [Wrap]: a client the app owns is never closed by the provider; a
// PING still in flight when Stop's ctx ends makes Stop return an error that
// says so. Instance names follow one rule for every provider (letters,
// digits, '.', '_', '-'): another name fails [New] and [Named]. With Fx ([Module], [Named],
// [FromClient]) Start and Stop are lifecycle hooks, so a pattern that uses
// the client stops before the client closes.
//
// # Guarantees
//
//   - Start never outlasts its ctx, whatever the client's own timeouts.
//   - No error message contains a password or the raw URL.
//   - go-redis reconnects by itself: after a server restart the readiness
//     check recovers and the client works again without an app restart.
//   - Clients the provider creates honour ctx deadlines per command
//     (go-redis ContextTimeoutEnabled, on by default here).
//   - Tracing uses go-redis's own redisotel instrumentation, switched on
//     only when a non-no-op tracer provider is given; command arguments are
//     not recorded.
//
// # Non-guarantees
//
// The provider does not retry or buffer commands while Redis is down: that
// is the patterns' policy. Sentinel and Cluster failover is go-redis's.
// go-redis starts background goroutines when a client is created: call
// Stop (Fx does) even when Start was never called or failed. go-redis logs
// its own dial failures through its package-level logger (redis.SetLogger
// is the app's to change).
package grelredis
