package planner

import (
	"errors"
	"fmt"
)

// Errors of planning. The server maps each to a gRPC code; the wrapped
// message names the construct, object or position involved.
var (
	// ErrSyntax is a SQL syntax error.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported is valid SQL that lakeflight does not run.
	ErrUnsupported = errors.New("not supported")
	// ErrNoSuchColumn names a column that the table does not have.
	ErrNoSuchColumn = errors.New("column not found")
	// ErrInvalid is a semantic error: a type mismatch, a bad literal, an
	// ambiguous name, a wrong parameter count.
	ErrInvalid = errors.New("invalid query")
)

// SyntaxError is a syntax error at a position of the statement.
type SyntaxError struct {
	Msg string
	// Pos is the 1-based character position, 0 when unknown.
	Pos int
}

func (e *SyntaxError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("syntax error at position %d: %s", e.Pos, e.Msg)
	}
	return "syntax error: " + e.Msg
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
