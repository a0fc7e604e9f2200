package executor_test

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// winSpec is one window function call and what the reference needs to
// compute it: the partition and order columns, and the value of the call
// at position i of a sorted partition with peer group [ps, pe).
type winSpec struct {
	name  string
	call  executor.WindowCall
	parts []int
	order []okey
	value func(part []orow, i, ps, pe int) any
}

// rowsFrame is a ROWS frame from lo to hi rows around the current one (nil
// for unbounded).
func rowsFrame(lo, hi *int64) executor.Frame { return executor.Frame{Start: lo, End: hi} }

// frameBounds is the reference's [lo, hi) of a ROWS frame at position i of
// a partition of m rows.
func frameBounds(lo, hi *int64, i, m int) (int, int) {
	a, b := 0, m
	if lo != nil {
		a = max(0, i+int(*lo))
	}
	if hi != nil {
		b = min(m, i+int(*hi)+1)
	}
	return a, b
}

func winSpecs() []winSpec {
	i64t, f64t, strt := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String
	byFID := []okey{{col: cF}, {col: cID}}
	mk := func(name string, c executor.WindowCall, parts []int, order []okey, value func([]orow, int, int, int) any) winSpec {
		for _, p := range parts {
			c.PartitionBy = append(c.PartitionBy, oc(p))
		}
		c.OrderBy = sortKeys(order)
		return winSpec{name, c, parts, order, value}
	}
	sumRange := func(c int, lo, hi *int64) func([]orow, int, int, int) any {
		return func(part []orow, i, _, _ int) any {
			a, b := frameBounds(lo, hi, i, len(part))
			if a >= b {
				return nil
			}
			return sumOf(nonNull(part[a:b], c), c)
		}
	}
	return []winSpec{
		mk("row_number() over (partition by g order by f, id)",
			executor.WindowCall{Func: executor.WinRowNumber, Type: i64t}, []int{cG}, byFID,
			func(_ []orow, i, _, _ int) any { return int64(i + 1) }),
		mk("rank() over (partition by g order by f)",
			executor.WindowCall{Func: executor.WinRank, Type: i64t}, []int{cG}, []okey{{col: cF}},
			func(_ []orow, _, ps, _ int) any { return int64(ps + 1) }),
		mk("dense_rank() over (partition by s order by b desc nulls last, g)",
			executor.WindowCall{Func: executor.WinDenseRank, Type: i64t}, []int{cS}, []okey{{col: cB, desc: true}, {col: cG}},
			func(part []orow, _, ps, _ int) any {
				keys := []okey{{col: cB, desc: true}, {col: cG}}
				rank := int64(1)
				for j := 1; j <= ps; j++ {
					if cmpBy(keys, part[j-1], part[j]) != 0 {
						rank++
					}
				}
				return rank
			}),
		mk("lag(s) over (partition by g order by f, id)",
			executor.WindowCall{Func: executor.WinLag, Arg: oc(cS), Offset: 1, Type: strt}, []int{cG}, byFID,
			func(part []orow, i, _, _ int) any {
				if i < 1 {
					return nil
				}
				return part[i-1].cell(cS)
			}),
		mk("lead(v, 2, -1) over (partition by s order by id desc)",
			executor.WindowCall{Func: executor.WinLead, Arg: oc(cV), Offset: 2, Default: i64(-1), Type: i64t}, []int{cS}, []okey{{col: cID, desc: true}},
			func(part []orow, i, _, _ int) any {
				if i+2 >= len(part) {
					return int64(-1)
				}
				return part[i+2].cell(cV)
			}),
		mk("sum(v) over (partition by g order by f, id rows 2 preceding .. 1 following)",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggSum, Arg: oc(cV), Type: i64t, Frame: rowsFrame(ptr[int64](-2), ptr[int64](1))},
			[]int{cG}, byFID, sumRange(cV, ptr[int64](-2), ptr[int64](1))),
		mk("sum(f) over (partition by g order by v) to the last peer",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggSum, Arg: oc(cF), Type: f64t, Frame: executor.Frame{RangeToPeers: true}},
			[]int{cG}, []okey{{col: cV}},
			func(part []orow, _, _, pe int) any { return sumOf(nonNull(part[:pe], cF), cF) }),
		mk("count(*) over (partition by g, s)",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggCount, Type: i64t}, []int{cG, cS}, nil,
			func(part []orow, _, _, _ int) any { return int64(len(part)) }),
		mk("avg(v) over (order by id rows 3 preceding .. current row)",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggAvg, Arg: oc(cV), Type: f64t, Frame: rowsFrame(ptr[int64](-3), ptr[int64](0))},
			nil, []okey{{col: cID}},
			func(part []orow, i, _, _ int) any {
				a, b := frameBounds(ptr[int64](-3), ptr[int64](0), i, len(part))
				return refAvg(cV)(part[a:b])
			}),
		mk("max(d) over (partition by b order by id rows 1 preceding .. 1 following)",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggMax, Arg: oc(cD), Type: decType, Frame: rowsFrame(ptr[int64](-1), ptr[int64](1))},
			[]int{cB}, []okey{{col: cID}},
			func(part []orow, i, _, _ int) any {
				a, b := frameBounds(ptr[int64](-1), ptr[int64](1), i, len(part))
				return refMinMax(cD, true)(part[a:b])
			}),
		mk("min(f) over (partition by s order by v) to the last peer",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggMin, Arg: oc(cF), Type: f64t, Frame: executor.Frame{RangeToPeers: true}},
			[]int{cS}, []okey{{col: cV}},
			func(part []orow, _, _, pe int) any { return refMinMax(cF, false)(part[:pe]) }),
		mk("count(v) over (partition by g order by id rows 1 following .. 3 following)",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggCount, Arg: oc(cV), Type: i64t, Frame: rowsFrame(ptr[int64](1), ptr[int64](3))},
			[]int{cG}, []okey{{col: cID}},
			func(part []orow, i, _, _ int) any {
				a, b := frameBounds(ptr[int64](1), ptr[int64](3), i, len(part))
				if a >= b {
					return int64(0)
				}
				return int64(len(nonNull(part[a:b], cV)))
			}),
		mk("avg(d) over (partition by b) whole partition",
			executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggAvg, Arg: oc(cD), Type: f64t},
			[]int{cB}, nil,
			func(part []orow, _, _, _ int) any { return refAvg(cD)(part) }),
		mk("first_value(s) over (partition by g order by v nulls first, id rows 1 preceding .. current row)",
			executor.WindowCall{Func: executor.WinFirstValue, Arg: oc(cS), Type: strt, Frame: rowsFrame(ptr[int64](-1), ptr[int64](0))},
			[]int{cG}, []okey{{col: cV, nullsFirst: true}, {col: cID}},
			func(part []orow, i, _, _ int) any { return part[max(0, i-1)].cell(cS) }),
		mk("last_value(v) over (partition by s order by f desc) to the last peer",
			executor.WindowCall{Func: executor.WinLastValue, Arg: oc(cV), Type: i64t, Frame: executor.Frame{RangeToPeers: true}},
			[]int{cS}, []okey{{col: cF, desc: true}, {col: cID}},
			func(part []orow, _, _, pe int) any { return part[pe-1].cell(cV) }),
	}
}

// refWindow computes spec for every row, in input order: rows are split
// into partitions, each is sorted by the spec's order, and peers are rows
// equal on every ORDER BY column.
func refWindow(rows []orow, spec winSpec) []any {
	byPart := map[string][]int{}
	var order []string
	for i, r := range rows {
		k := keyOf(r, spec.parts...)
		if _, ok := byPart[k]; !ok {
			order = append(order, k)
		}
		byPart[k] = append(byPart[k], i)
	}
	out := make([]any, len(rows))
	var orderCols []int
	for _, k := range spec.order {
		orderCols = append(orderCols, k.col)
	}
	for _, k := range order {
		var part []orow
		for _, i := range byPart[k] {
			part = append(part, rows[i])
		}
		part = refSort(part, spec.order)
		for i := range part {
			ps, pe := i, i+1
			for ps > 0 && sameKey(orderCols, part[ps-1], part[i]) {
				ps--
			}
			for pe < len(part) && sameKey(orderCols, part[pe], part[i]) {
				pe++
			}
			out[part[i].id] = spec.value(part, i, ps, pe)
		}
	}
	return out
}

// checkWindow runs a Window of specs over rows in batches of size and
// compares every column with the reference. Rows keep their input order.
func checkWindow(t *testing.T, specs []winSpec, rows []orow, size int) {
	t.Helper()
	fields := append([]arrow.Field{}, oSchema.Fields()...)
	calls := make([]executor.WindowCall, len(specs))
	for i, s := range specs {
		calls[i] = s.call
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("w%d", i), Type: s.call.Type, Nullable: true})
	}
	out := arrow.NewSchema(fields, nil)
	want := make([][]any, len(rows))
	for i, r := range rows {
		want[i] = r.cells(allCols...)
	}
	for _, s := range specs {
		col := refWindow(rows, s)
		for i := range want {
			want[i] = append(want[i], col[i])
		}
	}
	mem, ctx := opEnv(t)
	src := fullSource(mem, rows, size)
	got, _ := collect(t, ctx, &executor.Window{Input: src, Calls: calls, Output: out})
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	// Compare column by column, to name the call that differs.
	for c := range fields {
		for i := range want {
			if !cellEqual(got[i][c], want[i][c]) {
				name := fields[c].Name
				if c >= nCols {
					name = specs[c-nCols].name
				}
				t.Errorf("%s: row %d (%s): got %v, want %v", name, i, rowKey(want[i][:nCols]), got[i][c], want[i][c])
				break
			}
		}
	}
}

func TestWindowBatches(t *testing.T) {
	specs := winSpecs()
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(81+di), ds.withNulls)
		for _, size := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch=%d", ds.name, size), func(t *testing.T) {
				checkWindow(t, specs, rows, size)
			})
		}
	}
	t.Run("empty", func(t *testing.T) { checkWindow(t, specs, nil, 3) })
}

// TestWindowAggregateTypes runs window aggregates with the result types
// the planner gives them (executor.AggResultType), for argument types that
// once failed: an exact decimal sum, and min/max of strings.
func TestWindowAggregateTypes(t *testing.T) {
	sumDec, err := executor.AggResultType(executor.AggSum, decType)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		what string
		spec winSpec
	}{
		{
			"sum(decimal) OVER (...) sums exactly into its planned type decimal(38,2)",
			winSpec{
				name:  "sum(d) over (partition by g)",
				call:  executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggSum, Arg: oc(cD), Type: sumDec, PartitionBy: []expr.Expr{oc(cG)}},
				parts: []int{cG},
				value: func(part []orow, _, _, _ int) any { return sumOf(nonNull(part, cD), cD) },
			},
		},
		{
			"max(string) OVER (...) compares strings",
			winSpec{
				name:  "max(s) over (partition by b order by id rows 1 preceding .. 1 following)",
				call:  executor.WindowCall{Func: executor.WinAgg, Agg: executor.AggMax, Arg: oc(cS), Type: arrow.BinaryTypes.String, PartitionBy: []expr.Expr{oc(cB)}, OrderBy: sortKeys([]okey{{col: cID}}), Frame: rowsFrame(ptr[int64](-1), ptr[int64](1))},
				parts: []int{cB},
				order: []okey{{col: cID}},
				value: func(part []orow, i, _, _ int) any {
					a, b := frameBounds(ptr[int64](-1), ptr[int64](1), i, len(part))
					return refMinMax(cS, true)(part[a:b])
				},
			},
		},
	}
	for _, tc := range cases {
		for di, ds := range oDataSet {
			rows := genORows(300, uint64(81+di), ds.withNulls)
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/%s/batch=%d", tc.spec.name, ds.name, size), func(t *testing.T) {
					checkWindow(t, []winSpec{tc.spec}, rows, size)
				})
			}
		}
	}
}
