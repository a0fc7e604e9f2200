package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// testRows is the table the operator tests read: the hand-written corner
// cases and generated rows with NULLs (52 rows, so batch size 3 leaves a
// ragged last batch).
func testRows() []row { return append(append([]row{}, handRows...), genRows(40, 7, true)...) }

// sourceOf returns a source over rows cut into batches of size, built on
// mem, and the rendering of every row in order.
func sourceOf(t *testing.T, mem memory.Allocator, rows []row, size int) (*source, []string) {
	t.Helper()
	rec := buildRecord(mem, rows)
	defer rec.Release()
	return newSource(testSchema, cut(rec, size)...), recordRows(t, rec)
}

func TestFilter(t *testing.T) {
	rows := testRows()
	tests := []struct {
		name string
		pred expr.Expr
		keep func(r row) bool
	}{
		{"p AND q", andE(colP, colQ), func(r row) bool { return and3(r.p, r.q) == tru }},
		{"p OR q", orE(colP, colQ), func(r row) bool { v := or3(r.p, r.q); return v != nil && *v }},
		{"NOT p", notE(colP), func(r row) bool { return r.p != nil && !*r.p }},
		{"a > 2 OR s LIKE 'a%'", orE(cmpE(colA, expr.Gt, i64(2)), likeE(colS, "a%", false, false)), func(r row) bool {
			v := or3(cmp3(r.a, ptr[int64](2), expr.Gt), like3(r.s, "a%", false, false))
			return v != nil && *v
		}},
		{"st.inner.y IS NULL", isNull(colY), func(r row) bool { return r.stY() == nil }},
		{"st.x >= 2", cmpE(colX, expr.GtEq, i64(2)), func(r row) bool { x := r.stX(); return x != nil && *x >= 2 }},
		{"a NOT IN (1, NULL) keeps nothing", inE(colA, true, i64(1), nullOf(arrow.PrimitiveTypes.Int64)), func(row) bool { return false }},
		{"a IN (1, NULL)", inE(colA, false, i64(1), nullOf(arrow.PrimitiveTypes.Int64)), func(r row) bool { return r.a != nil && *r.a == 1 }},
		{"true keeps all", boolLit(true), func(row) bool { return true }},
		{"false keeps none", boolLit(false), func(row) bool { return false }},
		{"NULL keeps none", nullOf(arrow.FixedWidthTypes.Boolean), func(row) bool { return false }},
		{"s IS NOT NULL", isNotNull(colS), func(r row) bool { return r.s != nil }},
		// Conjuncts of an AND run one at a time, reordered (the LIKE and
		// the OR last): the rows kept are those of the whole AND.
		{"s LIKE 'a%' AND (p OR q) AND a >= 0 AND s IS NOT NULL AND a = 4", andE(likeE(colS, "a%", false, false), orE(colP, colQ),
			cmpE(colA, expr.GtEq, i64(0)), isNotNull(colS), cmpE(colA, expr.Eq, i64(4))), func(r row) bool {
			v := and3(and3(like3(r.s, "a%", false, false), or3(r.p, r.q)), cmp3(r.a, ptr[int64](0), expr.GtEq))
			return v != nil && *v && r.s != nil && r.a != nil && *r.a == 4
		}},
		{"a > 0 AND a < 3 AND NOT p", andE(cmpE(colA, expr.Gt, i64(0)), cmpE(colA, expr.Lt, i64(3)), notE(colP)), func(r row) bool {
			return r.a != nil && *r.a > 0 && *r.a < 3 && r.p != nil && !*r.p
		}},
	}
	for _, tt := range tests {
		for _, size := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch=%d", tt.name, size), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				src, all := sourceOf(t, mem, rows, size)
				var want []string
				for i, r := range rows {
					if tt.keep(r) {
						want = append(want, all[i])
					}
				}
				got, sizes := drain(t, ctx, &executor.Filter{Input: src, Predicate: tt.pred})
				if !reflect.DeepEqual(got, want) {
					t.Errorf("rows:\n got  %q\n want %q", got, want)
				}
				for _, n := range sizes {
					if n > int64(size) {
						t.Errorf("batch of %d rows from input batches of %d", n, size)
					}
				}
				if src.closes == 0 {
					t.Errorf("Filter did not close its input")
				}
			})
		}
	}
}

func TestProject(t *testing.T) {
	rows := testRows()
	exprs := []expr.Expr{colA, colY, andE(colP, colQ), cmpE(colA, expr.Gt, i64(2)), i64(9), likeE(colS, "%a%", true, true)}
	out := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "pq", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "big", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "nine", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "no_a", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	var want []string
	for _, r := range rows {
		vals := []any{int3(r.a), str3(r.stY()), b3(and3(r.p, r.q)), b3(cmp3(r.a, ptr[int64](2), expr.Gt)), int64(9), b3(like3(r.s, "%a%", true, true))}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v != nil {
				parts[i] = fmt.Sprint(v)
			}
		}
		want = append(want, strings.Join(parts, "|"))
	}
	for _, size := range batchSizes {
		t.Run(fmt.Sprintf("batch=%d", size), func(t *testing.T) {
			mem, ctx := newAlloc(t)
			src, _ := sourceOf(t, mem, rows, size)
			p := &executor.Project{Input: src, Exprs: exprs, Output: out}
			got, _ := drain(t, ctx, p)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func TestProjectError(t *testing.T) {
	mem, ctx := newAlloc(t)
	src, _ := sourceOf(t, mem, handRows, 3)
	out := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	// The first expression succeeds: its array must be released when the
	// second fails.
	p := &executor.Project{Input: src, Exprs: []expr.Expr{colA, &expr.Param{Index: 1, Type: arrow.PrimitiveTypes.Int64}}, Output: out}
	err := executor.Drain(ctx, p, func(arrow.RecordBatch) error { return nil })
	if !errors.Is(err, executor.ErrUnboundParam) {
		t.Fatalf("Drain error %v, want ErrUnboundParam", err)
	}
	if src.closes != 1 {
		t.Errorf("input closed %d times, want 1", src.closes)
	}
}

func TestFilterError(t *testing.T) {
	mem, ctx := newAlloc(t)
	src, _ := sourceOf(t, mem, handRows, 5)
	f := &executor.Filter{Input: src, Predicate: andE(colP, cmpE(colA, expr.Eq, &expr.Param{Index: 2, Type: arrow.PrimitiveTypes.Int64}))}
	err := executor.Drain(ctx, f, func(arrow.RecordBatch) error { return nil })
	if !errors.Is(err, executor.ErrUnboundParam) || !strings.Contains(err.Error(), "$2") {
		t.Fatalf("Drain error %v, want ErrUnboundParam naming $2", err)
	}
}

func TestLimit(t *testing.T) {
	rows := testRows() // 52 rows
	n := int64(len(rows))
	tests := []struct{ limit, offset int64 }{
		{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 3}, {3, 3}, {1, 51}, {10, 51}, {5, 52}, {5, 100},
		{52, 0}, {100, 0}, {7, 10},
		// OFFSET without LIMIT: the planner passes N = MaxInt64.
		{math.MaxInt64, 0}, {math.MaxInt64, 1}, {math.MaxInt64, 5}, {math.MaxInt64, 51}, {math.MaxInt64, 60},
		{math.MaxInt64 - 2, 5},
	}
	for _, tt := range tests {
		for _, size := range batchSizes {
			t.Run(fmt.Sprintf("limit=%d/offset=%d/batch=%d", tt.limit, tt.offset, size), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				src, all := sourceOf(t, mem, rows, size)
				lo := min(tt.offset, n)
				hi := n
				if tt.limit < n-lo {
					hi = lo + tt.limit
				}
				want := all[lo:hi]
				got, _ := drain(t, ctx, &executor.Limit{Input: src, N: tt.limit, Offset: tt.offset})
				if len(want) == 0 {
					want = nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %d rows %q\nwant %d rows %q", len(got), got, len(want), want)
				}
				// Limit stops pulling once it has its rows.
				if tt.limit < n && tt.offset+tt.limit >= 0 {
					needed := (min(tt.offset+tt.limit, n) + int64(size) - 1) / int64(size)
					if int64(src.nexts) > needed+1 || (tt.offset+tt.limit < n && int64(src.nexts) > needed) {
						t.Errorf("Limit pulled %d input batches, needs only %d", src.nexts, needed)
					}
				}
			})
		}
	}
}

func TestValues(t *testing.T) {
	empty := arrow.NewSchema(nil, nil)
	plan := arrow.NewSchema([]arrow.Field{{Name: "plan", Type: arrow.BinaryTypes.String}}, nil)
	tests := []struct {
		name    string
		v       *executor.Values
		rows    int64
		strs    []string
		display string
	}{
		{"one row", &executor.Values{Output: empty, Rows: 1}, 1, nil, "Values 1 rows"},
		{"three rows", &executor.Values{Output: empty, Rows: 3}, 3, nil, "Values 3 rows"},
		{"no rows", &executor.Values{Output: empty, Rows: 0}, 0, nil, "Values 0 rows"},
		{"strings", &executor.Values{Output: plan, Strings: []string{"Limit 1", "  Scan t", ""}}, 3, []string{"Limit 1", "  Scan t", ""}, "Values 3 rows"},
		{"no strings", &executor.Values{Output: plan, Strings: []string{}}, 0, nil, "Values 0 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ctx := newAlloc(t)
			if got := tt.v.String(); got != tt.display {
				t.Errorf("String() = %q, want %q", got, tt.display)
			}
			var rows int64
			var strs []string
			err := executor.Drain(ctx, tt.v, func(rec arrow.RecordBatch) error {
				rows += rec.NumRows()
				if !rec.Schema().Equal(tt.v.Output) {
					t.Errorf("schema %s, want %s", rec.Schema(), tt.v.Output)
				}
				if rec.NumCols() == 1 {
					for _, v := range values(t, rec.Column(0)) {
						strs = append(strs, v.(string))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rows != tt.rows || !reflect.DeepEqual(strs, tt.strs) {
				t.Errorf("got %d rows %q, want %d rows %q", rows, strs, tt.rows, tt.strs)
			}
		})
	}
}

// lifecycleCases build operator trees over a source of handRows.
func lifecycleCases() []struct {
	name  string
	build func(src executor.Operator) executor.Operator
} {
	out := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	return []struct {
		name  string
		build func(src executor.Operator) executor.Operator
	}{
		{"filter", func(src executor.Operator) executor.Operator {
			return &executor.Filter{Input: src, Predicate: isNotNull(colA)}
		}},
		{"project", func(src executor.Operator) executor.Operator {
			return &executor.Project{Input: src, Exprs: []expr.Expr{colA}, Output: out}
		}},
		{"limit", func(src executor.Operator) executor.Operator {
			return &executor.Limit{Input: src, N: 5, Offset: 2}
		}},
		{"limit zero", func(src executor.Operator) executor.Operator {
			return &executor.Limit{Input: src, N: 0}
		}},
		{"stack", func(src executor.Operator) executor.Operator {
			f := &executor.Filter{Input: src, Predicate: isNotNull(colA)}
			p := &executor.Project{Input: f, Exprs: []expr.Expr{colA}, Output: out}
			return &executor.Limit{Input: p, N: 4, Offset: 1}
		}},
	}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range lifecycleCases() {
		t.Run(tc.name+"/close before open", func(t *testing.T) {
			mem, _ := newAlloc(t)
			src, _ := sourceOf(t, mem, handRows, 3)
			op := tc.build(src)
			if err := op.Close(); err != nil {
				t.Fatalf("Close before Open: %v", err)
			}
			if err := op.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if src.closes == 0 {
				t.Errorf("Close did not close the input")
			}
		})
		t.Run(tc.name+"/open twice", func(t *testing.T) {
			mem, ctx := newAlloc(t)
			src, _ := sourceOf(t, mem, handRows, 3)
			once, _ := drain(t, ctx, tc.build(src))

			src2, _ := sourceOf(t, mem, handRows, 3)
			op := tc.build(src2)
			defer op.Close()
			for k := 0; k < 2; k++ {
				if err := op.Open(ctx); err != nil {
					t.Fatalf("Open #%d: %v", k+1, err)
				}
			}
			// A batch read between two Opens is not read again.
			var got []string
			if rec, err := op.Next(); err == nil {
				got = append(got, recordRows(t, rec)...)
				rec.Release()
			} else if err != io.EOF {
				t.Fatal(err)
			}
			if err := op.Open(ctx); err != nil {
				t.Fatalf("Open after Next: %v", err)
			}
			for {
				rec, err := op.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, recordRows(t, rec)...)
				rec.Release()
			}
			if !reflect.DeepEqual(got, once) {
				t.Errorf("with repeated Open got %q, want %q", got, once)
			}
		})
		t.Run(tc.name+"/next after EOF", func(t *testing.T) {
			mem, ctx := newAlloc(t)
			src, _ := sourceOf(t, mem, handRows, 3)
			op := tc.build(src)
			if err := op.Open(ctx); err != nil {
				t.Fatal(err)
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
					t.Fatalf("Next #%d after EOF = %v, want io.EOF", k+1, err)
				}
			}
			if err := errors.Join(op.Close(), op.Close()); err != nil {
				t.Fatalf("Close twice after EOF: %v", err)
			}
		})
		t.Run(tc.name+"/input error", func(t *testing.T) {
			mem, ctx := newAlloc(t)
			src, _ := sourceOf(t, mem, handRows[:1], 3)
			boom := errors.New("boom")
			src.err = boom
			op := tc.build(src)
			err := executor.Drain(ctx, op, func(arrow.RecordBatch) error { return nil })
			if tc.name == "limit zero" {
				// A zero limit never reads its input.
				if err != nil {
					t.Fatalf("Drain: %v", err)
				}
				return
			}
			if !errors.Is(err, boom) {
				t.Fatalf("Drain error %v, want the input's error", err)
			}
			if src.closes == 0 {
				t.Errorf("input not closed after an error")
			}
		})
	}

	// Values, a leaf.
	t.Run("values", func(t *testing.T) {
		_, ctx := newAlloc(t)
		plan := arrow.NewSchema([]arrow.Field{{Name: "plan", Type: arrow.BinaryTypes.String}}, nil)
		v := &executor.Values{Output: plan, Strings: []string{"x"}}
		if err := v.Close(); err != nil {
			t.Fatalf("Close before Open: %v", err)
		}
		v = &executor.Values{Output: plan, Strings: []string{"x"}}
		if err := errors.Join(v.Open(ctx), v.Open(ctx)); err != nil {
			t.Fatal(err)
		}
		rec, err := v.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		for k := 0; k < 2; k++ {
			if _, err := v.Next(); err != io.EOF {
				t.Fatalf("Next after EOF = %v, want io.EOF", err)
			}
		}
		if err := errors.Join(v.Close(), v.Close()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDrain(t *testing.T) {
	t.Run("callback error", func(t *testing.T) {
		mem, ctx := newAlloc(t)
		src, _ := sourceOf(t, mem, handRows, 2)
		stop := errors.New("stop")
		calls := 0
		err := executor.Drain(ctx, src, func(arrow.RecordBatch) error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 2 {
			t.Errorf("Drain = %v after %d calls, want stop after 2", err, calls)
		}
		if src.closes != 1 {
			t.Errorf("source closed %d times, want 1", src.closes)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		mem, ctx := newAlloc(t)
		src, _ := sourceOf(t, mem, handRows, 2)
		ctx, cancel := context.WithCancelCause(ctx)
		why := errors.New("client went away")
		calls := 0
		err := executor.Drain(ctx, src, func(arrow.RecordBatch) error {
			calls++
			cancel(why)
			return nil
		})
		if !errors.Is(err, why) || calls != 1 {
			t.Errorf("Drain = %v after %d batches, want the cancel cause after 1", err, calls)
		}
		if src.closes != 1 {
			t.Errorf("source closed %d times, want 1", src.closes)
		}
	})
	t.Run("open error", func(t *testing.T) {
		_, ctx := newAlloc(t)
		op := &failOpen{err: errors.New("no files")}
		err := executor.Drain(ctx, op, func(arrow.RecordBatch) error { return nil })
		if !errors.Is(err, op.err) || op.closes != 1 {
			t.Errorf("Drain = %v, closes %d; want the Open error and one Close", err, op.closes)
		}
	})
}

type failOpen struct {
	source
	err error
}

func (f *failOpen) Open(context.Context) error { return f.err }

func TestExplain(t *testing.T) {
	mem, _ := newAlloc(t)
	src, _ := sourceOf(t, mem, handRows, 4)
	defer src.Close()
	out := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "big", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	op := &executor.Limit{N: 10, Offset: 5, Input: &executor.Project{
		Exprs:  []expr.Expr{colA, cmpE(colA, expr.Gt, i64(2))},
		Output: out,
		Input:  &executor.Filter{Predicate: andE(colP, likeE(colS, "a%", true, false)), Input: src},
	}}
	want := "Limit 10 offset 5\n" +
		"  Project a, (a > 2) AS big\n" +
		"    Filter (p AND (s NOT LIKE 'a%'))\n" +
		"      Source 3 batches\n"
	if got := executor.Explain(op); got != want {
		t.Errorf("Explain:\n%s\nwant:\n%s", got, want)
	}
	if got := (&executor.Limit{N: 3, Input: src}).String(); got != "Limit 3" {
		t.Errorf("Limit without offset renders %q", got)
	}
}
