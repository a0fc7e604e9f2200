package executor

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Values yields one constant batch: either Rows rows of a schema without
// columns (the input of SELECT without FROM), or one string column holding
// Strings (EXPLAIN output).
type Values struct {
	Output  *arrow.Schema
	Rows    int64
	Strings []string

	ctx  context.Context
	done bool
}

var _ Operator = (*Values)(nil)

func (v *Values) Schema() *arrow.Schema { return v.Output }
func (v *Values) Children() []Operator  { return nil }
func (v *Values) String() string {
	if v.Strings != nil {
		return fmt.Sprintf("Values %d rows", len(v.Strings))
	}
	return fmt.Sprintf("Values %d rows", v.Rows)
}

func (v *Values) Open(ctx context.Context) error {
	if v.ctx == nil {
		v.ctx = ctx
	}
	return nil
}

func (v *Values) Next() (arrow.RecordBatch, error) {
	if v.done {
		return nil, io.EOF
	}
	v.done = true
	if v.Strings == nil {
		if v.Rows == 0 {
			return nil, io.EOF
		}
		return array.NewRecordBatch(v.Output, nil, v.Rows), nil
	}
	if len(v.Strings) == 0 {
		return nil, io.EOF
	}
	b := array.NewStringBuilder(allocator(v.ctx))
	defer b.Release()
	b.AppendValues(v.Strings, nil)
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(v.Output, []arrow.Array{col}, int64(len(v.Strings))), nil
}

func (v *Values) Close() error { return nil }
