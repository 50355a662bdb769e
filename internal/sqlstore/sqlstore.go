// Package sqlstore is what the SQL providers (grelpostgres, grelsqlite)
// share around their migrations and tables: the order and deduplication of
// migrations, the {{schema}} placeholder, the checksum recorded in
// grel_migrations, and the sweeper that deletes idle rows while the app
// runs. The transactions themselves stay in each provider, since they lean
// on the database (an advisory lock, BEGIN IMMEDIATE).
package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"
)

// SchemaPlaceholder in a migration's SQL is replaced by the quoted schema.
const SchemaPlaceholder = "{{schema}}"

// MigrationsTable records the applied migrations, in the migrated schema.
const MigrationsTable = "grel_migrations"

// Migration is the shape of grelpostgres.Migration and grelsqlite.Migration.
type Migration = struct {
	Name string
	SQL  string
}

// Normalize sorts ms by name (stably), drops exact duplicates (two adapters
// may contribute the same table) and refuses a migration without a name or
// one name with two SQL texts. ms itself is left as it is.
func Normalize[M ~Migration](ms []M) ([]M, error) {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b M) int { return cmp.Compare(Migration(a).Name, Migration(b).Name) })
	var uniq []M
	for _, m := range out {
		name := Migration(m).Name
		if name == "" {
			return nil, errors.New("a migration has no name")
		}
		if n := len(uniq); n > 0 && Migration(uniq[n-1]).Name == name {
			if Migration(uniq[n-1]).SQL != Migration(m).SQL {
				return nil, errors.New("two migrations named " + name + " have different SQL")
			}
			continue
		}
		uniq = append(uniq, m)
	}
	return uniq, nil
}

// Migrations contributes ms to the Fx value group group (a provider's
// MigrationsGroup), flattened.
func Migrations[M any](group string, ms []M) fx.Option {
	return fx.Provide(fx.Annotate(func() []M { return ms }, fx.ResultTags(`group:"`+group+`,flatten"`)))
}

// Expand replaces {{schema}} in sql by the quoted schema.
func Expand(sql, quotedSchema string) string {
	return strings.ReplaceAll(sql, SchemaPlaceholder, quotedSchema)
}

// Checksum is what grel_migrations records of a migration's SQL: its
// SHA-256, in hex.
func Checksum(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

// Sweeper calls a sweep function every interval until closed.
type Sweeper struct {
	stop chan struct{}
	done sync.WaitGroup
}

// StartSweeper calls sweep every interval, each call bounded by one
// interval; a failed sweep is retried at the next tick.
func StartSweeper(sweep func(context.Context) (int64, error), interval time.Duration) *Sweeper {
	s := &Sweeper{stop: make(chan struct{})}
	s.done.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), interval)
				_, _ = sweep(ctx)
				cancel()
			}
		}
	})
	return s
}

// Close stops the sweeper and waits for a sweep in progress.
func (s *Sweeper) Close() {
	close(s.stop)
	s.done.Wait()
}

// SweepHook runs a [Sweeper] while the app runs: started in OnStart,
// closed in OnStop, then closeBackend (nil: nothing) releases the backend.
func SweepHook(sweep func(context.Context) (int64, error), interval time.Duration, closeBackend func() error) fx.Hook {
	var s *Sweeper
	return fx.Hook{
		OnStart: func(context.Context) error { s = StartSweeper(sweep, interval); return nil },
		OnStop: func(context.Context) error {
			if s != nil {
				s.Close()
			}
			if closeBackend == nil {
				return nil
			}
			return closeBackend()
		},
	}
}
