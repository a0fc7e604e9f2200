package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/planner"
	"github.com/lakeflight/lakeflight/scan"
)

// Errors of the server layer.
var (
	errBadTicket       = errors.New("ticket is not valid")
	errUnauthenticated = errors.New("unauthenticated")
	errBadRequest      = errors.New("bad request")
	errUnimplemented   = errors.New("not implemented")
	errInternal        = errors.New("internal error")
)

// toStatus is the one place that maps errors to gRPC status codes. The
// message keeps the wrapped context so a user can act on it.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, planner.ErrSyntax), errors.Is(err, planner.ErrInvalid),
		errors.Is(err, executor.ErrUnboundParam), errors.Is(err, errBadRequest),
		errors.Is(err, executor.ErrDivisionByZero), errors.Is(err, executor.ErrOverflow),
		errors.Is(err, executor.ErrFunction), errors.Is(err, executor.ErrUnsupportedType),
		errors.Is(err, catalog.ErrInvalidURI), errors.Is(err, changes.ErrInvalidRange),
		errors.Is(err, lookup.ErrNoKey):
		code = codes.InvalidArgument
	case errors.Is(err, planner.ErrUnsupported), errors.Is(err, errUnimplemented):
		code = codes.Unimplemented
	case errors.Is(err, catalog.ErrNoSuchTable), errors.Is(err, catalog.ErrNoSuchNamespace),
		errors.Is(err, planner.ErrNoSuchColumn), errors.Is(err, scan.ErrNoSuchSnapshot), errors.Is(err, changes.ErrNoSuchSnapshot):
		code = codes.NotFound
	case errors.Is(err, executor.ErrMemoryLimit), errors.Is(err, lookup.ErrMemory):
		code = codes.ResourceExhausted
	case errors.Is(err, errBadTicket):
		code = codes.PermissionDenied
	case errors.Is(err, errUnauthenticated):
		code = codes.Unauthenticated
	}
	return status.Error(code, err.Error())
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}
