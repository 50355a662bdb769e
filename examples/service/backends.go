package main

import (
	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
)

// backendsFor picks the one store the patterns share, from the deployment's
// own variables: Redis when REDIS_URL is set (locks, elections, rate limits
// and breaker state), else PostgreSQL when DATABASE_URL or POSTGRES_URL is
// set (locks, elections, rate limits), else SQLite in the file
// GREL_SQLITE_PATH (./grelmicro.db; locks, elections, rate limits). A
// pattern the store does not serve keeps its in-memory backend, and says so
// in the log. The choice is the deployment's: the toolkit's config contract
// never lets GREL_* variables choose a backend.
func backendsFor(src grelconfig.Source) (string, fx.Option) {
	if _, ok := src.Lookup("REDIS_URL"); ok {
		return "redis", fx.Options(grelredis.Module, grelredis.Backends)
	}
	for _, v := range []string{"DATABASE_URL", "POSTGRES_URL"} {
		if _, ok := src.Lookup(v); ok {
			return "postgres", fx.Options(grelpostgres.Module, grelpostgres.Backends)
		}
	}
	return "sqlite", fx.Options(grelsqlite.Module, grelsqlite.Backends)
}
