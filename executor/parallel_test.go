package executor_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// canonical renders rows with floats rounded to 9 significant digits, so
// that results summed in another order compare equal, and sorts them.
func canonical(t *testing.T, recs []arrow.RecordBatch) []string {
	t.Helper()
	var out []string
	for _, rec := range recs {
		for r := 0; r < int(rec.NumRows()); r++ {
			var parts []string
			for c := 0; c < int(rec.NumCols()); c++ {
				col := rec.Column(c)
				switch {
				case col.IsNull(r):
					parts = append(parts, "NULL")
				case col.DataType().ID() == arrow.FLOAT64:
					parts = append(parts, fmt.Sprintf("%.9g", col.(*array.Float64).Value(r)))
				default:
					parts = append(parts, col.ValueStr(r))
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
	}
	slices.Sort(out)
	return out
}

// drainCanonical runs op to the end and returns its rows in canonical form.
func drainCanonical(t *testing.T, ctx context.Context, op executor.Operator) []string {
	t.Helper()
	var recs []arrow.RecordBatch
	defer func() { releaseAll(recs) }()
	err := executor.Drain(ctx, op, func(b arrow.RecordBatch) error {
		b.Retain()
		recs = append(recs, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return canonical(t, recs)
}

func TestHashAggregateWorkersMatchOneWorker(t *testing.T) {
	groupings := map[string][]expr.Expr{
		"none":     nil,
		"int":      {colA},
		"string":   {colS},
		"bool":     {colP},
		"int,text": {colA, colS},
	}
	f := func(fn executor.AggFunc, arg expr.Expr) executor.Agg { return executor.Agg{Func: fn, Arg: arg} }
	aggs := []executor.Agg{
		{Func: executor.AggCount}, f(executor.AggCount, colS), f(executor.AggSum, colA), f(executor.AggSum, colF),
		f(executor.AggAvg, colA), f(executor.AggAvg, colF), f(executor.AggMin, colS), f(executor.AggMax, colS),
		f(executor.AggMin, colF), f(executor.AggMax, colA), f(executor.AggBoolAnd, colP), f(executor.AggBoolOr, colQ),
		f(executor.AggVarSamp, colF), f(executor.AggStddevPop, colA), f(executor.AggVarPop, colX),
		{Func: executor.AggSum, Arg: colA, Filter: colP},
		{Func: executor.AggCount, Arg: colS, Distinct: true}, {Func: executor.AggCount, Arg: colA, Distinct: true},
	}
	for name, groups := range groupings {
		for _, nulls := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nulls=%v", name, nulls), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				var fields []arrow.Field
				for _, g := range groups {
					fields = append(fields, arrow.Field{Name: g.String(), Type: g.DataType(), Nullable: true})
				}
				for i, a := range aggs {
					var at arrow.DataType
					if a.Arg != nil {
						at = a.Arg.DataType()
					}
					rt, err := executor.AggResultType(a.Func, at)
					if err != nil {
						t.Fatal(err)
					}
					fields = append(fields, arrow.Field{Name: fmt.Sprint("agg", i), Type: rt, Nullable: true})
				}
				out := arrow.NewSchema(fields, nil)
				rec := buildRecord(mem, genRows(3000, 7, nulls))
				defer rec.Release()
				run := func(workers int) []string {
					op := &executor.HashAggregate{Input: newSource(testSchema, cut(rec, 37)...), Groups: groups, Aggs: aggs,
						Output: out, Workers: workers}
					return drainCanonical(t, ctx, op)
				}
				one, three := run(1), run(3)
				if len(one) == 0 {
					t.Fatal("no groups")
				}
				if !slices.Equal(one, three) {
					t.Errorf("3 workers differ from 1:\n%v\nvs\n%v", three, one)
				}
			})
		}
	}
}

func TestAvgDecimalIsExact(t *testing.T) {
	mem, ctx := newAlloc(t)
	dt := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "d", Type: dt, Nullable: true}}, nil)
	kb, db := array.NewInt64Builder(mem), array.NewDecimal128Builder(mem, dt)
	defer kb.Release()
	defer db.Release()
	// Per key k: the values k*1000 + i/100 for i in 0..999, with every
	// tenth value NULL; the mean is exact in decimal.
	want := map[int64]float64{}
	for k := int64(0); k < 3; k++ {
		var sum, n int64
		for i := int64(0); i < 1000; i++ {
			kb.Append(k)
			if i%10 == 0 {
				db.AppendNull()
				continue
			}
			v := k*100000 + i // in hundredths
			db.Append(decimal128.FromI64(v))
			sum += v
			n++
		}
		want[k] = float64(sum) / float64(n) / 100
	}
	kc, dc := kb.NewArray(), db.NewArray()
	rec := array.NewRecordBatch(schema, []arrow.Array{kc, dc}, int64(kc.Len()))
	kc.Release()
	dc.Release()
	defer rec.Release()
	k := &expr.Column{Index: 0, Name: "k", Type: arrow.PrimitiveTypes.Int64}
	d := &expr.Column{Index: 1, Name: "d", Type: dt}
	out := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "avg", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	for _, workers := range []int{1, 2} {
		op := &executor.HashAggregate{Input: newSource(schema, cut(rec, 64)...), Groups: []expr.Expr{k},
			Aggs: []executor.Agg{{Func: executor.AggAvg, Arg: d}}, Output: out, Workers: workers}
		got := map[int64]float64{}
		err := executor.Drain(ctx, op, func(b arrow.RecordBatch) error {
			for r := 0; r < int(b.NumRows()); r++ {
				got[b.Column(0).(*array.Int64).Value(r)] = b.Column(1).(*array.Float64).Value(r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for key, w := range want {
			if g := got[key]; math.Abs(g-w) > 1e-9*math.Abs(w) {
				t.Errorf("workers=%d: avg for %d = %v, want %v", workers, key, g, w)
			}
		}
	}
}

func TestHashJoinWorkersMatchOneWorker(t *testing.T) {
	keys := map[string][2][]expr.Expr{
		"int":      {{colA}, {colA}},
		"string":   {{colS}, {colS}},
		"int,text": {{colA, colS}, {colA, colS}},
	}
	types := []executor.JoinType{executor.InnerJoin, executor.LeftJoin, executor.SemiJoin, executor.AntiJoin}
	both := arrow.NewSchema(append(append([]arrow.Field{}, testSchema.Fields()...), testSchema.Fields()...), nil)
	// A residual over the joined row: left.f < right.f.
	resid := &expr.Compare{Op: expr.Lt, L: colF, R: &expr.Column{Index: 10, Name: "f", Type: arrow.PrimitiveTypes.Float64}}
	for name, k := range keys {
		for _, jt := range types {
			for _, variant := range []int{0, 1, 2} {
				withResid, buildLeft := variant >= 1, variant == 2
				if buildLeft && jt != executor.SemiJoin && jt != executor.AntiJoin {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/residual=%v/buildLeft=%v", name, jt, withResid, buildLeft), func(t *testing.T) {
					mem, ctx := newAlloc(t)
					left := buildRecord(mem, genRows(2000, 11, true))
					defer left.Release()
					right := buildRecord(mem, genRows(60, 12, true))
					defer right.Release()
					out := both
					if jt == executor.SemiJoin || jt == executor.AntiJoin {
						out = testSchema
					}
					run := func(workers int) []string {
						j := &executor.HashJoin{Left: newSource(testSchema, cut(left, 29)...), Right: newSource(testSchema, cut(right, 7)...),
							Type: jt, LeftKeys: k[0], RightKeys: k[1], Output: out, Workers: workers, BuildLeft: buildLeft}
						if withResid {
							j.Residual = resid
						}
						return drainCanonical(t, ctx, j)
					}
					one, three := run(1), run(3)
					if len(one) == 0 {
						t.Fatal("empty join result")
					}
					if !slices.Equal(one, three) {
						t.Errorf("3 workers: %d rows, 1 worker: %d rows, or the rows differ", len(three), len(one))
					}
				})
			}
		}
	}
}

// A parallel join closed after its first batch stops its workers and
// releases everything they made.
func TestHashJoinWorkersCloseEarly(t *testing.T) {
	mem, ctx := newAlloc(t)
	left := buildRecord(mem, genRows(3000, 21, false))
	defer left.Release()
	right := buildRecord(mem, genRows(40, 22, false))
	defer right.Release()
	both := arrow.NewSchema(append(append([]arrow.Field{}, testSchema.Fields()...), testSchema.Fields()...), nil)
	j := &executor.HashJoin{Left: newSource(testSchema, cut(left, 10)...), Right: newSource(testSchema, right),
		Type: executor.InnerJoin, LeftKeys: []expr.Expr{colA}, RightKeys: []expr.Expr{colA}, Output: both, Workers: 2}
	right.Retain()
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := j.Next()
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// A null-aware anti join follows NOT IN: a NULL among the right keys keeps
// nothing, a NULL left key is dropped unless the right side is empty.
func TestNullAwareAntiJoin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rightRows  int
		rightNulls bool
	}{{"right has NULL", 40, true}, {"right without NULL", 40, false}, {"right empty", 0, false}} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				lrows := genRows(300, 41, true)
				rrows := genRows(tc.rightRows, 42, tc.rightNulls)
				rightHasNull := false
				inRight := map[int64]bool{}
				for _, r := range rrows {
					if r.a == nil {
						rightHasNull = true
					} else {
						inRight[*r.a] = true
					}
				}
				if rightHasNull != tc.rightNulls {
					t.Fatalf("generated right side: NULL present = %v", rightHasNull)
				}
				left := buildRecord(mem, lrows)
				defer left.Release()
				want := 0
				for _, r := range lrows {
					switch {
					case len(rrows) == 0:
						want++
					case rightHasNull || r.a == nil:
					case !inRight[*r.a]:
						want++
					}
				}
				right := buildRecord(mem, rrows)
				j := &executor.HashJoin{Left: newSource(testSchema, cut(left, 17)...), Right: newSource(testSchema, right),
					Type: executor.AntiJoin, LeftKeys: []expr.Expr{colA}, RightKeys: []expr.Expr{colA}, Output: testSchema,
					Workers: workers, NullAware: true}
				if got := len(drainCanonical(t, ctx, j)); got != want {
					t.Errorf("kept %d rows, want %d", got, want)
				}
			})
		}
	}
}

// A correlated NOT IN applies the NULL rules within each correlation
// group: the tested value is colA, the correlation key colS.
func TestNullAwareAntiJoinCorrelated(t *testing.T) {
	for _, workers := range []int{1, 2} {
		mem, ctx := newAlloc(t)
		lrows := genRows(400, 51, true)
		rrows := genRows(60, 52, true)
		type group struct {
			vals map[int64]bool
			null bool
		}
		groups := map[string]*group{}
		for _, r := range rrows {
			if r.s == nil {
				continue // a NULL correlation key joins no outer row
			}
			g := groups[*r.s]
			if g == nil {
				g = &group{vals: map[int64]bool{}}
				groups[*r.s] = g
			}
			if r.a == nil {
				g.null = true
			} else {
				g.vals[*r.a] = true
			}
		}
		want := 0
		for _, r := range lrows {
			var g *group
			if r.s != nil {
				g = groups[*r.s]
			}
			switch {
			case g == nil:
				want++
			case r.a == nil, g.null, g.vals[*r.a]:
			default:
				want++
			}
		}
		left := buildRecord(mem, lrows)
		right := buildRecord(mem, rrows)
		j := &executor.HashJoin{Left: newSource(testSchema, cut(left, 23)...), Right: newSource(testSchema, right),
			Type: executor.AntiJoin, LeftKeys: []expr.Expr{colA, colS}, RightKeys: []expr.Expr{colA, colS}, Output: testSchema,
			Workers: workers, NullAware: true}
		if got := len(drainCanonical(t, ctx, j)); got != want {
			t.Errorf("workers=%d: kept %d rows, want %d", workers, got, want)
		}
		left.Release()
	}
}
