package executor_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// exchangeParts returns sources over rows split into parts of about equal
// size (plus an empty one), each in batches of size rows.
func exchangeParts(mem memory.Allocator, rows []orow, parts, size int) ([]executor.Operator, []*source) {
	var ops []executor.Operator
	var srcs []*source
	for p := 0; p <= parts; p++ {
		lo, hi := len(rows)*p/parts, len(rows)*(p+1)/parts
		if p == parts {
			lo, hi = 0, 0 // an input without rows
		}
		s := fullSource(mem, rows[lo:hi], size)
		ops, srcs = append(ops, s), append(srcs, s)
	}
	return ops, srcs
}

func TestExchangeBatches(t *testing.T) {
	for di, ds := range oDataSet {
		rows := genORows(400, uint64(91+di), ds.withNulls)
		var want [][]any
		for _, r := range rows {
			want = append(want, r.cells(allCols...))
		}
		specs := []aggSpec{
			{executor.Agg{Func: executor.AggCount}, func(rows []orow) any { return int64(len(rows)) }},
			{executor.Agg{Func: executor.AggSum, Arg: oc(cV)}, refSum(cV)},
		}
		wantAgg := refAggregate(rows, []int{cG}, specs)
		for _, size := range batchSizes {
			for _, buffer := range []int{0, 1} {
				name := fmt.Sprintf("%s/batch=%d/buffer=%d", ds.name, size, buffer)
				t.Run(name, func(t *testing.T) {
					mem, ctx := opEnv(t)
					inputs, srcs := exchangeParts(mem, rows, 4, size)
					got, _ := collect(t, ctx, &executor.Exchange{Inputs: inputs, Output: oSchema, Buffer: buffer})
					checkRows(t, got, want, false)
					for i, s := range srcs {
						if s.closes == 0 {
							t.Errorf("input %d not closed", i)
						}
					}
				})
				t.Run(name+"/under an aggregate", func(t *testing.T) {
					mem, ctx := opEnv(t)
					inputs, _ := exchangeParts(mem, rows, 4, size)
					ex := &executor.Exchange{Inputs: inputs, Output: oSchema, Buffer: buffer}
					h := &executor.HashAggregate{Input: ex, Groups: []expr.Expr{oc(cG)},
						Aggs: []executor.Agg{specs[0].agg, specs[1].agg}, Output: aggSchema([]int{cG}, specs)}
					got, _ := collect(t, ctx, h)
					checkRows(t, got, wantAgg, false)
				})
			}
		}
	}
}

// TestExchangeCloseMidStream closes an exchange after a few batches, while
// its producers are blocked on a full buffer: every batch must be released
// and every goroutine gone.
func TestExchangeCloseMidStream(t *testing.T) {
	rows := genORows(400, 93, true)
	for _, after := range []int{0, 1, 5} {
		for _, buffer := range []int{0, 1} {
			t.Run(fmt.Sprintf("after=%d/buffer=%d", after, buffer), func(t *testing.T) {
				mem, ctx := opEnv(t)
				inputs, srcs := exchangeParts(mem, rows, 4, 1)
				ex := &executor.Exchange{Inputs: inputs, Output: oSchema, Buffer: buffer}
				if err := ex.Open(ctx); err != nil {
					t.Fatal(err)
				}
				for k := 0; k < after; k++ {
					rec, err := ex.Next()
					if err != nil {
						t.Fatalf("Next #%d: %v", k+1, err)
					}
					rec.Release()
				}
				if err := errors.Join(ex.Close(), ex.Close()); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if rec, err := ex.Next(); err != io.EOF {
					if rec != nil {
						rec.Release()
					}
					t.Errorf("Next after Close: %v, want io.EOF", err)
				}
				for i, s := range srcs {
					if s.closes == 0 {
						t.Errorf("input %d not closed", i)
					}
				}
				goleak.VerifyNone(t)
			})
		}
	}
}

// setCols are the columns set operations compare: few distinct rows,
// so that both sides repeat rows and share some.
var setCols = []int{cG, cS, cB}

func setSource(mem memory.Allocator, rows []orow, size int) *source {
	return oSource(mem, oSchemaOf("", setCols...), setCols, rows, size)
}

// refSetOp computes a set operation on rows compared whole, NULL equal to
// NULL: INTERSECT and EXCEPT keep distinct rows, their ALL forms keep
// min(m, n) and max(m-n, 0) copies of a row found m times on the left and
// n times on the right.
func refSetOp(left, right []orow, kind executor.SetOpKind, all bool) [][]any {
	count := map[string]int{}
	for _, r := range right {
		count[keyOf(r, setCols...)]++
	}
	emitted := map[string]bool{}
	var out [][]any
	for _, r := range left {
		k := keyOf(r, setCols...)
		var take bool
		switch {
		case kind == executor.Intersect && all:
			take = count[k] > 0
			count[k]--
		case kind == executor.Intersect:
			take = count[k] > 0 && !emitted[k]
		case all:
			take = count[k] <= 0
			count[k]--
		default:
			take = count[k] == 0 && !emitted[k]
		}
		if take {
			emitted[k] = true
			out = append(out, r.cells(setCols...))
		}
	}
	return out
}

func TestSetOperationsBatches(t *testing.T) {
	schema := oSchemaOf("", setCols...)
	shapes := []struct {
		name        string
		left, right int
	}{{"", 150, 100}, {"empty right/", 30, 0}, {"empty left/", 0, 30}}
	for di, ds := range oDataSet {
		for _, sh := range shapes {
			left := genORows(sh.left, uint64(101+di), ds.withNulls)
			right := genORows(sh.right, uint64(111+di), ds.withNulls)
			var unionAll [][]any
			union := map[string][]any{}
			for _, r := range append(append([]orow{}, left...), right...) {
				unionAll = append(unionAll, r.cells(setCols...))
				union[keyOf(r, setCols...)] = r.cells(setCols...)
			}
			var unionWant [][]any
			for _, r := range union {
				unionWant = append(unionWant, r)
			}
			for _, size := range batchSizes {
				prefix := fmt.Sprintf("%s/%s", ds.name, sh.name)
				suffix := fmt.Sprintf("/batch=%d", size)
				t.Run(prefix+"union all"+suffix, func(t *testing.T) {
					mem, ctx := opEnv(t)
					c := &executor.Concat{Inputs: []executor.Operator{setSource(mem, left, size), setSource(mem, nil, size), setSource(mem, right, size)}, Output: schema}
					got, _ := collect(t, ctx, c)
					checkRows(t, got, unionAll, true) // Concat yields its inputs in turn
				})
				t.Run(prefix+"union"+suffix, func(t *testing.T) {
					mem, ctx := opEnv(t)
					c := &executor.Concat{Inputs: []executor.Operator{setSource(mem, left, size), setSource(mem, right, size)}, Output: schema}
					groups := []expr.Expr{ocAt(cG, 0, ""), ocAt(cS, 1, ""), ocAt(cB, 2, "")}
					got, _ := collect(t, ctx, &executor.HashAggregate{Input: c, Groups: groups, Output: schema})
					checkRows(t, got, unionWant, false)
				})
				for _, kind := range []executor.SetOpKind{executor.Intersect, executor.Except} {
					for _, all := range []bool{false, true} {
						want := refSetOp(left, right, kind, all)
						op := &executor.SetOp{Kind: kind, All: all}
						t.Run(prefix+op.String()+suffix, func(t *testing.T) {
							mem, ctx := opEnv(t)
							op.Left, op.Right = setSource(mem, left, size), setSource(mem, right, size)
							got, _ := collect(t, ctx, op)
							checkRows(t, got, want, false)
						})
					}
				}
			}
		}
	}
}

func TestLimitOverSortBatches(t *testing.T) {
	keys := []okey{{col: cS, nullsFirst: true}, {col: cV, desc: true}, {col: cID}}
	limits := []struct{ n, offset int64 }{{0, 0}, {1, 0}, {5, 0}, {5, 7}, {40, 280}, {10, 400}}
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(121+di), ds.withNulls)
		sorted := refSort(rows, keys)
		for _, l := range limits {
			lo := min(int(l.offset), len(sorted))
			var want [][]any
			for _, r := range sorted[lo:min(lo+int(l.n), len(sorted))] {
				want = append(want, r.cells(allCols...))
			}
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/limit=%d/offset=%d/batch=%d", ds.name, l.n, l.offset, size), func(t *testing.T) {
					mem, ctx := opEnv(t)
					s := &executor.Sort{Input: fullSource(mem, rows, size), Keys: sortKeys(keys), Limit: -1}
					got, _ := collect(t, ctx, &executor.Limit{Input: s, N: l.n, Offset: l.offset})
					checkRows(t, got, want, true)
				})
			}
		}
	}
}

// statefulCase builds one stateful operator over sources of rows in
// batches of size rows, and returns its sources (inputs of them) too.
type statefulCase struct {
	name   string
	inputs int
	build  func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source)
}

func statefulCases() []statefulCase {
	one := func(mk func(src executor.Operator) executor.Operator) func(memory.Allocator, []orow, int) (executor.Operator, []*source) {
		return func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source) {
			src := fullSource(mem, rows, size)
			return mk(src), []*source{src}
		}
	}
	specs := aggSpecs()[:8]
	aggs := aggsOf(specs)
	win := winSpecs()
	calls := make([]executor.WindowCall, len(win))
	fields := append([]arrow.Field{}, oSchema.Fields()...)
	for i, w := range win {
		calls[i] = w.call
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("w%d", i), Type: w.call.Type, Nullable: true})
	}
	winOut := arrow.NewSchema(fields, nil)
	join := func(typ executor.JoinType, buildLeft bool, workers int) func(memory.Allocator, []orow, int) (executor.Operator, []*source) {
		return func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source) {
			l, r := fullSource(mem, rows, size), oSource(mem, rSchema, allCols, rows, size)
			out := joinedSchema
			if typ == executor.SemiJoin || typ == executor.AntiJoin {
				out = oSchema
			}
			return &executor.HashJoin{Left: l, Right: r, Type: typ, LeftKeys: []expr.Expr{oc(cG)}, RightKeys: []expr.Expr{oc(cG)},
				Residual: cmpE(oc(cV), expr.Lt, rc(cV)), Output: out, BuildLeft: buildLeft, Workers: workers}, []*source{l, r}
		}
	}
	return []statefulCase{
		{"hash aggregate", 1, one(func(src executor.Operator) executor.Operator {
			return &executor.HashAggregate{Input: src, Groups: []expr.Expr{oc(cG), oc(cS)}, Aggs: aggs,
				Output: aggSchema([]int{cG, cS}, specs), BatchSize: 1}
		})},
		{"sort", 1, one(func(src executor.Operator) executor.Operator {
			return &executor.Sort{Input: src, Keys: sortKeys(sortCases[0].keys), Limit: -1}
		})},
		{"top-n", 1, one(func(src executor.Operator) executor.Operator {
			return &executor.Sort{Input: src, Keys: sortKeys(sortCases[1].keys), Limit: 7, Offset: 2}
		})},
		{"window", 1, one(func(src executor.Operator) executor.Operator {
			return &executor.Window{Input: src, Calls: calls, Output: winOut}
		})},
		{"hash aggregate, 3 workers", 1, one(func(src executor.Operator) executor.Operator {
			return &executor.HashAggregate{Input: src, Groups: []expr.Expr{oc(cG), oc(cS)}, Aggs: aggs[:2],
				Output: aggSchema([]int{cG, cS}, specs[:2]), BatchSize: 1, Workers: 3}
		})},
		{"full join", 2, join(executor.FullJoin, false, 0)},
		{"left join", 2, join(executor.LeftJoin, false, 0)},
		{"inner join, 3 workers", 2, join(executor.InnerJoin, false, 3)},
		{"anti join, 3 workers", 2, join(executor.AntiJoin, false, 3)},
		{"semi join build left", 2, join(executor.SemiJoin, true, 0)},
		{"except all", 2, func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source) {
			l, r := setSource(mem, rows, size), setSource(mem, rows[:len(rows)/3], size)
			return &executor.SetOp{Left: l, Right: r, Kind: executor.Except, All: true}, []*source{l, r}
		}},
		{"concat", 2, func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source) {
			l, r := fullSource(mem, rows, size), fullSource(mem, rows, size)
			return &executor.Concat{Inputs: []executor.Operator{l, r}, Output: oSchema}, []*source{l, r}
		}},
		{"exchange", 4, func(mem memory.Allocator, rows []orow, size int) (executor.Operator, []*source) {
			inputs, srcs := exchangeParts(mem, rows, 3, size)
			return &executor.Exchange{Inputs: inputs, Output: oSchema, Buffer: 1}, srcs
		}},
	}
}

// TestLimitStopsStatefulOperators reads a few rows of each stateful
// operator through a Limit, which then closes it mid-stream: the rows must
// be rows of the operator's whole result, and nothing may leak.
func TestLimitStopsStatefulOperators(t *testing.T) {
	rows := genORows(40, 131, true)
	for _, sc := range statefulCases() {
		for _, l := range []struct{ n, offset int64 }{{1, 0}, {2, 3}} {
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/limit=%d/offset=%d/batch=%d", sc.name, l.n, l.offset, size), func(t *testing.T) {
					mem, ctx := opEnv(t)
					op, _ := sc.build(mem, rows, size)
					all, _ := collect(t, ctx, op)
					op, srcs := sc.build(mem, rows, size)
					got, _ := collect(t, ctx, &executor.Limit{Input: op, N: l.n, Offset: l.offset})
					if want := min(l.n, max(int64(len(all))-l.offset, 0)); int64(len(got)) != want {
						t.Errorf("%d rows, want %d", len(got), want)
					}
					if d := subMultiset(got, all); d != "" {
						t.Error(d)
					}
					for i, s := range srcs {
						if s.closes == 0 {
							t.Errorf("input %d not closed", i)
						}
					}
				})
			}
		}
	}
}

// TestStatefulLifecycle checks the operator contract on every stateful
// operator: Close before Open and twice, io.EOF again after the end, and
// an input's error passed on with nothing leaked.
func TestStatefulLifecycle(t *testing.T) {
	rows := genORows(40, 141, true)
	for _, sc := range statefulCases() {
		t.Run(sc.name+"/close before open", func(t *testing.T) {
			mem, _ := opEnv(t)
			op, srcs := sc.build(mem, rows, 3)
			if err := errors.Join(op.Close(), op.Close()); err != nil {
				t.Fatalf("Close before Open: %v", err)
			}
			for i, s := range srcs {
				if s.closes == 0 {
					t.Errorf("input %d not closed", i)
				}
			}
		})
		t.Run(sc.name+"/next after EOF", func(t *testing.T) {
			mem, ctx := opEnv(t)
			op, _ := sc.build(mem, rows, 3)
			defer op.Close()
			for k := 0; k < 2; k++ {
				if err := op.Open(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for {
				rec, err := op.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				rec.Release()
			}
			for k := 0; k < 3; k++ {
				if rec, err := op.Next(); err != io.EOF {
					if rec != nil {
						rec.Release()
					}
					t.Fatalf("Next #%d after EOF: %v, want io.EOF", k+1, err)
				}
			}
		})
		for side := 0; side < sc.inputs; side++ {
			t.Run(fmt.Sprintf("%s/error from input %d", sc.name, side), func(t *testing.T) {
				mem, ctx := opEnv(t)
				op, srcs := sc.build(mem, rows, 3)
				if len(srcs) != sc.inputs {
					t.Fatalf("%d inputs, the case says %d", len(srcs), sc.inputs)
				}
				boom := errors.New("boom")
				srcs[side].err = boom
				err := executor.Drain(ctx, op, func(arrow.RecordBatch) error { return nil })
				if !errors.Is(err, boom) {
					t.Fatalf("Drain: %v, want the input's error", err)
				}
			})
		}
	}
}
