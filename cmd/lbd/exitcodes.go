package main

import (
	"errors"

	"github.com/lbd-dev/lbd/client"
)

// Exit codes of lbd.
const (
	exitOK          = 0
	exitFailure     = 1 // a task failed or was canceled (submit -wait), or a node or check failed
	exitUsage       = 2 // bad flags, arguments or input file; nothing was sent
	exitUnreachable = 3 // the master did not respond, or its TLS setup does not match the client's
	exitRejected    = 4 // the master rejected a request with an error status (4xx or 5xx)
)

// exitCodeOf returns the exit code for an error of a client request.
func exitCodeOf(err error) int {
	var apiErr *client.APIError
	switch {
	case errors.Is(err, client.ErrInvalidAddress), errors.Is(err, client.ErrInvalidCAFile):
		return exitUsage
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrTLS):
		return exitUnreachable
	case errors.As(err, &apiErr):
		return exitRejected
	}
	return exitFailure
}
