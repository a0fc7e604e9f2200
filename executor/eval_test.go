package executor_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// Expression builders.
func i64(v int64) *expr.Literal   { return &expr.Literal{Value: scalar.NewInt64Scalar(v)} }
func f64(v float64) *expr.Literal { return &expr.Literal{Value: scalar.NewFloat64Scalar(v)} }
func str(v string) *expr.Literal  { return &expr.Literal{Value: scalar.NewStringScalar(v)} }
func boolLit(v bool) *expr.Literal {
	return &expr.Literal{Value: scalar.NewBooleanScalar(v)}
}
func nullOf(t arrow.DataType) *expr.Literal { return &expr.Literal{Value: scalar.MakeNullScalar(t)} }
func cmpE(l expr.Expr, op expr.CmpOp, r expr.Expr) expr.Expr {
	return &expr.Compare{Op: op, L: l, R: r}
}
func andE(args ...expr.Expr) expr.Expr { return &expr.And{Args: args} }
func orE(args ...expr.Expr) expr.Expr  { return &expr.Or{Args: args} }
func notE(x expr.Expr) expr.Expr       { return &expr.Not{X: x} }
func isNull(x expr.Expr) expr.Expr     { return &expr.IsNull{X: x} }
func isNotNull(x expr.Expr) expr.Expr  { return &expr.IsNull{X: x, Negate: true} }
func inE(x expr.Expr, neg bool, list ...expr.Expr) expr.Expr {
	return &expr.In{X: x, List: list, Negate: neg}
}
func likeE(x expr.Expr, pattern string, neg, fold bool) expr.Expr {
	return &expr.Like{X: x, Pattern: str(pattern), Negate: neg, Fold: fold}
}

// Reference semantics, written independently of the executor: SQL's
// three-valued logic over *bool (nil is NULL).
var (
	tru = ptr(true)
	fls = ptr(false)
)

func b3(v *bool) any {
	if v == nil {
		return nil
	}
	return *v
}

func and3(x, y *bool) *bool {
	if (x != nil && !*x) || (y != nil && !*y) {
		return fls
	}
	if x == nil || y == nil {
		return nil
	}
	return tru
}

func or3(x, y *bool) *bool {
	if (x != nil && *x) || (y != nil && *y) {
		return tru
	}
	if x == nil || y == nil {
		return nil
	}
	return fls
}

func not3(x *bool) *bool {
	if x == nil {
		return nil
	}
	return ptr(!*x)
}

// cmp3 compares two nullable ordered values.
func cmp3[T int64 | float64 | string](x, y *T, op expr.CmpOp) *bool {
	if x == nil || y == nil {
		return nil
	}
	var r bool
	switch op {
	case expr.Eq:
		r = *x == *y
	case expr.NotEq:
		r = *x != *y
	case expr.Lt:
		r = *x < *y
	case expr.LtEq:
		r = *x <= *y
	case expr.Gt:
		r = *x > *y
	case expr.GtEq:
		r = *x >= *y
	}
	return &r
}

// in3 is SQL IN: TRUE on a match, else NULL when x or a list item is NULL.
func in3[T comparable](x *T, list ...*T) *bool {
	if x == nil {
		return nil
	}
	sawNull := false
	for _, v := range list {
		if v == nil {
			sawNull = true
		} else if *v == *x {
			return tru
		}
	}
	if sawNull {
		return nil
	}
	return fls
}

// Struct field access: NULL when any enclosing struct is NULL.
func (r row) stX() *int64 {
	if r.stNull {
		return nil
	}
	return r.x
}

func (r row) stY() *string {
	if r.stNull || r.innerNull {
		return nil
	}
	return r.y
}

// likeRef is a reference LIKE matcher: rune by rune with backtracking over
// the tokens of the pattern (% any run, _ one character, \ escapes the next
// character, a trailing \ is literal).
func likeRef(pattern, s string, fold bool) bool {
	type token struct {
		kind byte // 'l' literal, '_' one, '%' any run
		r    rune
	}
	var toks []token
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch c := pr[i]; {
		case c == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, token{'l', pr[i]})
		case c == '%' || c == '_':
			toks = append(toks, token{byte(c), 0})
		default:
			toks = append(toks, token{'l', c})
		}
	}
	sr := []rune(s)
	eq := func(a, b rune) bool {
		if fold {
			return unicode.ToLower(a) == unicode.ToLower(b)
		}
		return a == b
	}
	// m[i][j]: toks[i:] matches sr[j:].
	m := make([][]bool, len(toks)+1)
	for i := range m {
		m[i] = make([]bool, len(sr)+1)
	}
	m[len(toks)][len(sr)] = true
	for i := len(toks) - 1; i >= 0; i-- {
		for j := len(sr); j >= 0; j-- {
			switch toks[i].kind {
			case '%':
				m[i][j] = m[i+1][j] || (j < len(sr) && m[i][j+1])
			case '_':
				m[i][j] = j < len(sr) && m[i+1][j+1]
			default:
				m[i][j] = j < len(sr) && eq(toks[i].r, sr[j]) && m[i+1][j+1]
			}
		}
	}
	return m[0][0]
}

func like3(s *string, pattern string, neg, fold bool) *bool {
	if s == nil {
		return nil
	}
	return ptr(likeRef(pattern, *s, fold) != neg)
}

type evalCase struct {
	name string
	e    expr.Expr
	want func(r row) any
}

func int3(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

func str3(v *string) any {
	if v == nil {
		return nil
	}
	return *v
}

func evalCases() []evalCase {
	four, one, ten, fifteen := ptr[int64](4), ptr[int64](1), ptr[int64](10), ptr[int64](15)
	apple, b := ptr("apple"), ptr("b")
	var c []evalCase
	add := func(name string, e expr.Expr, want func(r row) any) {
		c = append(c, evalCase{name, e, want})
	}
	// Comparisons, column against literal in both orders.
	for _, op := range []expr.CmpOp{expr.Eq, expr.NotEq, expr.Lt, expr.LtEq, expr.Gt, expr.GtEq} {
		add("a "+op.String()+" 2", cmpE(colA, op, i64(2)), func(r row) any { return b3(cmp3(r.a, ptr[int64](2), op)) })
		add("2 "+op.String()+" a", cmpE(i64(2), op, colA), func(r row) any { return b3(cmp3(ptr[int64](2), r.a, op)) })
		add("s "+op.String()+" 'apple'", cmpE(colS, op, str("apple")), func(r row) any { return b3(cmp3(r.s, apple, op)) })
		add("f "+op.String()+" 0.5", cmpE(colF, op, f64(0.5)), func(r row) any { return b3(cmp3(r.f, ptr(0.5), op)) })
		add("a "+op.String()+" st.x", cmpE(colA, op, colX), func(r row) any { return b3(cmp3(r.a, r.stX(), op)) })
	}
	add("a = NULL", cmpE(colA, expr.Eq, nullOf(arrow.PrimitiveTypes.Int64)), func(row) any { return nil })
	add("1 < 2", cmpE(i64(1), expr.Lt, i64(2)), func(row) any { return true })
	add("p = q", cmpE(colP, expr.Eq, colQ), func(r row) any {
		if r.p == nil || r.q == nil {
			return nil
		}
		return *r.p == *r.q
	})

	// Three-valued logic.
	add("p AND q", andE(colP, colQ), func(r row) any { return b3(and3(r.p, r.q)) })
	add("p OR q", orE(colP, colQ), func(r row) any { return b3(or3(r.p, r.q)) })
	add("NOT p", notE(colP), func(r row) any { return b3(not3(r.p)) })
	add("NOT NOT q", notE(notE(colQ)), func(r row) any { return b3(r.q) })
	add("p AND q AND a > 0", andE(colP, colQ, cmpE(colA, expr.Gt, i64(0))), func(r row) any {
		return b3(and3(and3(r.p, r.q), cmp3(r.a, ptr[int64](0), expr.Gt)))
	})
	add("p OR q OR a IS NULL", orE(colP, colQ, isNull(colA)), func(r row) any {
		return b3(or3(or3(r.p, r.q), ptr(r.a == nil)))
	})
	add("p OR NOT q", orE(colP, notE(colQ)), func(r row) any { return b3(or3(r.p, not3(r.q))) })
	add("(p OR q) AND NOT (p AND q)", andE(orE(colP, colQ), notE(andE(colP, colQ))), func(r row) any {
		return b3(and3(or3(r.p, r.q), not3(and3(r.p, r.q))))
	})
	add("NOT (p OR q) = NOT p AND NOT q", notE(orE(colP, colQ)), func(r row) any { return b3(and3(not3(r.p), not3(r.q))) })
	add("p AND true", andE(colP, boolLit(true)), func(r row) any { return b3(r.p) })
	add("p AND false", andE(colP, boolLit(false)), func(row) any { return false })
	add("p OR true", orE(colP, boolLit(true)), func(row) any { return true })
	add("p OR false", orE(colP, boolLit(false)), func(r row) any { return b3(r.p) })
	add("p AND NULL", andE(colP, nullOf(arrow.FixedWidthTypes.Boolean)), func(r row) any { return b3(and3(r.p, nil)) })
	add("NULL OR p", orE(nullOf(arrow.FixedWidthTypes.Boolean), colP), func(r row) any { return b3(or3(nil, r.p)) })
	add("true AND false", andE(boolLit(true), boolLit(false)), func(row) any { return false })
	add("NOT true", notE(boolLit(true)), func(row) any { return false })

	// IS [NOT] NULL never yields NULL.
	add("a IS NULL", isNull(colA), func(r row) any { return r.a == nil })
	add("s IS NOT NULL", isNotNull(colS), func(r row) any { return r.s != nil })
	add("st IS NULL", isNull(colST), func(r row) any { return r.stNull })
	add("st.x IS NULL", isNull(colX), func(r row) any { return r.stX() == nil })
	add("st.inner IS NULL", isNull(colIn), func(r row) any { return r.stNull || r.innerNull })
	add("st.inner.y IS NULL", isNull(colY), func(r row) any { return r.stY() == nil })
	add("st.inner.y IS NOT NULL", isNotNull(colY), func(r row) any { return r.stY() != nil })
	add("(p AND q) IS NULL", isNull(andE(colP, colQ)), func(r row) any { return and3(r.p, r.q) == nil })
	add("NULL IS NULL", isNull(nullOf(arrow.PrimitiveTypes.Int64)), func(row) any { return true })
	add("untyped NULL IS NULL", isNull(nullOf(arrow.Null)), func(row) any { return true })
	add("untyped NULL IS NOT NULL", isNotNull(nullOf(arrow.Null)), func(row) any { return false })
	add("1 IS NOT NULL", isNotNull(i64(1)), func(row) any { return true })

	// IN with SQL semantics for NULL.
	add("a IN (1, 4)", inE(colA, false, i64(1), i64(4)), func(r row) any { return b3(in3(r.a, one, four)) })
	add("a IN (1, NULL)", inE(colA, false, i64(1), nullOf(arrow.PrimitiveTypes.Int64)), func(r row) any { return b3(in3(r.a, one, nil)) })
	add("a IN (NULL)", inE(colA, false, nullOf(arrow.PrimitiveTypes.Int64)), func(r row) any { return b3(in3(r.a, nil)) })
	add("a NOT IN (1, 4)", inE(colA, true, i64(1), i64(4)), func(r row) any { return b3(not3(in3(r.a, one, four))) })
	add("a NOT IN (1, NULL)", inE(colA, true, i64(1), nullOf(arrow.PrimitiveTypes.Int64)), func(r row) any { return b3(not3(in3(r.a, one, nil))) })
	add("s IN ('apple', 'b')", inE(colS, false, str("apple"), str("b")), func(r row) any { return b3(in3(r.s, apple, b)) })
	add("s NOT IN ('apple', NULL)", inE(colS, true, str("apple"), nullOf(arrow.BinaryTypes.String)), func(r row) any { return b3(not3(in3(r.s, apple, nil))) })
	add("st.x IN (10, 15)", inE(colX, false, i64(10), i64(15)), func(r row) any { return b3(in3(r.stX(), ten, fifteen)) })
	add("p IN (false)", inE(colP, false, boolLit(false)), func(r row) any { return b3(in3(r.p, fls)) })
	add("p IN (true, false)", inE(colP, false, boolLit(true), boolLit(false)), func(r row) any { return b3(in3(r.p, tru, fls)) })
	add("p IN (false, false)", inE(colP, false, boolLit(false), boolLit(false)), func(r row) any { return b3(in3(r.p, fls, fls)) })
	add("p NOT IN (true)", inE(colP, true, boolLit(true)), func(r row) any { return b3(not3(in3(r.p, tru))) })
	add("f IN (0.5, -2)", inE(colF, false, f64(0.5), f64(-2)), func(r row) any { return b3(in3(r.f, ptr(0.5), ptr(-2.0))) })

	// LIKE, NOT LIKE, ILIKE.
	for _, p := range []struct {
		pat       string
		neg, fold bool
	}{
		{"a%", false, false}, {"%e", false, false}, {"%pp%", false, false}, {"apple", false, false},
		{"a_b", false, false}, {`a\_b`, false, false}, {`a\%b`, false, false}, {"___", false, false},
		{"%", false, false}, {"", false, false}, {`ab\\c`, false, false}, {"_%", false, false},
		{"%a%e", false, false}, {"日%", false, false}, {"__語", false, false},
		{"a%", true, false}, {"%_%", true, false},
		{"APPLE%", false, true}, {"%apple%", true, true}, {"a_B", false, true}, {"BANANA", false, true},
	} {
		op := "LIKE"
		if p.fold {
			op = "ILIKE"
		}
		if p.neg {
			op = "NOT " + op
		}
		add(fmt.Sprintf("s %s '%s'", op, p.pat), likeE(colS, p.pat, p.neg, p.fold), func(r row) any { return b3(like3(r.s, p.pat, p.neg, p.fold)) })
	}
	add("st.inner.y LIKE '%'", likeE(colY, "%", false, false), func(r row) any { return b3(like3(r.stY(), "%", false, false)) })
	add("s LIKE NULL", &expr.Like{X: colS, Pattern: nullOf(arrow.BinaryTypes.String)}, func(row) any { return nil })
	add("'apple' LIKE 'a%'", likeE(str("apple"), "a%", false, false), func(row) any { return true })

	// Values.
	add("a", colA, func(r row) any { return int3(r.a) })
	add("st.x", colX, func(r row) any { return int3(r.stX()) })
	add("st.inner.y", colY, func(r row) any { return str3(r.stY()) })
	add("7", i64(7), func(row) any { return int64(7) })
	add("'k'", str("k"), func(row) any { return "k" })
	add("NULL", nullOf(arrow.Null), func(row) any { return nil })
	add("CAST(a AS float64)", &expr.Cast{X: colA, To: arrow.PrimitiveTypes.Float64}, func(r row) any {
		if r.a == nil {
			return nil
		}
		return float64(*r.a)
	})
	add("CAST(st.x AS float64) > 1.5", cmpE(&expr.Cast{X: colX, To: arrow.PrimitiveTypes.Float64}, expr.Gt, f64(1.5)), func(r row) any {
		x := r.stX()
		if x == nil {
			return nil
		}
		return float64(*x) > 1.5
	})
	add("CAST('12' AS int64) = 12", cmpE(&expr.Cast{X: str("12"), To: arrow.PrimitiveTypes.Int64}, expr.Eq, i64(12)), func(row) any { return true })
	return c
}

func TestEval(t *testing.T) {
	datasets := []struct {
		name string
		rows []row
	}{
		{"nulls", append(append([]row{}, handRows...), genRows(40, 1, true)...)},
		{"no nulls", genRows(40, 2, false)},
	}
	for _, ds := range datasets {
		for _, tc := range evalCases() {
			want := make([]any, len(ds.rows))
			for i, r := range ds.rows {
				want[i] = tc.want(r)
			}
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/%s/batch=%d", ds.name, tc.name, size), func(t *testing.T) {
					mem, ctx := newAlloc(t)
					rec := buildRecord(mem, ds.rows)
					defer rec.Release()
					batches := cut(rec, size)
					defer releaseAll(batches)
					var got []any
					for _, batch := range batches {
						arr, err := executor.Eval(ctx, tc.e, batch)
						if err != nil {
							t.Fatalf("Eval(%s): %v", tc.e, err)
						}
						if arr.Len() != int(batch.NumRows()) {
							t.Errorf("Eval(%s) returned %d values for %d rows", tc.e, arr.Len(), batch.NumRows())
						}
						if !arrow.TypeEqual(arr.DataType(), tc.e.DataType()) {
							t.Errorf("Eval(%s) type %s, expression type %s", tc.e, arr.DataType(), tc.e.DataType())
						}
						got = append(got, values(t, arr)...)
						arr.Release()
					}
					if !reflect.DeepEqual(got, want) {
						for i := range want {
							if i < len(got) && !reflect.DeepEqual(got[i], want[i]) {
								t.Errorf("row %d (%+v): got %v, want %v", i, describe(ds.rows[i]), got[i], want[i])
							}
						}
						if len(got) != len(want) {
							t.Errorf("got %d values, want %d", len(got), len(want))
						}
					}
				})
			}
		}
	}
}

func describe(r row) string {
	f := func(v any) string {
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			return "NULL"
		}
		return fmt.Sprint(rv.Elem().Interface())
	}
	return fmt.Sprintf("a=%s s=%s p=%s q=%s f=%s st.null=%v inner.null=%v x=%s y=%s",
		f(r.a), f(r.s), f(r.p), f(r.q), f(r.f), r.stNull, r.innerNull, f(r.x), f(r.y))
}

// TestEvalReuse evaluates one expression twice over the same batch: Eval
// must not change its input or keep state between calls.
// TestEvalCastToString is kept apart: arrow-go v18.8.0's numeric to string
// cast kernel leaks a buffer it allocates (KernelCtx.Allocate), so the
// checked allocator cannot end empty.
func TestEvalCastToString(t *testing.T) {
	t.Skip("arrow-go v18.8.0 leaks a kernel buffer when casting int64 to utf8; enable once fixed upstream")
	mem, ctx := newAlloc(t)
	rec := buildRecord(mem, handRows)
	defer rec.Release()
	arr, err := executor.Eval(ctx, &expr.Cast{X: colA, To: arrow.BinaryTypes.String}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	for i, r := range handRows {
		var want any
		if r.a != nil {
			want = fmt.Sprint(*r.a)
		}
		if got := values(t, arr)[i]; got != want {
			t.Errorf("row %d: got %v, want %v", i, got, want)
		}
	}
}

func TestEvalReuse(t *testing.T) {
	mem, ctx := newAlloc(t)
	rec := buildRecord(mem, handRows)
	defer rec.Release()
	e := andE(orE(colP, isNull(colY)), notE(likeE(colS, "a%", false, true)), inE(colA, true, i64(3), nullOf(arrow.PrimitiveTypes.Int64)))
	before := recordRows(t, rec)
	var first []any
	for k := 0; k < 2; k++ {
		arr, err := executor.Eval(ctx, e, rec)
		if err != nil {
			t.Fatal(err)
		}
		got := values(t, arr)
		arr.Release()
		if k == 0 {
			first = got
		} else if !reflect.DeepEqual(first, got) {
			t.Errorf("second evaluation %v differs from first %v", got, first)
		}
	}
	if after := recordRows(t, rec); !reflect.DeepEqual(before, after) {
		t.Errorf("Eval changed its input:\n before %v\n after  %v", before, after)
	}
}

func TestEvalErrors(t *testing.T) {
	notStruct := &expr.Column{Index: 0, Path: []int{0}, Name: "a.x", Type: arrow.PrimitiveTypes.Int64}
	tests := []struct {
		name    string
		e       expr.Expr
		is      error  // sentinel the error must wrap, if any
		contain string // text the message must hold
	}{
		{"param", &expr.Param{Index: 2, Type: arrow.PrimitiveTypes.Int64}, executor.ErrUnboundParam, "$2"},
		{"param in comparison", cmpE(colA, expr.Eq, &expr.Param{Index: 1, Type: arrow.PrimitiveTypes.Int64}), executor.ErrUnboundParam, "$1"},
		{"param right of AND", andE(colP, cmpE(colA, expr.Eq, &expr.Param{Index: 3, Type: arrow.PrimitiveTypes.Int64})), executor.ErrUnboundParam, "$3"},
		{"param in IN list", inE(colA, false, i64(1), &expr.Param{Index: 1, Type: arrow.PrimitiveTypes.Int64}), executor.ErrUnboundParam, "$1"},
		{"param LIKE pattern", &expr.Like{X: colS, Pattern: &expr.Param{Index: 4, Type: arrow.BinaryTypes.String}}, executor.ErrUnboundParam, "$4"},
		{"param under NOT", notE(&expr.Param{Index: 5, Type: arrow.FixedWidthTypes.Boolean}), executor.ErrUnboundParam, "$5"},
		{"param under IS NULL", isNull(&expr.Param{Index: 6, Type: arrow.FixedWidthTypes.Boolean}), executor.ErrUnboundParam, "$6"},
		{"param under cast", &expr.Cast{X: &expr.Param{Index: 7, Type: arrow.BinaryTypes.String}, To: arrow.PrimitiveTypes.Int64}, executor.ErrUnboundParam, "$7"},
		{"LIKE on integers", &expr.Like{X: colA, Pattern: str("1%")}, nil, "string"},
		{"field of non-struct", notStruct, nil, "non-struct"},
		{"unsafe cast", &expr.Cast{X: colF, To: arrow.PrimitiveTypes.Int64}, nil, ""},
		{"bad literal cast", &expr.Cast{X: str("x1"), To: arrow.PrimitiveTypes.Int64}, nil, "cast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, ctx := newAlloc(t)
			rec := buildRecord(mem, handRows)
			defer rec.Release()
			arr, err := executor.Eval(ctx, tt.e, rec)
			if err == nil {
				arr.Release()
				t.Fatalf("Eval(%s) succeeded, want an error", tt.e)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %q", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contain) {
				t.Errorf("error %q does not mention %q", err, tt.contain)
			}
		})
	}
}

func TestLikeMatcher(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		match   []string
		noMatch []string
	}{
		{"abc", false, []string{"abc"}, []string{"abcd", "ab", "ABC", "", "xabc"}},
		{"", false, []string{""}, []string{"a", " "}},
		{"a%", false, []string{"a", "abc", "a\nb"}, []string{"ba", "", "A"}},
		{"%c", false, []string{"c", "abc", "a\nc"}, []string{"ca", ""}},
		{"%b%", false, []string{"b", "abc", "bbb"}, []string{"ac", ""}},
		{"%", false, []string{"", "x", "%", "\n"}, nil},
		{"%%", false, []string{"", "xyz"}, nil},
		{"%%%", false, []string{"", "xyz"}, nil},
		{"a%%", false, []string{"a", "ab"}, []string{"ba"}},
		{"%%a", false, []string{"a", "ba"}, []string{"ab"}},
		{"a_c", false, []string{"abc", "a日c", "a_c", "a\nc"}, []string{"ac", "abbc", "abcd"}},
		{"_", false, []string{"日", "a", "_"}, []string{"", "ab"}},
		{"__", false, []string{"日本", "ab"}, []string{"日", "abc"}},
		{"_%", false, []string{"a", "ab"}, []string{""}},
		{"%_", false, []string{"a", "ab"}, []string{""}},
		{"a%b%c", false, []string{"abc", "aXbYc", "abbc"}, []string{"acb", "ab"}},
		{`a\%`, false, []string{"a%"}, []string{"a", "ab", `a\%`}},
		{`a\_`, false, []string{"a_"}, []string{"ab", "a"}},
		{`%\%%`, false, []string{"50%", "%"}, []string{"50"}},
		{`a\\b`, false, []string{`a\b`}, []string{"ab", `a\\b`}},
		{`a\b`, false, []string{"ab"}, []string{`a\b`}},
		{`ab\`, false, []string{`ab\`}, []string{"ab"}},
		{"a.c_", false, []string{"a.cd"}, []string{"abcd"}},
		{"a.c%", false, []string{"a.c", "a.cx"}, []string{"abcx"}},
		{"[a]%", false, []string{"[a]", "[a]b"}, []string{"a", "ab"}},
		{"(x)+_", false, []string{"(x)+y"}, []string{"xxy"}},
		{"^a$_", false, []string{"^a$b"}, []string{"ab"}},
		{"ABC%", true, []string{"abcdef", "ABC", "aBc"}, []string{"xabc", "ab"}},
		{"abc", true, []string{"ABC", "abc", "AbC"}, []string{"abcd"}},
		{"a_C", true, []string{"AbC", "abc"}, []string{"ac"}},
		{"%É%", true, []string{"café", "CAFÉ"}, []string{"cafe"}},
		{"%", true, []string{"", "X"}, nil},
		{"%b", true, []string{"AB", "ab"}, []string{"ba"}},
		{"%B%", true, []string{"abc"}, []string{"ac"}},
	}
	for _, tt := range tests {
		m, err := executor.NewLikeMatcher(tt.pattern, tt.fold)
		if err != nil {
			t.Errorf("NewLikeMatcher(%q): %v", tt.pattern, err)
			continue
		}
		for _, s := range tt.match {
			if !m.Match(s) {
				t.Errorf("%q LIKE %q (fold=%v) = false, want true", s, tt.pattern, tt.fold)
			}
			if !likeRef(tt.pattern, s, tt.fold) {
				t.Errorf("reference: %q LIKE %q (fold=%v) = false; test table is wrong", s, tt.pattern, tt.fold)
			}
		}
		for _, s := range tt.noMatch {
			if m.Match(s) {
				t.Errorf("%q LIKE %q (fold=%v) = true, want false", s, tt.pattern, tt.fold)
			}
			if likeRef(tt.pattern, s, tt.fold) {
				t.Errorf("reference: %q LIKE %q (fold=%v) = true; test table is wrong", s, tt.pattern, tt.fold)
			}
		}
	}
}

// FuzzLikeMatcher compares the LIKE matcher with the reference matcher on
// arbitrary patterns and strings (valid UTF-8).
func FuzzLikeMatcher(f *testing.F) {
	for _, s := range [][2]string{
		{"a%", "abc"}, {"%b%", "abc"}, {"a_c", "a日c"}, {`a\%`, "a%"}, {`%\_%`, "x_y"},
		{"", ""}, {"%%", ""}, {"_%_", "ab"}, {`\`, `\`}, {"ABC%", "abcd"}, {"%É", "é"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if !utf8Valid(pattern) || !utf8Valid(s) || len(pattern) > 64 || len(s) > 64 {
			t.Skip()
		}
		m, err := executor.NewLikeMatcher(pattern, fold)
		if err != nil {
			t.Fatalf("NewLikeMatcher(%q): %v", pattern, err)
		}
		if got, want := m.Match(s), likeRef(pattern, s, fold); got != want {
			t.Fatalf("%q LIKE %q (fold=%v) = %v, reference says %v", s, pattern, fold, got, want)
		}
	})
}

func utf8Valid(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, '\uFFFD')
}

// TestEvalNullTestOtherTypes checks IS [NOT] NULL on types outside the
// test table (decimal: arrow-go's is_null kernel dispatch panics on it) at
// every batch size.
func TestEvalNullTestOtherTypes(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	types := []arrow.DataType{dec, arrow.BinaryTypes.Binary, &arrow.FixedSizeBinaryType{ByteWidth: 3}, arrow.FixedWidthTypes.Date32, arrow.ListOf(arrow.PrimitiveTypes.Int64)}
	for _, typ := range types {
		for _, size := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch=%d", typ, size), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				b := array.NewBuilder(mem, typ)
				const n = 10
				var want []any
				for k := 0; k < n; k++ {
					if k%3 == 1 {
						b.AppendNull()
						want = append(want, true)
						continue
					}
					b.AppendEmptyValue()
					want = append(want, false)
				}
				col := b.NewArray()
				b.Release()
				schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: typ, Nullable: true}}, nil)
				rec := array.NewRecordBatch(schema, []arrow.Array{col}, n)
				col.Release()
				defer rec.Release()
				c := &expr.Column{Index: 0, Name: "c", Type: typ}
				for _, negate := range []bool{false, true} {
					var got []any
					for _, batch := range cut(rec, size) {
						arr, err := executor.Eval(ctx, &expr.IsNull{X: c, Negate: negate}, batch)
						batch.Release()
						if err != nil {
							t.Fatal(err)
						}
						if arr.NullN() != 0 {
							t.Errorf("IS NULL yielded %d NULLs", arr.NullN())
						}
						got = append(got, values(t, arr)...)
						arr.Release()
					}
					exp := want
					if negate {
						exp = make([]any, n)
						for i, w := range want {
							exp[i] = !w.(bool)
						}
					}
					if !reflect.DeepEqual(got, exp) {
						t.Errorf("negate=%v: got %v, want %v", negate, got, exp)
					}
				}
			})
		}
	}
}
