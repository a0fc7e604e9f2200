package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// The dimension of these tests: key (a int64, b utf8), then v utf8 and
// w int64.
var dimSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.PrimitiveTypes.Int64},
	{Name: "b", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "w", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// The probe side: x int32 (looked up as a), y utf8 (as b), z int64.
var probeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "z", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// mapLookup is a KeyLookup over a batch of dimension rows, for tests. It
// checks that the keys arrive with the key types and counts its calls.
type mapLookup struct {
	rec      arrow.RecordBatch
	rows     map[string]int
	calls    atomic.Int64
	released atomic.Int64
	block    chan struct{} // when set, Lookup waits for it or the context
}

func newMapLookup(rec arrow.RecordBatch) *mapLookup {
	m := &mapLookup{rec: rec, rows: map[string]int{}}
	a := rec.Column(0).(*array.Int64)
	b := rec.Column(1).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		m.rows[fmt.Sprintf("%d/%s", a.Value(i), b.Value(i))] = i
	}
	return m
}

func (m *mapLookup) Snapshot() int64 { return 7 }
func (m *mapLookup) Release()        { m.released.Add(1) }

func (m *mapLookup) Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	m.calls.Add(1)
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	a, ok := keys[0].(*array.Int64)
	if !ok {
		return nil, fmt.Errorf("key a is %s, want int64", keys[0].DataType())
	}
	b := keys[1].(*array.String)
	ib := array.NewInt32Builder(compute.GetAllocator(ctx))
	defer ib.Release()
	for i := 0; i < a.Len(); i++ {
		r, ok := m.rows[fmt.Sprintf("%d/%s", a.Value(i), b.Value(i))]
		if a.IsNull(i) || b.IsNull(i) || !ok {
			ib.AppendNull()
			continue
		}
		ib.Append(int32(r))
	}
	idx := ib.NewArray()
	defer idx.Release()
	out := make([]arrow.Array, len(cols))
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		t, err := compute.TakeArray(ctx, m.rec.Column(c), idx)
		if err != nil {
			return nil, err
		}
		out[i] = t
		fields[i] = m.rec.Schema().Field(c)
	}
	defer func() {
		for _, c := range out {
			c.Release()
		}
	}()
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), out, int64(a.Len())), nil
}

type dimRow struct {
	a int64
	b string
	v *string
	w *int64
}

type probeRow struct {
	x *int32
	y *string
	z *int64
}

func genLookupData(seed uint64) ([]dimRow, []probeRow) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var dims []dimRow
	for a := int64(0); a < 40; a++ {
		for _, b := range []string{"p", "q"} {
			if rng.IntN(5) == 0 {
				continue // a missing key
			}
			r := dimRow{a: a, b: b}
			if rng.IntN(6) > 0 {
				r.v = ptr(fmt.Sprintf("v%d%s", a, b))
			}
			if rng.IntN(6) > 0 {
				r.w = ptr(int64(rng.IntN(10)))
			}
			dims = append(dims, r)
		}
	}
	// A key past int32's range is in the dimension but no int32 reaches it.
	dims = append(dims, dimRow{a: 1 << 40, b: "p", v: ptr("far")})
	var probes []probeRow
	for range 300 {
		var r probeRow
		if rng.IntN(10) > 0 {
			r.x = ptr(int32(rng.IntN(48))) // duplicates, and keys past the dimension's
		}
		if rng.IntN(10) > 0 {
			r.y = ptr([]string{"p", "q", "r"}[rng.IntN(3)])
		}
		if rng.IntN(8) > 0 {
			r.z = ptr(int64(rng.IntN(10)))
		}
		probes = append(probes, r)
	}
	return dims, probes
}

func buildDim(mem memory.Allocator, rows []dimRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, dimSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.a)
		b.Field(1).(*array.StringBuilder).Append(r.b)
		appendPtr(b.Field(2), r.v, b.Field(2).(*array.StringBuilder).Append)
		appendPtr(b.Field(3), r.w, b.Field(3).(*array.Int64Builder).Append)
	}
	return b.NewRecordBatch()
}

func buildProbe(mem memory.Allocator, rows []probeRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, probeSchema)
	defer b.Release()
	for _, r := range rows {
		appendPtr(b.Field(0), r.x, b.Field(0).(*array.Int32Builder).Append)
		appendPtr(b.Field(1), r.y, b.Field(1).(*array.StringBuilder).Append)
		appendPtr(b.Field(2), r.z, b.Field(2).(*array.Int64Builder).Append)
	}
	return b.NewRecordBatch()
}

func col(i int, name string, t arrow.DataType) *expr.Column {
	return &expr.Column{Index: i, Name: name, Type: t}
}

// joinOutput is the probe's columns then the dimension's cols, nullable.
func joinOutput(cols []int) *arrow.Schema {
	fields := append([]arrow.Field{}, probeSchema.Fields()...)
	for _, c := range cols {
		f := dimSchema.Field(c)
		f.Nullable = true
		fields = append(fields, f)
	}
	return arrow.NewSchema(fields, nil)
}

// TestLookupJoinMatchesHashJoin runs inner and left lookup joins on a
// two-column key (an int32 probe column against an int64 key column),
// with misses, NULL keys, duplicate probe keys, a filter on the dimension
// and a residual, and compares them to the hash join of the same rows.
func TestLookupJoinMatchesHashJoin(t *testing.T) {
	i64 := arrow.PrimitiveTypes.Int64
	str := arrow.BinaryTypes.String
	cases := []struct {
		name     string
		cols     []int
		filter   expr.Expr // over the dimension columns cols
		residual func(width int) expr.Expr
	}{
		{name: "all columns", cols: []int{0, 1, 2, 3}},
		{name: "value only", cols: []int{2}},
		{name: "no columns", cols: nil},
		{name: "filter", cols: []int{3, 2}, filter: &expr.Compare{Op: expr.Lt, L: col(0, "w", i64), R: &expr.Literal{Value: scalar.NewInt64Scalar(5)}}},
		{name: "residual", cols: []int{2, 3}, residual: func(width int) expr.Expr {
			return &expr.Compare{Op: expr.Eq, L: col(2, "z", i64), R: col(width+1, "w", i64)}
		}},
	}
	for _, seed := range []uint64{1, 2} {
		dims, probes := genLookupData(seed)
		for _, tc := range cases {
			for _, jt := range []executor.JoinType{executor.InnerJoin, executor.LeftJoin} {
				for _, size := range batchSizes {
					for _, workers := range []int{1, 4} {
						name := fmt.Sprintf("%d/%s/%s/%d/%d", seed, tc.name, jt, size, workers)
						t.Run(name, func(t *testing.T) {
							mem, ctx := newAlloc(t)
							out := joinOutput(tc.cols)
							var residual expr.Expr
							if tc.residual != nil {
								residual = tc.residual(probeSchema.NumFields())
							}
							dimRec := buildDim(mem, dims)
							defer dimRec.Release()
							ml := newMapLookup(dimRec)
							probe := buildProbe(mem, probes)
							lj := &executor.LookupJoin{
								Input:     newSource(probeSchema, cutOwned(probe, size)...),
								Type:      jt,
								Dimension: func(context.Context) (executor.KeyLookup, error) { return ml, nil },
								Keys:      []expr.Expr{col(0, "x", arrow.PrimitiveTypes.Int32), col(1, "y", str)},
								KeyTypes:  []arrow.DataType{i64, str},
								Columns:   tc.cols,
								Present:   0,
								Filter:    tc.filter,
								Residual:  residual,
								Output:    out,
								Workers:   workers,
								Label:     "dim",
							}
							got, _ := drain(t, ctx, lj)
							if ml.released.Load() != 1 {
								t.Errorf("lookup released %d times, want 1", ml.released.Load())
							}

							// The same join as a hash join over the dimension's rows,
							// its filter applied to the build side first.
							probe2 := buildProbe(mem, probes)
							var right executor.Operator = newSource(dimSchema, buildDim(mem, dims))
							if tc.filter != nil {
								f := expr.Rewrite(tc.filter, func(e expr.Expr) expr.Expr {
									if c, ok := e.(*expr.Column); ok {
										return col(tc.cols[c.Index], c.Name, c.Type)
									}
									return e
								})
								right = &executor.Filter{Input: right, Predicate: f}
							}
							full := joinOutput([]int{0, 1, 2, 3})
							w := probeSchema.NumFields()
							var hres expr.Expr
							if tc.residual != nil {
								hres = &expr.Compare{Op: expr.Eq, L: col(2, "z", i64), R: col(w+3, "w", i64)}
							}
							hj := &executor.HashJoin{
								Left: newSource(probeSchema, cutOwned(probe2, size)...), Right: right, Type: jt,
								LeftKeys:  []expr.Expr{&expr.Cast{X: col(0, "x", arrow.PrimitiveTypes.Int32), To: i64}, col(1, "y", str)},
								RightKeys: []expr.Expr{col(0, "a", i64), col(1, "b", str)},
								Residual:  hres, Output: full,
							}
							exprs := []expr.Expr{col(0, "x", nil), col(1, "y", nil), col(2, "z", nil)}
							for _, c := range tc.cols {
								exprs = append(exprs, col(w+c, dimSchema.Field(c).Name, nil))
							}
							for i, f := range out.Fields() {
								exprs[i].(*expr.Column).Type = f.Type
							}
							want, _ := drain(t, ctx, &executor.Project{Input: hj, Exprs: exprs, Output: out})
							slices.Sort(got)
							slices.Sort(want)
							if !slices.Equal(got, want) {
								t.Errorf("lookup join gives %d rows, hash join %d\n got %v\nwant %v", len(got), len(want), got, want)
							}
							if a := lj.Analyze(); a == "" {
								t.Error("no analysis")
							}
						})
					}
				}
			}
		}
	}
}

// TestLookupJoinLifecycle: Close before Open and twice, Open twice, and
// counts in the analysis.
func TestLookupJoinLifecycle(t *testing.T) {
	mem, ctx := newAlloc(t)
	dims, probes := genLookupData(5)
	dimRec := buildDim(mem, dims)
	defer dimRec.Release()
	ml := newMapLookup(dimRec)
	mk := func() *executor.LookupJoin {
		return &executor.LookupJoin{
			Input:     newSource(probeSchema, buildProbe(mem, probes)),
			Type:      executor.LeftJoin,
			Dimension: func(context.Context) (executor.KeyLookup, error) { return ml, nil },
			Keys:      []expr.Expr{col(0, "x", arrow.PrimitiveTypes.Int32), col(1, "y", arrow.BinaryTypes.String)},
			KeyTypes:  []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String},
			Columns:   []int{2},
			Output:    joinOutput([]int{2}),
		}
	}
	lj := mk()
	if err := lj.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lj.Close(); err != nil {
		t.Fatal(err)
	}
	lj = mk()
	if err := lj.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lj.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for {
		rec, err := lj.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	if _, err := lj.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v", err)
	}
	lj.Close()
	lj.Close()
	if rows != len(probes) {
		t.Errorf("left join gave %d rows for %d probe rows", rows, len(probes))
	}
	if ml.released.Load() != 1 {
		t.Errorf("released %d times", ml.released.Load())
	}
	var lookups, hits, misses, nulls int
	if _, err := fmt.Sscanf(lj.Analyze(), "lookups=%d hits=%d misses=%d null_keys=%d", &lookups, &hits, &misses, &nulls); err != nil {
		t.Fatalf("%s: %v", lj.Analyze(), err)
	}
	if lookups+nulls != len(probes) || hits+misses != lookups || hits == 0 || misses == 0 || nulls == 0 {
		t.Errorf("analysis %q", lj.Analyze())
	}
}

// TestLookupJoinCancel: a cancelled context stops a join whose lookups
// are waiting, serial and parallel, and everything is released.
func TestLookupJoinCancel(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			mem, ctx := newAlloc(t)
			ctx, cancel := context.WithCancel(ctx)
			dims, probes := genLookupData(9)
			dimRec := buildDim(mem, dims)
			defer dimRec.Release()
			ml := newMapLookup(dimRec)
			ml.block = make(chan struct{})
			probe := buildProbe(mem, probes)
			lj := &executor.LookupJoin{
				Input:     newSource(probeSchema, cutOwned(probe, 10)...),
				Type:      executor.InnerJoin,
				Dimension: func(context.Context) (executor.KeyLookup, error) { return ml, nil },
				Keys:      []expr.Expr{col(0, "x", arrow.PrimitiveTypes.Int32), col(1, "y", arrow.BinaryTypes.String)},
				KeyTypes:  []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String},
				Columns:   []int{2},
				Output:    joinOutput([]int{2}),
				Workers:   workers,
			}
			if err := lj.Open(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			_, err := lj.Next()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Next after cancel: %v", err)
			}
			if err := lj.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLookupJoinNarrowKey: an int64 probe key past an int32 key column's
// range matches nothing rather than failing or wrapping.
func TestLookupJoinNarrowKey(t *testing.T) {
	mem, ctx := newAlloc(t)
	narrow := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int32}, {Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	in := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	pb := array.NewInt64Builder(mem)
	pb.AppendValues([]int64{1, 1 << 32, 1<<32 + 1, 2}, nil)
	pa := pb.NewArray()
	pb.Release()
	probe := array.NewRecordBatch(in, []arrow.Array{pa}, 4)
	pa.Release()
	var seen []any
	fl := &funcLookup{fn: func(keys []arrow.Array) {
		seen = values(t, keys[0])
	}}
	lj := &executor.LookupJoin{
		Input: newSource(in, probe), Type: executor.LeftJoin,
		Dimension: func(context.Context) (executor.KeyLookup, error) { return fl, nil },
		Keys:      []expr.Expr{col(0, "p", arrow.PrimitiveTypes.Int64)}, KeyTypes: []arrow.DataType{narrow.Field(0).Type},
		Columns: []int{0},
		Output:  arrow.NewSchema([]arrow.Field{in.Field(0), {Name: "k", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil),
	}
	drain(t, ctx, lj)
	if fmt.Sprint(seen) != "[1 <nil> <nil> 2]" {
		t.Errorf("keys looked up %v", seen)
	}
}

// funcLookup answers every key with a NULL row and shows the keys to fn.
type funcLookup struct{ fn func([]arrow.Array) }

func (f *funcLookup) Snapshot() int64 { return 0 }
func (f *funcLookup) Release()        {}
func (f *funcLookup) Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	f.fn(keys)
	n := keys[0].Len()
	out := array.MakeArrayOfNull(compute.GetAllocator(ctx), arrow.PrimitiveTypes.Int32, n)
	defer out.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil), []arrow.Array{out}, int64(n)), nil
}

// cutOwned cuts rec into batches of size rows and lets go of rec.
func cutOwned(rec arrow.RecordBatch, size int) []arrow.RecordBatch {
	defer rec.Release()
	return cut(rec, size)
}
