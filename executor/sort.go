package executor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/lakeflight/lakeflight/expr"
)

// SortKey is one ORDER BY term. PostgreSQL's default puts NULLs last in
// ascending and first in descending order; NullsFirst says where they go.
type SortKey struct {
	Expr       expr.Expr
	Desc       bool
	NullsFirst bool
}

func (k SortKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst != k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

// Sort orders its whole input by Keys. With Limit >= 0 it keeps only rows
// Offset..Offset+Limit of the order (top-N).
type Sort struct {
	Input  Operator
	Keys   []SortKey
	Limit  int64 // -1 for all rows
	Offset int64

	ctx  context.Context
	out  []arrow.RecordBatch
	done bool
	heldMemory
}

var _ Operator = (*Sort)(nil)

func (s *Sort) Schema() *arrow.Schema { return s.Input.Schema() }
func (s *Sort) Children() []Operator  { return []Operator{s.Input} }
func (s *Sort) String() string {
	parts := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		parts[i] = k.String()
	}
	if s.Limit >= 0 {
		return fmt.Sprintf("TopN %d offset %d by %s", s.Limit, s.Offset, strings.Join(parts, ", "))
	}
	return "Sort by " + strings.Join(parts, ", ")
}

func (s *Sort) Open(ctx context.Context) error {
	if s.ctx != nil {
		return nil
	}
	s.ctx = ctx
	return s.Input.Open(ctx)
}

func (s *Sort) Next() (arrow.RecordBatch, error) {
	if !s.done {
		s.done = true
		if err := s.run(); err != nil {
			return nil, err
		}
	}
	if len(s.out) == 0 {
		return nil, io.EOF
	}
	r := s.out[0]
	s.out = s.out[1:]
	return r, nil
}

func (s *Sort) run() error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	// For top-N, keep only the best rows seen so far whenever the buffered
	// rows grow well past N.
	keep := int64(-1)
	if s.Limit >= 0 {
		keep = s.Limit + max(s.Offset, 0)
	}
	var buffered int64
	for {
		in, err := s.Input.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		batches = append(batches, in)
		buffered += in.NumRows()
		s.add(recordBytes(in))
		if keep >= 0 && buffered >= max(4*keep, 65536) {
			top, err := s.sorted(batches, 0, keep)
			if err != nil {
				return err
			}
			for _, b := range batches {
				s.add(-recordBytes(b))
				b.Release()
			}
			batches, buffered = nil, 0
			if top != nil {
				batches, buffered = []arrow.RecordBatch{top}, top.NumRows()
				s.add(recordBytes(top))
			}
		}
		if err := checkMemory(s.ctx, "ORDER BY"); err != nil {
			return err
		}
	}
	if len(batches) == 0 {
		return nil
	}
	lo := max(s.Offset, 0)
	hi := int64(-1)
	if s.Limit >= 0 {
		hi = lo + s.Limit
	}
	out, err := s.sorted(batches, lo, hi)
	if err != nil || out == nil {
		return err
	}
	s.out = append(s.out, out)
	return nil
}

// sorted orders the rows of batches and returns rows lo..hi (hi < 0: all)
// of the order as one batch, or nil when that range is empty.
func (s *Sort) sorted(batches []arrow.RecordBatch, lo, hi int64) (arrow.RecordBatch, error) {
	mem := allocator(s.ctx)
	all, err := concatBatches(s.ctx, s.Schema(), batches)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	keys := make([]arrow.Array, len(s.Keys))
	defer func() {
		for _, k := range keys {
			if k != nil {
				k.Release()
			}
		}
	}()
	cmps := make([]func(i, j int) int, len(s.Keys))
	for i, k := range s.Keys {
		if keys[i], err = Eval(s.ctx, k.Expr, all); err != nil {
			return nil, err
		}
		if cmps[i], err = comparator(keys[i], k.Desc, k.NullsFirst); err != nil {
			return nil, err
		}
	}
	n := int(all.NumRows())
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		for _, c := range cmps {
			if r := c(int(a), int(b)); r != 0 {
				return r
			}
		}
		return 0
	})
	if hi < 0 || hi > int64(n) {
		hi = int64(n)
	}
	lo = min(lo, hi)
	if lo >= hi {
		return nil, nil
	}
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(idx[lo:hi], nil)
	indices := ib.NewArray()
	ib.Release()
	defer indices.Release()
	cols := make([]arrow.Array, all.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		if cols[i], err = compute.TakeArray(s.ctx, all.Column(i), indices); err != nil {
			return nil, err
		}
	}
	return array.NewRecordBatch(s.Schema(), cols, hi-lo), nil
}

func (s *Sort) Close() error {
	for _, r := range s.out {
		r.Release()
	}
	s.out = nil
	return s.Input.Close()
}

// concatBatches joins batches of one schema into one.
func concatBatches(ctx context.Context, schema *arrow.Schema, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(batches) == 1 {
		batches[0].Retain()
		return batches[0], nil
	}
	mem := allocator(ctx)
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(batches))
		for j, b := range batches {
			parts[j] = b.Column(i)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, c := range cols[:i] {
				c.Release()
			}
			return nil, err
		}
		cols[i] = c
	}
	out := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// comparator orders two rows of a by value, with the direction and null
// placement of one sort key.
func comparator(a arrow.Array, desc, nullsFirst bool) (func(i, j int) int, error) {
	var cmp func(i, j int) int
	switch arr := a.(type) {
	case *array.String:
		cmp = func(i, j int) int { return strings.Compare(arr.Value(i), arr.Value(j)) }
	case *array.Binary:
		cmp = func(i, j int) int { return bytes.Compare(arr.Value(i), arr.Value(j)) }
	case *array.FixedSizeBinary:
		cmp = func(i, j int) int { return bytes.Compare(arr.Value(i), arr.Value(j)) }
	case *array.Float32, *array.Float64:
		v, _ := floatValues(a)
		cmp = func(i, j int) int { return cmpFloat(v(i), v(j)) }
	case *array.Decimal128:
		cmp = func(i, j int) int { return arr.Value(i).Cmp(arr.Value(j)) }
	default:
		v, err := orderedInts(a)
		if err != nil {
			return nil, fmt.Errorf("%w: ordering by %s", ErrUnsupportedType, a.DataType())
		}
		cmp = func(i, j int) int { return cmpInt(v(i), v(j)) }
	}
	return func(i, j int) int {
		ni, nj := a.IsNull(i), a.IsNull(j)
		switch {
		case ni && nj:
			return 0
		case ni:
			if nullsFirst {
				return -1
			}
			return 1
		case nj:
			if nullsFirst {
				return 1
			}
			return -1
		}
		c := cmp(i, j)
		if desc {
			return -c
		}
		return c
	}, nil
}
