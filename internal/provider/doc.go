// Package provider is what the provider packages (grelredis, grelpostgres,
// grelsqlite, grelkube) share: the Fx wiring of one named instance (the
// client, the *Provider, the Instance in the instances group and the
// readiness check, started by an invoke and closed by the Module itself when
// its start fails), the mapping of the instances group onto a pattern's
// backend group, the start deadline margin, the stopped state, the messages
// of the connect errors and the redaction of URLs.
//
// It holds no state of its own and changes nothing at init. Each provider
// package keeps its exported API (types, errors, options) and delegates the
// logic here, so the contract in docs/architecture.md ("Providers") and
// docs/providers.md is written once.
package provider
