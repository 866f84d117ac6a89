package cli

import (
	"context"
	"errors"
	"strconv"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
	"github.com/graph-network-harness/harness/config"
)

// Exit codes of the harness command, as cli.md defines them:
//
//	code  constant           meaning
//	0     ExitOK             success
//	1     ExitError          any other runtime error
//	2     ExitUsage          usage error or invalid config
//	3     ExitServiceFailed  a service failed to start, exited, turned unhealthy, or was not
//	                         started because a dependency failed
//	4     ExitUnreachable    the daemon or a host could not be reached
//	5     ExitTimeout        a startup or stop timeout
const (
	ExitOK            = 0
	ExitError         = 1
	ExitUsage         = 2
	ExitServiceFailed = 3
	ExitUnreachable   = 4
	ExitTimeout       = 5
)

// exitError gives an error its exit code. A nil Err means the command already told the
// user everything (validate prints its own report): Main prints nothing more.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return "exit status " + strconv.Itoa(e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode returns err with the exit code code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageError is a command line that does not fit the command: an unknown command or flag, a
// bad flag value, a wrong number of arguments. Main follows it with a hint to run --help.
type usageError struct {
	err error
}

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// exitCode maps an error returned by a command to the exit code of the process. It is the
// only place that decides exit codes:
//
//	an exitError                          its code
//	a usageError, a *config.Error         ExitUsage
//	from the daemon: api.ErrInvalidConfig, ExitUsage (the services file, an unknown service,
//	  api.ErrNotFound, api.ErrBadRequest    a request that does not fit)
//	client.ErrUnreachable                 ExitUnreachable
//	context.DeadlineExceeded (--timeout)  ExitTimeout
//	anything else                         ExitError
func exitCode(err error) int {
	var (
		coded  *exitError
		usage  *usageError
		cfgErr *config.Error
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &coded):
		return coded.code
	case errors.As(err, &usage), errors.As(err, &cfgErr):
		return ExitUsage
	case errors.Is(err, api.ErrInvalidConfig), errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrBadRequest):
		return ExitUsage
	case errors.Is(err, client.ErrUnreachable):
		return ExitUnreachable
	case errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	}
	return ExitError
}
