// Package bench holds side-by-side benchmarks of grelmicro-go against the
// peer libraries a user would otherwise pick. It is its own module so that
// the peers stay out of grelmicro-go's go.mod.
package bench
