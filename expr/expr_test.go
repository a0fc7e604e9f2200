package expr_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/expr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	i64   = arrow.PrimitiveTypes.Int64
	str   = arrow.BinaryTypes.String
	boolT = arrow.FixedWidthTypes.Boolean
)

func col(name string, t arrow.DataType) *expr.Column { return &expr.Column{Name: name, Type: t} }
func intLit(v int64) *expr.Literal                   { return &expr.Literal{Value: scalar.NewInt64Scalar(v)} }
func strLit(v string) *expr.Literal                  { return &expr.Literal{Value: scalar.NewStringScalar(v)} }

func TestString(t *testing.T) {
	a := col("a", i64)
	s := col("s", str)
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	day := arrow.Date32FromTime(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		name string
		e    expr.Expr
		want string
	}{
		{"column", col("info.os.name", str), "info.os.name"},
		{"int", intLit(-5), "-5"},
		{"string quoted", strLit("it's"), "'it''s'"},
		{"null", &expr.Literal{Value: scalar.MakeNullScalar(i64)}, "NULL"},
		{"null string", &expr.Literal{Value: scalar.MakeNullScalar(str)}, "NULL"},
		{"bool", &expr.Literal{Value: scalar.NewBooleanScalar(true)}, "true"},
		{"date", &expr.Literal{Value: scalar.NewDate32Scalar(day)}, "'2026-11-02'"},
		{"timestamp", &expr.Literal{Value: scalar.NewTimestampScalar(arrow.Timestamp(time.Date(2026, 11, 2, 10, 30, 0, 0, time.UTC).UnixMicro()), ts)}, "'2026-11-02 10:30:00'"},
		{"param", &expr.Param{Index: 3, Type: i64}, "$3"},
		{"compare", &expr.Compare{Op: expr.LtEq, L: a, R: intLit(3)}, "(a <= 3)"},
		{"and", &expr.And{Args: []expr.Expr{&expr.Compare{Op: expr.Eq, L: a, R: intLit(1)}, &expr.Compare{Op: expr.NotEq, L: s, R: strLit("x")}}}, "((a = 1) AND (s <> 'x'))"},
		{"or", &expr.Or{Args: []expr.Expr{&expr.IsNull{X: a}, &expr.IsNull{X: s, Negate: true}}}, "((a IS NULL) OR (s IS NOT NULL))"},
		{"not", &expr.Not{X: &expr.IsNull{X: a}}, "(NOT (a IS NULL))"},
		{"in", &expr.In{X: a, List: []expr.Expr{intLit(1), &expr.Literal{Value: scalar.MakeNullScalar(i64)}}}, "(a IN (1, NULL))"},
		{"not in", &expr.In{X: s, List: []expr.Expr{strLit("x"), &expr.Param{Index: 1, Type: str}}, Negate: true}, "(s NOT IN ('x', $1))"},
		{"like", &expr.Like{X: s, Pattern: strLit("a%")}, "(s LIKE 'a%')"},
		{"not ilike", &expr.Like{X: s, Pattern: strLit("a_"), Negate: true, Fold: true}, "(s NOT ILIKE 'a_')"},
		{"cast", &expr.Cast{X: a, To: arrow.PrimitiveTypes.Float64}, "CAST(a AS float64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDataType(t *testing.T) {
	a := col("a", i64)
	f64 := arrow.PrimitiveTypes.Float64
	tests := []struct {
		e    expr.Expr
		want arrow.DataType
	}{
		{a, i64},
		{strLit("x"), str},
		{&expr.Param{Index: 1, Type: arrow.Null}, arrow.Null},
		{&expr.Compare{Op: expr.Eq, L: a, R: intLit(1)}, boolT},
		{&expr.And{Args: []expr.Expr{a}}, boolT},
		{&expr.Or{Args: []expr.Expr{a}}, boolT},
		{&expr.Not{X: a}, boolT},
		{&expr.IsNull{X: a}, boolT},
		{&expr.In{X: a, List: []expr.Expr{intLit(1)}}, boolT},
		{&expr.Like{X: col("s", str), Pattern: strLit("%")}, boolT},
		{&expr.Cast{X: a, To: f64}, f64},
	}
	for _, tt := range tests {
		if got := tt.e.DataType(); !arrow.TypeEqual(got, tt.want) {
			t.Errorf("%s: DataType() = %s, want %s", tt.e, got, tt.want)
		}
	}
}

func TestCmpOp(t *testing.T) {
	tests := []struct {
		op          expr.CmpOp
		str, kernel string
		flip, twice expr.CmpOp
	}{
		{expr.Eq, "=", "equal", expr.Eq, expr.Eq},
		{expr.NotEq, "<>", "not_equal", expr.NotEq, expr.NotEq},
		{expr.Lt, "<", "less", expr.Gt, expr.Lt},
		{expr.LtEq, "<=", "less_equal", expr.GtEq, expr.LtEq},
		{expr.Gt, ">", "greater", expr.Lt, expr.Gt},
		{expr.GtEq, ">=", "greater_equal", expr.LtEq, expr.GtEq},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.op.Kernel(); got != tt.kernel {
			t.Errorf("%s: Kernel() = %q, want %q", tt.str, got, tt.kernel)
		}
		if got := tt.op.Flip(); got != tt.flip {
			t.Errorf("%s: Flip() = %s, want %s", tt.str, got, tt.flip)
		}
		if got := tt.op.Flip().Flip(); got != tt.twice {
			t.Errorf("%s: Flip().Flip() = %s, want %s", tt.str, got, tt.twice)
		}
	}
}

func TestConjunctsAndOf(t *testing.T) {
	a, b, c, d := &expr.IsNull{X: col("a", i64)}, &expr.IsNull{X: col("b", i64)}, &expr.IsNull{X: col("c", i64)}, &expr.IsNull{X: col("d", i64)}
	or := &expr.Or{Args: []expr.Expr{c, d}}
	notAnd := &expr.Not{X: &expr.And{Args: []expr.Expr{a, b}}}
	tests := []struct {
		name string
		e    expr.Expr
		want []expr.Expr
	}{
		{"nil", nil, nil},
		{"single", a, []expr.Expr{a}},
		{"flat", &expr.And{Args: []expr.Expr{a, b}}, []expr.Expr{a, b}},
		{"nested", &expr.And{Args: []expr.Expr{&expr.And{Args: []expr.Expr{a, b}}, or}}, []expr.Expr{a, b, or}},
		{"or is one term", or, []expr.Expr{or}},
		{"and under not stays", notAnd, []expr.Expr{notAnd}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expr.Conjuncts(tt.e)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Conjuncts(%v) = %v, want %v", tt.e, got, tt.want)
			}
		})
	}

	if got := expr.AndOf(nil); got != nil {
		t.Errorf("AndOf(nil) = %v, want nil", got)
	}
	if got := expr.AndOf([]expr.Expr{a}); got != a {
		t.Errorf("AndOf([a]) = %v, want a itself", got)
	}
	got := expr.AndOf([]expr.Expr{a, b, c})
	if s := got.String(); s != "((a IS NULL) AND (b IS NULL) AND (c IS NULL))" {
		t.Errorf("AndOf([a b c]) = %s", s)
	}
	if rt := expr.Conjuncts(got); !reflect.DeepEqual(rt, []expr.Expr{a, b, c}) {
		t.Errorf("Conjuncts(AndOf(x)) = %v, want the same terms back", rt)
	}
}

func TestWalk(t *testing.T) {
	a, s := col("a", i64), col("s", str)
	p := &expr.Param{Index: 1, Type: str}
	e := &expr.And{Args: []expr.Expr{
		&expr.Compare{Op: expr.Lt, L: a, R: intLit(1)},
		&expr.Or{Args: []expr.Expr{
			&expr.Not{X: &expr.IsNull{X: &expr.Cast{X: a, To: str}}},
			&expr.In{X: s, List: []expr.Expr{strLit("x"), p}},
		}},
		&expr.Like{X: s, Pattern: strLit("y%")},
	}}
	var got []string
	expr.Walk(e, func(x expr.Expr) bool {
		got = append(got, x.String())
		return true
	})
	want := []string{
		e.String(),
		"(a < 1)", "a", "1",
		"((NOT (CAST(a AS utf8) IS NULL)) OR (s IN ('x', $1)))",
		"(NOT (CAST(a AS utf8) IS NULL))", "(CAST(a AS utf8) IS NULL)", "CAST(a AS utf8)", "a",
		"(s IN ('x', $1))", "s", "'x'", "$1",
		"(s LIKE 'y%')", "s", "'y%'",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk order:\n got  %q\n want %q", got, want)
	}

	// Returning false stops the descent below that node only.
	got = nil
	expr.Walk(e, func(x expr.Expr) bool {
		got = append(got, x.String())
		_, isOr := x.(*expr.Or)
		_, isCmp := x.(*expr.Compare)
		return !isOr && !isCmp
	})
	want = []string{e.String(), "(a < 1)", "((NOT (CAST(a AS utf8) IS NULL)) OR (s IN ('x', $1)))", "(s LIKE 'y%')", "s", "'y%'"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk with pruning:\n got  %q\n want %q", got, want)
	}

	calls := 0
	expr.Walk(nil, func(expr.Expr) bool { calls++; return true })
	if calls != 0 {
		t.Errorf("Walk(nil) called fn %d times", calls)
	}
}
