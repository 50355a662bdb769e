// Package grelmatch is the outcome DSL shared by grelmicro's resilience
// patterns: what grelretry retries, what grelbreaker counts as a failure or
// ignores, when grelfallback falls back.
//
// A [Matcher] looks at the outcome of one call: its error, matched by
// identity ([Is], errors.Is), by type ([As], [AsFunc], errors.As), by message
// ([Message], [MessageRegexp]) or by any predicate ([Error], [Cause]), and in
// the generic forms its result ([Result]). Matchers combine with [Not], [And]
// and [Or].
//
//	retryable := grelmatch.And(
//		grelmatch.Or(grelmatch.Is(io.ErrUnexpectedEOF), grelmatch.As[*net.OpError]()),
//		grelmatch.Not(grelmatch.Is(ErrInvalidInput)),
//	)
//
// # Caller cancellation
//
// The patterns treat the caller's own cancellation as neutral by default:
// neither a success nor a failure, never retried, never a reason to fall
// back. Precisely, an outcome is a caller cancellation ([IsCallerCanceled],
// [CallerCanceled]) when the context the caller passed to the pattern is done
// and the error is context.Canceled, context.DeadlineExceeded or that
// context's cause. A deadline that fires inside the call while the caller's
// context is still live (a client timeout, an inner context.WithTimeout, a
// greltimeout nested in the pattern) is an ordinary error.
//
// # Guarantees
//
//   - Every error matcher searches the whole cause chain: Unwrap() error and
//     Unwrap() []error (errors.Join, fmt.Errorf with several %w), depth first.
//   - Matchers are immutable and safe for concurrent use; evaluating one on a
//     nil error that holds no result predicate allocates nothing.
//
// # Non-guarantees
//
//   - A [Result] predicate of one type never matches results of another type,
//     and never matches when the call returned an error.
//   - Error predicates ([Error], [Cause], [AsFunc]) are called synchronously
//     and must not block.
package grelmatch
