package executor

import (
	"context"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// countingSource yields n batches of one int64 column numbered from start.
type countingSource struct {
	mem    memory.Allocator
	start  int64
	n, at  int
	schema *arrow.Schema
	closed bool
}

func (c *countingSource) Schema() *arrow.Schema      { return c.schema }
func (c *countingSource) Children() []Operator       { return nil }
func (c *countingSource) String() string             { return "countingSource" }
func (c *countingSource) Open(context.Context) error { return nil }
func (c *countingSource) Close() error               { c.closed = true; return nil }
func (c *countingSource) Next() (arrow.RecordBatch, error) {
	if c.at >= c.n {
		return nil, io.EOF
	}
	b := array.NewInt64Builder(c.mem)
	defer b.Release()
	for i := 0; i < 10; i++ {
		b.Append(c.start + int64(c.at*10+i))
	}
	c.at++
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(c.schema, []arrow.Array{col}, 10), nil
}

func TestExchangeYieldsEveryBatchOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var inputs []Operator
	for p := 0; p < 3; p++ {
		inputs = append(inputs, &countingSource{mem: mem, start: int64(p) * 1000, n: 20, schema: schema})
	}
	ex := &Exchange{Inputs: inputs, Output: schema}
	seen := map[int64]bool{}
	err := Drain(WithAllocator(context.Background(), mem), ex, func(rec arrow.RecordBatch) error {
		col := rec.Column(0).(*array.Int64)
		for i := 0; i < col.Len(); i++ {
			if seen[col.Value(i)] {
				t.Fatalf("value %d twice", col.Value(i))
			}
			seen[col.Value(i)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3*20*10 {
		t.Fatalf("%d values, want 600", len(seen))
	}
	for _, in := range inputs {
		if !in.(*countingSource).closed {
			t.Error("input not closed")
		}
	}
}

func TestExchangeCloseEarlyReleasesBuffered(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	ex := &Exchange{Inputs: []Operator{
		&countingSource{mem: mem, n: 1000, schema: schema},
		&countingSource{mem: mem, n: 1000, schema: schema},
	}, Output: schema}
	if err := ex.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := ex.Next()
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	// Producers are blocked on a full buffer; Close must unblock them and
	// free what they queued.
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Next(); err != io.EOF {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestExchangeCloseBeforeOpen(t *testing.T) {
	ex := &Exchange{}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
}
