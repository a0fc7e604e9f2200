package executor

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/lakeflight/lakeflight/expr"
)

// KeyLookup finds the rows of a keyed table by key. lookup.Reader
// satisfies it. It must be safe for concurrent use.
type KeyLookup interface {
	// Lookup returns, for each key (one array per key column, in key
	// order), the columns cols of the row with that key, in the keys'
	// order: one row per key, a row of NULLs for a key not in the table
	// or with a NULL. The caller owns the batch.
	Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error)
	// Snapshot is the snapshot the rows come from.
	Snapshot() int64
	// Release lets go of the lookup.
	Release()
}

// LookupJoin joins each row of Input with the row of a keyed dimension
// table whose key equals the row's Keys: the dimension is not read
// whole, its rows are looked up batch by batch. A key matches at most one
// row, so the join never multiplies rows. An inner join drops the rows
// without a match; a left join keeps them with NULL dimension columns.
// A NULL key matches nothing.
//
// Batches it returns are owned by the caller. With Workers > 1 several
// input batches are joined at once (the dimension is safe for concurrent
// use) and the output order varies from run to run.
type LookupJoin struct {
	Input Operator
	// Type is InnerJoin or LeftJoin.
	Type JoinType
	// Dimension opens the lookup (at Open); Close releases it.
	Dimension func(ctx context.Context) (KeyLookup, error)
	// Keys, over Input's columns, are the values of the dimension's key
	// columns, in key order.
	Keys []expr.Expr
	// KeyTypes are the types of the dimension's key columns. A key of
	// another type is cast; an integer that does not fit matches nothing.
	KeyTypes []arrow.DataType
	// Columns are the dimension's columns the join yields, by position in
	// its schema, after Input's columns.
	Columns []int
	// Present is a dimension column that no row of the table has NULL (a
	// key column): NULL there in a looked-up row means no row.
	Present int
	// Filter, over the dimension columns in Columns' order, must hold for
	// a looked-up row to match (the conditions on the dimension alone).
	Filter expr.Expr
	// Residual, over the joined row, must hold too.
	Residual expr.Expr
	Output   *arrow.Schema
	// Workers is how many input batches are joined at once; 0 or 1 joins
	// them in the calling goroutine.
	Workers int
	// Label names the dimension and how it is read, KeyNames its key
	// columns, and Reason why a lookup join was chosen, for EXPLAIN.
	Label    string
	KeyNames []string
	Reason   string

	ctx      context.Context
	dim      KeyLookup
	fetch    []int // Columns, then Present when not among them
	presence int   // where Present is in fetch
	dimOut   *arrow.Schema
	par      *parallelProbe
	done     bool
	snapshot int64

	lookups, hits, misses, nullKeys atomic.Int64
}

var _ Operator = (*LookupJoin)(nil)

func (j *LookupJoin) Schema() *arrow.Schema { return j.Output }
func (j *LookupJoin) Children() []Operator  { return []Operator{j.Input} }

func (j *LookupJoin) String() string {
	var on []string
	for i, k := range j.Keys {
		name := fmt.Sprintf("key%d", i)
		if i < len(j.KeyNames) {
			name = j.KeyNames[i]
		}
		on = append(on, fmt.Sprintf("%s = %s", name, k))
	}
	s := fmt.Sprintf("LookupJoin %s %s on %s", j.Type, j.Label, strings.Join(on, " AND "))
	if j.Filter != nil {
		s += " filter " + j.Filter.String()
	}
	if j.Residual != nil {
		s += " residual " + j.Residual.String()
	}
	if j.Reason != "" {
		s += " (" + j.Reason + ")"
	}
	return s
}

// Analyze reports the keys looked up, found and not found (after Close
// too), for EXPLAIN ANALYZE.
func (j *LookupJoin) Analyze() string {
	return fmt.Sprintf("lookups=%d hits=%d misses=%d null_keys=%d read_snapshot=%d",
		j.lookups.Load(), j.hits.Load(), j.misses.Load(), j.nullKeys.Load(), j.snapshot)
}

func (j *LookupJoin) Open(ctx context.Context) error {
	if j.ctx != nil {
		return nil
	}
	j.ctx = ctx
	if j.Type != InnerJoin && j.Type != LeftJoin {
		return fmt.Errorf("lookup join: %s join is not supported", j.Type)
	}
	if len(j.Keys) != len(j.KeyTypes) {
		return fmt.Errorf("lookup join: %d keys for %d key types", len(j.Keys), len(j.KeyTypes))
	}
	in := j.Input.Schema().NumFields()
	if j.Output.NumFields() != in+len(j.Columns) {
		return fmt.Errorf("lookup join: output has %d columns, want %d", j.Output.NumFields(), in+len(j.Columns))
	}
	j.dimOut = arrow.NewSchema(j.Output.Fields()[in:], nil)
	j.fetch = append([]int{}, j.Columns...)
	j.presence = -1
	for i, c := range j.Columns {
		if c == j.Present {
			j.presence = i
		}
	}
	if j.presence < 0 {
		j.presence = len(j.fetch)
		j.fetch = append(j.fetch, j.Present)
	}
	if err := j.Input.Open(ctx); err != nil {
		return err
	}
	dim, err := j.Dimension(ctx)
	if err != nil {
		return err
	}
	j.dim = dim
	j.snapshot = dim.Snapshot()
	return nil
}

func (j *LookupJoin) Next() (arrow.RecordBatch, error) {
	if j.done {
		return nil, io.EOF
	}
	if j.Workers > 1 {
		if j.par == nil {
			j.par = startParallel(j.ctx, j.Workers, j.Input.Next, j.join)
		}
		rec, err := j.par.next()
		if err == io.EOF && j.ctx.Err() != nil {
			// The workers stopped because the query was cancelled.
			err = context.Cause(j.ctx)
		}
		if err != nil {
			j.done = true
		}
		return rec, err
	}
	for {
		if err := j.ctx.Err(); err != nil {
			j.done = true
			return nil, context.Cause(j.ctx)
		}
		in, err := j.Input.Next()
		if err != nil {
			j.done = true
			return nil, err
		}
		out, err := j.join(in)
		in.Release()
		if err != nil {
			j.done = true
			return nil, err
		}
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}

// join joins one input batch (which stays the caller's).
func (j *LookupJoin) join(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	ctx := j.ctx
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	n := int(in.NumRows())
	keys := make([]arrow.Array, 0, len(j.Keys))
	defer func() { releaseAll(keys) }()
	for i, k := range j.Keys {
		v, err := Eval(ctx, k, in)
		if err != nil {
			return nil, err
		}
		c, err := castKey(ctx, v, j.KeyTypes[i])
		v.Release()
		if err != nil {
			return nil, fmt.Errorf("lookup join key %s: %w", k, err)
		}
		keys = append(keys, c)
	}
	nulls := 0
	for r := 0; r < n; r++ {
		for _, k := range keys {
			if k.IsNull(r) {
				nulls++
				break
			}
		}
	}
	found, err := j.dim.Lookup(ctx, keys, j.fetch)
	if err != nil {
		return nil, err
	}
	defer found.Release()
	if int(found.NumRows()) != n {
		return nil, fmt.Errorf("lookup join: %d rows looked up for %d keys", found.NumRows(), n)
	}
	dimCols := found.Columns()[:len(j.Columns)]
	for i, c := range dimCols {
		if want := j.dimOut.Field(i).Type; !arrow.TypeEqual(c.DataType(), want) {
			return nil, fmt.Errorf("lookup join: dimension column %s is %s, the plan expected %s (the table's schema changed; run the query again)",
				j.dimOut.Field(i).Name, c.DataType(), want)
		}
	}
	present := found.Column(j.presence)
	matched := make([]bool, n)
	hits := 0
	for r := range matched {
		if present.IsValid(r) {
			matched[r] = true
			hits++
		}
	}
	j.lookups.Add(int64(n - nulls))
	j.nullKeys.Add(int64(nulls))
	j.hits.Add(int64(hits))
	j.misses.Add(int64(n - nulls - hits))

	rejected := 0
	keep := func(mask arrow.Array) {
		b := mask.(*array.Boolean)
		for r := range matched {
			if matched[r] && !(b.IsValid(r) && b.Value(r)) {
				matched[r] = false
				rejected++
			}
		}
	}
	if j.Filter != nil && hits > 0 {
		dimRec := array.NewRecordBatch(j.dimOut, dimCols, int64(n))
		mask, err := Eval(ctx, j.Filter, dimRec)
		dimRec.Release()
		if err != nil {
			return nil, err
		}
		keep(mask)
		mask.Release()
	}
	cols := append(append(make([]arrow.Array, 0, j.Output.NumFields()), in.Columns()...), dimCols...)
	joined := array.NewRecordBatch(j.Output, cols, int64(n))
	if j.Residual != nil && hits-rejected > 0 {
		mask, err := Eval(ctx, j.Residual, joined)
		if err != nil {
			joined.Release()
			return nil, err
		}
		keep(mask)
		mask.Release()
	}
	kept := hits - rejected
	switch {
	case j.Type == InnerJoin && kept == n:
		return joined, nil
	case j.Type == InnerJoin:
		defer joined.Release()
		rows := make([]int32, 0, kept)
		for r, m := range matched {
			if m {
				rows = append(rows, int32(r))
			}
		}
		return takeRecordRows(ctx, joined, j.Output, rows)
	case rejected == 0:
		// Left join: misses already have NULL dimension columns.
		return joined, nil
	}
	// Left join: rows whose looked-up row a condition rejected keep their
	// input columns and get NULL dimension columns.
	defer joined.Release()
	rows := make([]int32, n)
	for r, m := range matched {
		rows[r] = int32(r)
		if !m {
			rows[r] = -1
		}
	}
	idx := indexArray(ctx, rows)
	defer idx.Release()
	out := make([]arrow.Array, 0, j.Output.NumFields())
	defer func() { releaseAll(out) }()
	for _, c := range in.Columns() {
		c.Retain()
		out = append(out, c)
	}
	for _, c := range dimCols {
		t, err := compute.TakeArray(ctx, c, idx)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return array.NewRecordBatch(j.Output, out, int64(n)), nil
}

func (j *LookupJoin) Close() error {
	if j.par != nil {
		j.par.stop()
		j.par = nil
	}
	if j.dim != nil {
		j.dim.Release()
		j.dim = nil
	}
	return j.Input.Close()
}

// castKey gives a key column the dimension's key type (a new reference to
// a when it has it). Integers convert value by value, a value out of the
// key type's range becoming NULL (no key can equal it); other types go
// through Arrow's safe cast.
func castKey(ctx context.Context, a arrow.Array, to arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(a.DataType(), to) {
		a.Retain()
		return a, nil
	}
	lo, hi, okTo := intRange(to)
	if _, _, okFrom := intRange(a.DataType()); okTo && okFrom {
		b := array.NewBuilder(allocator(ctx), to)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			v, ok := intAt(a, i)
			if !ok || v < lo || v > hi {
				b.AppendNull()
				continue
			}
			switch x := b.(type) {
			case *array.Int8Builder:
				x.Append(int8(v))
			case *array.Int16Builder:
				x.Append(int16(v))
			case *array.Int32Builder:
				x.Append(int32(v))
			case *array.Int64Builder:
				x.Append(int64(v))
			case *array.Uint8Builder:
				x.Append(uint8(v))
			case *array.Uint16Builder:
				x.Append(uint16(v))
			case *array.Uint32Builder:
				x.Append(uint32(v))
			case *array.Uint64Builder:
				x.Append(uint64(v))
			}
		}
		return b.NewArray(), nil
	}
	return compute.CastArray(ctx, a, compute.SafeCastOptions(to))
}

// intRange is the range of an integer type (uint64's capped at int64's).
func intRange(t arrow.DataType) (lo, hi int64, ok bool) {
	switch t.ID() {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8, true
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16, true
	case arrow.INT32:
		return math.MinInt32, math.MaxInt32, true
	case arrow.INT64:
		return math.MinInt64, math.MaxInt64, true
	case arrow.UINT8:
		return 0, math.MaxUint8, true
	case arrow.UINT16:
		return 0, math.MaxUint16, true
	case arrow.UINT32:
		return 0, math.MaxUint32, true
	case arrow.UINT64:
		return 0, math.MaxInt64, true
	}
	return 0, 0, false
}

// intAt reads an integer of any width; false for NULL or a uint64 past
// int64's range.
func intAt(a arrow.Array, i int) (int64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch x := a.(type) {
	case *array.Int8:
		return int64(x.Value(i)), true
	case *array.Int16:
		return int64(x.Value(i)), true
	case *array.Int32:
		return int64(x.Value(i)), true
	case *array.Int64:
		return x.Value(i), true
	case *array.Uint8:
		return int64(x.Value(i)), true
	case *array.Uint16:
		return int64(x.Value(i)), true
	case *array.Uint32:
		return int64(x.Value(i)), true
	case *array.Uint64:
		v := x.Value(i)
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}
