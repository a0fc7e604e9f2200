// Package executor runs physical plans: a tree of vectorized operators over
// Arrow record batches, and the evaluation of expressions over batches.
//
// # Operator lifecycle
//
// An Operator is driven by one goroutine. Open prepares it and its children
// (calling Open again does nothing). Next returns the next batch, which the
// caller owns and must Release, or io.EOF once the stream has ended (and on
// every call after that). Close releases everything the operator holds; it is
// safe before Open, after an error, and more than once. The context given to
// Open is the one the operator works under until Close.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Operator is one node of a physical plan.
type Operator interface {
	// Schema is the schema of every batch Next returns.
	Schema() *arrow.Schema
	// Open prepares the operator and its children. It is idempotent.
	Open(ctx context.Context) error
	// Next returns the next non-empty batch, owned by the caller, or io.EOF.
	Next() (arrow.RecordBatch, error)
	// Close releases the operator's resources and closes its children.
	Close() error
	// Children are the operator's inputs.
	Children() []Operator
	// String describes the operator alone, for EXPLAIN.
	String() string
}

// Explain renders an operator tree, one operator per line, children indented.
func Explain(op Operator) string {
	var b strings.Builder
	var walk func(op Operator, depth int)
	walk = func(op Operator, depth int) {
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth), op.String())
		for _, c := range op.Children() {
			walk(c, depth+1)
		}
	}
	walk(op, 0)
	return b.String()
}

// Drain runs op to the end, calling fn with each batch (fn must not keep the
// batch past its return without Retain). It opens and closes op.
func Drain(ctx context.Context, op Operator, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if cerr := op.Close(); err == nil {
			err = cerr
		}
	}()
	if err := op.Open(ctx); err != nil {
		return err
	}
	for {
		rec, err := op.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
	}
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }
