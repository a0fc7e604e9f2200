package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/lakeflight/lakeflight/expr"
)

// KeySet carries the keys of a join's left input to a KeyFilter inside the
// join's right input, so that right rows no left row can match are dropped
// early: before an aggregation that groups by the join keys, say, which then
// computes only the groups the join will look up. The join (with Publish
// set) fills the set before it reads its right side; the filter waits for
// it.
type KeySet struct {
	ready chan struct{}
	table *joinTable
	keys  int // distinct keys, for EXPLAIN ANALYZE
}

// NewKeySet returns an empty set that a join publishes into once.
func NewKeySet() *KeySet { return &KeySet{ready: make(chan struct{})} }

// publish indexes rec's rows by keys and wakes the filters.
func (s *KeySet) publish(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch) error {
	t, err := buildJoinTable(ctx, keys, rec)
	if err != nil {
		return err
	}
	s.table, s.keys = t, t.keys
	close(s.ready)
	return nil
}

// KeyFilter keeps the rows of its input whose Keys are in Set. Keys have
// the types of the publishing join's left keys.
type KeyFilter struct {
	Input Operator
	Keys  []expr.Expr
	Set   *KeySet

	ctx context.Context
}

var _ Operator = (*KeyFilter)(nil)

func (f *KeyFilter) Schema() *arrow.Schema { return f.Input.Schema() }
func (f *KeyFilter) Children() []Operator  { return []Operator{f.Input} }
func (f *KeyFilter) String() string {
	ks := make([]string, len(f.Keys))
	for i, k := range f.Keys {
		ks[i] = k.String()
	}
	return fmt.Sprintf("KeyFilter (%s) in join keys", strings.Join(ks, ", "))
}

func (f *KeyFilter) Open(ctx context.Context) error {
	if f.ctx == nil {
		f.ctx = ctx
	}
	return f.Input.Open(ctx)
}

func (f *KeyFilter) Next() (arrow.RecordBatch, error) {
	select {
	case <-f.Set.ready:
	case <-f.ctx.Done():
		return nil, context.Cause(f.ctx)
	}
	return nextKept(f.Input, f.apply)
}

func (f *KeyFilter) apply(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	keep, err := f.Set.table.contains(f.ctx, f.Keys, in)
	if err != nil {
		return nil, err
	}
	kept := 0
	for _, k := range keep {
		if k {
			kept++
		}
	}
	if kept == n {
		in.Retain()
		return in, nil
	}
	b := array.NewBooleanBuilder(allocator(f.ctx))
	defer b.Release()
	b.AppendValues(keep, nil)
	mask := b.NewArray()
	defer mask.Release()
	return compute.FilterRecordBatch(f.ctx, in, mask, compute.DefaultFilterOptions())
}

func (f *KeyFilter) Close() error { return f.Input.Close() }
