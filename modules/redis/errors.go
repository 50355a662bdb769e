package grelredis

import (
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

var (
	// ErrInvalidURL matches every [*URLError] with errors.Is.
	ErrInvalidURL = errors.New("grelredis: invalid Redis URL")
	// ErrUnavailable matches every [*ConnectError]: the server could not be
	// reached or did not answer PING in time.
	ErrUnavailable = errors.New("grelredis: redis unavailable")
	// ErrNotStarted is returned by [Provider.Ready] before Start succeeded.
	ErrNotStarted = errors.New("grelredis: provider not started")
	// ErrStopped is returned by [Provider.Ready] and [Provider.Start] after
	// Stop.
	ErrStopped = errors.New("grelredis: provider stopped")
)

// URLError is a REDIS_URL that could not be parsed. It names the variable
// and the reason, never the URL (it may carry a password).
type URLError struct {
	// Variable is the variable that held the URL (REDIS_URL, REDIS_CACHE_URL);
	// empty for a URL given in code.
	Variable string
	// Reason says what is wrong, without the value.
	Reason string
}

func (e *URLError) Error() string {
	where := "URL given in code"
	if e.Variable != "" {
		where = e.Variable
	}
	return "grelredis: " + where + ": invalid Redis URL: " + e.Reason
}

// Is matches [ErrInvalidURL] and grelconfig.ErrInvalid: a bad URL is a bad
// config value.
func (e *URLError) Is(target error) bool {
	return target == ErrInvalidURL || target == grelconfig.ErrInvalid
}

// ConnectError is a failed connect-and-ping at start (or a failed readiness
// check). Addr is the server's address with any password redacted.
type ConnectError struct {
	// Name is the provider instance ("" for the default).
	Name string
	// Addr is the address the client dials, password redacted.
	Addr string
	// Err is the cause (a dial error, a timeout, ctx.Err()).
	Err error
}

func (e *ConnectError) Error() string {
	return provider.Unreachable("grelredis", "cannot reach", e.Addr, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Is matches [ErrUnavailable].
func (e *ConnectError) Is(target error) bool { return target == ErrUnavailable }
