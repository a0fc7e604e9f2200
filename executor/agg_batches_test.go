package executor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// aggSpec is one aggregate and its reference over a group's rows.
type aggSpec struct {
	agg executor.Agg
	ref func(rows []orow) any
}

// nonNull returns the non-NULL raw values of column c in rows.
func nonNull(rows []orow, c int) []any {
	var out []any
	for _, r := range rows {
		if v, ok := r.raw(c); ok {
			out = append(out, v)
		}
	}
	return out
}

func distinctVals(vals []any) []any {
	seen := map[any]bool{}
	var out []any
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func where(rows []orow, keep func(orow) bool) []orow {
	var out []orow
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// asFloats reads raw numbers as float64 (decimals at scale 2).
func asFloats(vals []any, c int) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case int64:
			out[i] = float64(x)
			if c == cD {
				out[i] /= 100
			}
		case float64:
			out[i] = x
		}
	}
	return out
}

func refSum(c int) func([]orow) any {
	return func(rows []orow) any { return sumOf(nonNull(rows, c), c) }
}

func sumOf(vals []any, c int) any {
	if len(vals) == 0 {
		return nil
	}
	switch c {
	case cF:
		s := 0.0
		for _, v := range vals {
			s += v.(float64)
		}
		return s
	case cD:
		var s int64
		for _, v := range vals {
			s += v.(int64)
		}
		return decOf(s, 2)
	}
	var s int64
	for _, v := range vals {
		s += v.(int64)
	}
	return s
}

func refAvg(c int) func([]orow) any {
	return func(rows []orow) any {
		xs := asFloats(nonNull(rows, c), c)
		if len(xs) == 0 {
			return nil
		}
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
}

// refMinMax keeps the least (or greatest) value of column c.
func refMinMax(c int, greatest bool) func([]orow) any {
	return func(rows []orow) any {
		var best orow
		found := false
		for _, r := range rows {
			v, ok := r.raw(c)
			if !ok {
				continue
			}
			if b, _ := best.raw(c); !found || (cmpRaw(v, b) > 0) == greatest && cmpRaw(v, b) != 0 {
				best, found = r, true
			}
		}
		if !found {
			return nil
		}
		return best.cell(c)
	}
}

func refBool(and bool) func([]orow) any {
	return func(rows []orow) any {
		vals := nonNull(rows, cB)
		if len(vals) == 0 {
			return nil
		}
		acc := and
		for _, v := range vals {
			if and {
				acc = acc && v.(bool)
			} else {
				acc = acc || v.(bool)
			}
		}
		return acc
	}
}

// refVar is the variance (sample or population), optionally its square
// root, computed in two passes.
func refVar(c int, sample, root bool) func([]orow) any {
	return func(rows []orow) any {
		xs := asFloats(nonNull(rows, c), c)
		n := float64(len(xs))
		if len(xs) == 0 || (sample && len(xs) < 2) {
			return nil
		}
		mean := 0.0
		for _, x := range xs {
			mean += x
		}
		mean /= n
		m2 := 0.0
		for _, x := range xs {
			m2 += (x - mean) * (x - mean)
		}
		v := m2 / n
		if sample {
			v = m2 / (n - 1)
		}
		if root {
			return math.Sqrt(v)
		}
		return v
	}
}

func aggSpecs() []aggSpec {
	count := func(c int) func([]orow) any {
		return func(rows []orow) any { return int64(len(nonNull(rows, c))) }
	}
	countDistinct := func(c int) func([]orow) any {
		return func(rows []orow) any { return int64(len(distinctVals(nonNull(rows, c)))) }
	}
	isTrue := func(r orow) bool { return r.b != nil && *r.b }
	positive := func(r orow) bool { return r.v != nil && *r.v > 0 }
	return []aggSpec{
		{executor.Agg{Func: executor.AggCount, Arg: oc(cV)}, count(cV)},
		{executor.Agg{Func: executor.AggCount}, func(rows []orow) any { return int64(len(rows)) }},
		{executor.Agg{Func: executor.AggCount, Arg: oc(cS), Distinct: true}, countDistinct(cS)},
		{executor.Agg{Func: executor.AggCount, Arg: oc(cF), Distinct: true}, countDistinct(cF)},
		{executor.Agg{Func: executor.AggSum, Arg: oc(cV)}, refSum(cV)},
		{executor.Agg{Func: executor.AggSum, Arg: oc(cF)}, refSum(cF)},
		{executor.Agg{Func: executor.AggSum, Arg: oc(cD)}, refSum(cD)},
		{executor.Agg{Func: executor.AggSum, Arg: oc(cV), Distinct: true}, func(rows []orow) any {
			return sumOf(distinctVals(nonNull(rows, cV)), cV)
		}},
		{executor.Agg{Func: executor.AggAvg, Arg: oc(cV)}, refAvg(cV)},
		{executor.Agg{Func: executor.AggAvg, Arg: oc(cF)}, refAvg(cF)},
		{executor.Agg{Func: executor.AggAvg, Arg: oc(cD)}, refAvg(cD)},
		{executor.Agg{Func: executor.AggMin, Arg: oc(cV)}, refMinMax(cV, false)},
		{executor.Agg{Func: executor.AggMax, Arg: oc(cV)}, refMinMax(cV, true)},
		{executor.Agg{Func: executor.AggMin, Arg: oc(cS)}, refMinMax(cS, false)},
		{executor.Agg{Func: executor.AggMax, Arg: oc(cS)}, refMinMax(cS, true)},
		{executor.Agg{Func: executor.AggMin, Arg: oc(cF)}, refMinMax(cF, false)},
		{executor.Agg{Func: executor.AggMax, Arg: oc(cF)}, refMinMax(cF, true)},
		{executor.Agg{Func: executor.AggMin, Arg: oc(cD)}, refMinMax(cD, false)},
		{executor.Agg{Func: executor.AggMax, Arg: oc(cD)}, refMinMax(cD, true)},
		{executor.Agg{Func: executor.AggMin, Arg: oc(cB)}, refMinMax(cB, false)},
		{executor.Agg{Func: executor.AggBoolAnd, Arg: oc(cB)}, refBool(true)},
		{executor.Agg{Func: executor.AggBoolOr, Arg: oc(cB)}, refBool(false)},
		{executor.Agg{Func: executor.AggVarSamp, Arg: oc(cF)}, refVar(cF, true, false)},
		{executor.Agg{Func: executor.AggVarPop, Arg: oc(cV)}, refVar(cV, false, false)},
		{executor.Agg{Func: executor.AggStddevSamp, Arg: oc(cV)}, refVar(cV, true, true)},
		{executor.Agg{Func: executor.AggStddevPop, Arg: oc(cF)}, refVar(cF, false, true)},
		{executor.Agg{Func: executor.AggStddevSamp, Arg: oc(cD)}, refVar(cD, true, true)},
		{executor.Agg{Func: executor.AggCount, Filter: oc(cB)}, func(rows []orow) any {
			return int64(len(where(rows, isTrue)))
		}},
		{executor.Agg{Func: executor.AggSum, Arg: oc(cV), Filter: cmpE(oc(cV), expr.Gt, i64(0))}, func(rows []orow) any {
			return refSum(cV)(where(rows, positive))
		}},
		{executor.Agg{Func: executor.AggCount, Arg: oc(cS), Distinct: true, Filter: oc(cB)}, func(rows []orow) any {
			return countDistinct(cS)(where(rows, isTrue))
		}},
	}
}

// aggSchema is the output schema of a HashAggregate grouping by the
// table's columns groups and computing specs.
func aggSchema(groups []int, specs []aggSpec) *arrow.Schema {
	var fields []arrow.Field
	for _, c := range groups {
		fields = append(fields, arrow.Field{Name: oNames[c], Type: oTypes[c], Nullable: true})
	}
	for i, s := range specs {
		var argType arrow.DataType
		if s.agg.Arg != nil {
			argType = s.agg.Arg.DataType()
		}
		rt, err := executor.AggResultType(s.agg.Func, argType)
		if err != nil {
			panic(fmt.Sprintf("aggregate %d of the test has no result type: %v", i, err))
		}
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("agg%d", i), Type: rt, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// refAggregate groups rows by the columns groups (NULLs form one group)
// and computes specs per group; without groups it yields one row, even
// for no rows.
func refAggregate(rows []orow, groups []int, specs []aggSpec) [][]any {
	var order []string
	byKey := map[string][]orow{}
	if len(groups) == 0 {
		order = []string{""}
		byKey[""] = rows
	} else {
		for _, r := range rows {
			k := keyOf(r, groups...)
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], r)
		}
	}
	var out [][]any
	for _, k := range order {
		g := byKey[k]
		var cells []any
		if len(groups) > 0 {
			cells = g[0].cells(groups...)
		}
		for _, s := range specs {
			cells = append(cells, s.ref(g))
		}
		out = append(out, cells)
	}
	return out
}

func TestHashAggregateBatches(t *testing.T) {
	all := aggSpecs()
	// Several workers need aggregates whose partial results merge; with
	// DISTINCT the aggregate runs in one goroutine.
	var merged []aggSpec
	for _, s := range all {
		if executor.Mergeable([]executor.Agg{s.agg}) {
			merged = append(merged, s)
		}
	}
	if executor.Mergeable(aggsOf(all)) || !executor.Mergeable(aggsOf(merged)) {
		t.Fatalf("the spec lists do not split into mergeable and not")
	}
	variants := []struct {
		out, workers int
		specs        []aggSpec
	}{{0, 0, all}, {1, 0, all}, {0, 3, merged}}
	groupings := []struct {
		name string
		cols []int
	}{
		{"no groups", nil},
		{"int key", []int{cG}},
		{"string key", []int{cS}},
		{"bool key", []int{cB}},
		{"two keys", []int{cG, cS}},
		{"three keys", []int{cB, cS, cG}},
	}
	data := append(oDataSet, struct {
		name      string
		withNulls bool
	}{"empty", false})
	for di, ds := range data {
		rows := genORows(200, uint64(11+di), ds.withNulls)
		if ds.name == "empty" {
			rows = nil
		}
		for _, gr := range groupings {
			groups := make([]expr.Expr, len(gr.cols))
			for i, c := range gr.cols {
				groups[i] = oc(c)
			}
			for _, v := range variants {
				out := aggSchema(gr.cols, v.specs)
				want := refAggregate(rows, gr.cols, v.specs)
				for _, size := range batchSizes {
					if size == 1 && v.out == 1 {
						continue // the output size does not depend on the input's
					}
					name := fmt.Sprintf("%s/%s/batch=%d/out=%d/workers=%d", ds.name, gr.name, size, v.out, v.workers)
					t.Run(name, func(t *testing.T) {
						mem, ctx := opEnv(t)
						src := fullSource(mem, rows, size)
						h := &executor.HashAggregate{Input: src, Groups: groups, Aggs: aggsOf(v.specs), Output: out,
							BatchSize: v.out, Workers: v.workers}
						got, sizes := collect(t, ctx, h)
						checkRows(t, got, want, false)
						if len(gr.cols) == 0 && len(got) != 1 {
							t.Errorf("without groups: %d rows, want exactly one", len(got))
						}
						for _, n := range sizes {
							if v.out > 0 && n > int64(v.out) {
								t.Errorf("a batch of %d groups with BatchSize %d", n, v.out)
							}
						}
						if src.closes == 0 {
							t.Errorf("input not closed")
						}
					})
				}
			}
		}
	}
}

func aggsOf(specs []aggSpec) []executor.Agg {
	out := make([]executor.Agg, len(specs))
	for i, s := range specs {
		out[i] = s.agg
	}
	return out
}

// TestHashAggregateStringAgg checks string_agg, which joins a group's
// strings in arrival order: the input's order, with one worker.
func TestHashAggregateStringAgg(t *testing.T) {
	spec := aggSpec{executor.Agg{Func: executor.AggStringAgg, Arg: oc(cS), Sep: ";"}, func(rows []orow) any {
		vals := nonNull(rows, cS)
		if len(vals) == 0 {
			return nil
		}
		out := vals[0].(string)
		for _, v := range vals[1:] {
			out += ";" + v.(string)
		}
		return out
	}}
	specs := []aggSpec{spec}
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(11+di), ds.withNulls)
		for _, cols := range [][]int{nil, {cG}, {cS, cB}} {
			groups := make([]expr.Expr, len(cols))
			for i, c := range cols {
				groups[i] = oc(c)
			}
			want := refAggregate(rows, cols, specs)
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/groups=%d/batch=%d", ds.name, len(cols), size), func(t *testing.T) {
					mem, ctx := opEnv(t)
					h := &executor.HashAggregate{Input: fullSource(mem, rows, size), Groups: groups, Aggs: aggsOf(specs), Output: aggSchema(cols, specs)}
					got, _ := collect(t, ctx, h)
					checkRows(t, got, want, false)
				})
			}
		}
	}
}

// TestHashAggregateDistinctRows is SELECT DISTINCT (and UNION): grouping by
// every column with no aggregates.
func TestHashAggregateDistinctRows(t *testing.T) {
	cols := []int{cG, cS, cB}
	schema := oSchemaOf("", cols...)
	groups := []expr.Expr{ocAt(cG, 0, ""), ocAt(cS, 1, ""), ocAt(cB, 2, "")}
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(21+di), ds.withNulls)
		seen := map[string]bool{}
		var want [][]any
		for _, r := range rows {
			if k := keyOf(r, cols...); !seen[k] {
				seen[k] = true
				want = append(want, r.cells(cols...))
			}
		}
		for _, size := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch=%d", ds.name, size), func(t *testing.T) {
				mem, ctx := opEnv(t)
				src := oSource(mem, schema, cols, rows, size)
				got, _ := collect(t, ctx, &executor.HashAggregate{Input: src, Groups: groups, Output: schema})
				checkRows(t, got, want, false)
			})
		}
	}
}
