package pruning_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	i32   = arrow.PrimitiveTypes.Int32
	i64   = arrow.PrimitiveTypes.Int64
	f32   = arrow.PrimitiveTypes.Float32
	f64   = arrow.PrimitiveTypes.Float64
	str   = arrow.BinaryTypes.String
	boolT = arrow.FixedWidthTypes.Boolean
	date  = arrow.FixedWidthTypes.Date32
	tsUS  = &arrow.TimestampType{Unit: arrow.Microsecond}
	tsMS  = &arrow.TimestampType{Unit: arrow.Millisecond}
	tsTZ  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	dec   = &arrow.Decimal128Type{Precision: 10, Scale: 2}
)

// Columns of the table the predicates are over.
var (
	a      = &expr.Column{Index: 0, Name: "a", Type: i64}
	b      = &expr.Column{Index: 1, Name: "b", Type: i64}
	i      = &expr.Column{Index: 2, Name: "i", Type: i32}
	s      = &expr.Column{Index: 3, Name: "s", Type: str}
	f      = &expr.Column{Index: 4, Name: "f", Type: f64}
	g      = &expr.Column{Index: 5, Name: "g", Type: f32}
	d      = &expr.Column{Index: 6, Name: "d", Type: date}
	ts     = &expr.Column{Index: 7, Name: "ts", Type: tsUS}
	flag   = &expr.Column{Index: 8, Name: "flag", Type: boolT}
	amt    = &expr.Column{Index: 9, Name: "amt", Type: dec}
	vendor = &expr.Column{Index: 10, Path: []int{0}, Name: "info.vendor", Type: str}
	info   = &expr.Column{Index: 10, Name: "info", Type: arrow.StructOf(arrow.Field{Name: "vendor", Type: str, Nullable: true})}
	tsm    = &expr.Column{Index: 11, Name: "tsm", Type: tsMS}
	tstz   = &expr.Column{Index: 12, Name: "tstz", Type: tsTZ}
)

func lit(v any) *expr.Literal {
	switch x := v.(type) {
	case int:
		return &expr.Literal{Value: scalar.NewInt64Scalar(int64(x))}
	case int32:
		return &expr.Literal{Value: scalar.NewInt32Scalar(x)}
	case float64:
		return &expr.Literal{Value: scalar.NewFloat64Scalar(x)}
	case float32:
		return &expr.Literal{Value: scalar.NewFloat32Scalar(x)}
	case string:
		return &expr.Literal{Value: scalar.NewStringScalar(x)}
	case bool:
		return &expr.Literal{Value: scalar.NewBooleanScalar(x)}
	case scalar.Scalar:
		return &expr.Literal{Value: x}
	}
	panic("lit: unsupported type")
}

func null(t arrow.DataType) *expr.Literal { return &expr.Literal{Value: scalar.MakeNullScalar(t)} }

func cmp(l expr.Expr, op expr.CmpOp, r expr.Expr) *expr.Compare {
	return &expr.Compare{Op: op, L: l, R: r}
}
func and(args ...expr.Expr) *expr.And               { return &expr.And{Args: args} }
func or(args ...expr.Expr) *expr.Or                 { return &expr.Or{Args: args} }
func not(x expr.Expr) *expr.Not                     { return &expr.Not{X: x} }
func in(x expr.Expr, list ...expr.Expr) *expr.In    { return &expr.In{X: x, List: list} }
func notIn(x expr.Expr, list ...expr.Expr) *expr.In { return &expr.In{X: x, List: list, Negate: true} }
func like(x expr.Expr, p string) *expr.Like         { return &expr.Like{X: x, Pattern: lit(p)} }

// setMembers matches the member list of a rendered Iceberg set predicate,
// whose order iceberg-go does not define.
var setMembers = regexp.MustCompile(`\{\[([^\]]*)\]\}`)

// canonical sorts the members of every set predicate in a rendered Iceberg
// expression so that renderings can be compared as strings.
func canonical(s string) string {
	return setMembers.ReplaceAllStringFunc(s, func(m string) string {
		inner := setMembers.FindStringSubmatch(m)[1]
		parts := strings.Fields(inner)
		slices.Sort(parts)
		return "{[" + strings.Join(parts, " ") + "]}"
	})
}

func ref(name string) string { return "Reference(name='" + name + "')" }

// rangeOf renders the Iceberg form of LIKE 'lo%': lo <= col < hi.
func rangeOf(col, lo, hi string) string {
	return "And(left=GreaterThanEqual(term=" + ref(col) + ", literal=" + lo + "), right=LessThan(term=" + ref(col) + ", literal=" + hi + "))"
}

func TestTranslate(t *testing.T) {
	day := arrow.Date32FromTime(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	noon := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	tsLit := lit(scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMicro()), tsUS))
	tsmLit := lit(scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMilli()), tsMS))
	tstzLit := lit(scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMicro()), tsTZ))
	decLit := lit(scalar.NewDecimal128Scalar(decimal128.FromI64(12345), dec))
	param := &expr.Param{Index: 1, Type: i64}

	const always = "AlwaysTrue()"
	tests := []struct {
		name     string
		filter   expr.Expr
		want     string // rendered Iceberg filter
		residual string // rendered residual; "" for none
		handled  int
	}{
		{"no filter", nil, always, "", 0},

		// Comparisons, column on either side.
		{"eq", cmp(a, expr.Eq, lit(5)), "Equal(term=" + ref("a") + ", literal=5)", "", 1},
		{"eq flipped", cmp(lit(5), expr.Eq, a), "Equal(term=" + ref("a") + ", literal=5)", "", 1},
		{"lt", cmp(a, expr.Lt, lit(5)), "LessThan(term=" + ref("a") + ", literal=5)", "", 1},
		{"lt flipped", cmp(lit(5), expr.Lt, a), "GreaterThan(term=" + ref("a") + ", literal=5)", "", 1},
		{"lteq flipped", cmp(lit(5), expr.LtEq, a), "GreaterThanEqual(term=" + ref("a") + ", literal=5)", "", 1},
		{"gt flipped", cmp(lit(5), expr.Gt, a), "LessThan(term=" + ref("a") + ", literal=5)", "", 1},
		{"gteq flipped", cmp(lit(5), expr.GtEq, a), "LessThanEqual(term=" + ref("a") + ", literal=5)", "", 1},
		{"gteq", cmp(a, expr.GtEq, lit(-7)), "GreaterThanEqual(term=" + ref("a") + ", literal=-7)", "", 1},
		{"int32", cmp(i, expr.Gt, lit(int32(-60))), "GreaterThan(term=" + ref("i") + ", literal=-60)", "", 1},
		{"string", cmp(s, expr.Eq, lit("x y")), "Equal(term=" + ref("s") + ", literal=x y)", "", 1},
		{"bool", cmp(flag, expr.Eq, lit(true)), "Equal(term=" + ref("flag") + ", literal=true)", "", 1},
		// iceberg-go cannot order booleans, and its IN never matches them.
		{"bool lt", cmp(flag, expr.Lt, lit(true)), always, "(flag < true)", 0},
		{"not bool lt", not(cmp(flag, expr.Lt, lit(true))), always, "(NOT (flag < true))", 0},
		{"not bool eq", not(cmp(flag, expr.Eq, lit(true))), "NotEqual(term=" + ref("flag") + ", literal=true)", "(NOT (flag = true))", 0},
		{"bool in", in(flag, lit(true), lit(false)), always, "(flag IN (true, false))", 0},
		// iceberg-go's is_null panics on decimals.
		{"decimal is null", &expr.IsNull{X: amt}, always, "(amt IS NULL)", 0},
		{"decimal is not null", &expr.IsNull{X: amt, Negate: true}, always, "(amt IS NOT NULL)", 0},
		{"decimal in", in(amt, decLit), "Equal(term=" + ref("amt") + ", literal=123.45)", "", 1},
		{"date", cmp(d, expr.GtEq, lit(scalar.NewDate32Scalar(day))), "GreaterThanEqual(term=" + ref("d") + ", literal=2026-11-02)", "", 1},
		{"timestamp", cmp(ts, expr.Lt, tsLit), "LessThan(term=" + ref("ts") + ", literal=2026-11-02 12:00:00.000000)", "", 1},
		{"timestamptz", cmp(tstz, expr.GtEq, tstzLit), "GreaterThanEqual(term=" + ref("tstz") + ", literal=2026-11-02 12:00:00.000000)", "", 1},
		{"decimal", cmp(amt, expr.Eq, decLit), "Equal(term=" + ref("amt") + ", literal=123.45)", "", 1},
		// Predicates on nested fields or struct columns stay with the
		// executor: iceberg-go's row filter panics (in a goroutine) on two
		// predicates over one nested field.
		{"nested field", cmp(vendor, expr.Eq, lit("Apple")), always, "(info.vendor = 'Apple')", 0},
		{"nested field in and", and(cmp(vendor, expr.GtEq, lit("A")), cmp(vendor, expr.Lt, lit("B")), cmp(a, expr.Eq, lit(1))),
			"Equal(term=" + ref("a") + ", literal=1)", "((info.vendor >= 'A') AND (info.vendor < 'B'))", 1},
		{"nested field in or", or(cmp(vendor, expr.Eq, lit("Apple")), cmp(a, expr.Eq, lit(1))), always, "((info.vendor = 'Apple') OR (a = 1))", 0},
		{"struct column", &expr.IsNull{X: info}, always, "(info IS NULL)", 0},

		// <> prunes but stays in the residual: Iceberg keeps NULLs for it.
		{"neq", cmp(a, expr.NotEq, lit(5)), "NotEqual(term=" + ref("a") + ", literal=5)", "(a <> 5)", 0},
		{"neq flipped", cmp(lit(5), expr.NotEq, a), "NotEqual(term=" + ref("a") + ", literal=5)", "(5 <> a)", 0},

		// Not translated: the whole conjunct goes to the residual.
		{"float", cmp(f, expr.Gt, lit(1.5)), always, "(f > 1.5)", 0},
		{"float32", cmp(g, expr.Eq, lit(float32(1))), always, "(g = 1)", 0},
		{"float flipped", cmp(lit(1.5), expr.Lt, f), always, "(1.5 < f)", 0},
		{"type mismatch int32 vs int64", cmp(i, expr.Eq, lit(5)), always, "(i = 5)", 0},
		{"type mismatch string vs int", cmp(s, expr.Eq, lit(5)), always, "(s = 5)", 0},
		{"null literal", cmp(a, expr.Eq, null(i64)), always, "(a = NULL)", 0},
		{"column vs column", cmp(a, expr.Lt, b), always, "(a < b)", 0},
		{"literal vs literal", cmp(lit(1), expr.Lt, lit(2)), always, "(1 < 2)", 0},
		{"cast column", cmp(&expr.Cast{X: i, To: i64}, expr.Eq, lit(5)), always, "(CAST(i AS int64) = 5)", 0},
		{"param", cmp(a, expr.Eq, param), always, "(a = $1)", 0},
		{"timestamp ms", cmp(tsm, expr.Eq, tsmLit), always, "(tsm = '2026-11-02 12:00:00')", 0},

		// Negation.
		{"not lt", not(cmp(a, expr.Lt, lit(5))), "GreaterThanEqual(term=" + ref("a") + ", literal=5)", "(NOT (a < 5))", 0},
		{"not lteq", not(cmp(a, expr.LtEq, lit(5))), "GreaterThan(term=" + ref("a") + ", literal=5)", "(NOT (a <= 5))", 0},
		{"not gt", not(cmp(a, expr.Gt, lit(5))), "LessThanEqual(term=" + ref("a") + ", literal=5)", "(NOT (a > 5))", 0},
		{"not gteq", not(cmp(a, expr.GtEq, lit(5))), "LessThan(term=" + ref("a") + ", literal=5)", "(NOT (a >= 5))", 0},
		{"not eq", not(cmp(a, expr.Eq, lit(5))), "NotEqual(term=" + ref("a") + ", literal=5)", "(NOT (a = 5))", 0},
		{"not neq", not(cmp(a, expr.NotEq, lit(5))), "Equal(term=" + ref("a") + ", literal=5)", "(NOT (a <> 5))", 0},
		{"not flipped", not(cmp(lit(5), expr.Lt, a)), "LessThanEqual(term=" + ref("a") + ", literal=5)", "(NOT (5 < a))", 0},
		{"double not", not(not(cmp(a, expr.Eq, lit(5)))), "Equal(term=" + ref("a") + ", literal=5)", "(NOT (NOT (a = 5)))", 0},
		{"not of untranslatable", not(cmp(f, expr.Lt, lit(1.0))), always, "(NOT (f < 1))", 0},

		// De Morgan.
		{"not and", not(and(cmp(a, expr.Eq, lit(1)), cmp(s, expr.Eq, lit("x")))),
			"Or(left=NotEqual(term=" + ref("a") + ", literal=1), right=NotEqual(term=" + ref("s") + ", literal=x))",
			"(NOT ((a = 1) AND (s = 'x')))", 0},
		{"not or", not(or(cmp(a, expr.Lt, lit(1)), &expr.IsNull{X: s})),
			"And(left=GreaterThanEqual(term=" + ref("a") + ", literal=1), right=NotNull(term=" + ref("s") + "))",
			"(NOT ((a < 1) OR (s IS NULL)))", 0},
		{"not not and", not(not(and(cmp(a, expr.Eq, lit(1)), cmp(b, expr.Eq, lit(2))))),
			"And(left=Equal(term=" + ref("a") + ", literal=1), right=Equal(term=" + ref("b") + ", literal=2))",
			"(NOT (NOT ((a = 1) AND (b = 2))))", 0},
		{"not and with untranslatable arm", not(and(cmp(a, expr.Eq, lit(1)), cmp(f, expr.Eq, lit(2.0)))),
			always, "(NOT ((a = 1) AND (f = 2)))", 0},

		// OR.
		{"or", or(cmp(a, expr.Eq, lit(1)), cmp(s, expr.Eq, lit("x"))),
			"Or(left=Equal(term=" + ref("a") + ", literal=1), right=Equal(term=" + ref("s") + ", literal=x))", "", 1},
		{"or of three", or(cmp(a, expr.Eq, lit(1)), cmp(a, expr.Eq, lit(2)), &expr.IsNull{X: a}),
			"Or(left=Or(left=Equal(term=" + ref("a") + ", literal=1), right=Equal(term=" + ref("a") + ", literal=2)), right=IsNull(term=" + ref("a") + "))", "", 1},
		{"or with float arm", or(cmp(a, expr.Eq, lit(1)), cmp(f, expr.Gt, lit(2.0))), always, "((a = 1) OR (f > 2))", 0},
		{"or with neq arm", or(cmp(a, expr.Eq, lit(1)), cmp(b, expr.NotEq, lit(2))),
			"Or(left=Equal(term=" + ref("a") + ", literal=1), right=NotEqual(term=" + ref("b") + ", literal=2))",
			"((a = 1) OR (b <> 2))", 0},
		{"single-arg or", or(cmp(a, expr.Eq, lit(1))), "Equal(term=" + ref("a") + ", literal=1)", "", 1},

		// AND: conjuncts are handled one by one.
		{"and all handled", and(cmp(a, expr.Gt, lit(1)), cmp(s, expr.Eq, lit("x")), &expr.IsNull{X: b, Negate: true}),
			"And(left=And(left=GreaterThan(term=" + ref("a") + ", literal=1), right=Equal(term=" + ref("s") + ", literal=x)), right=NotNull(term=" + ref("b") + "))", "", 3},
		{"and mixed", and(cmp(a, expr.Gt, lit(1)), cmp(f, expr.Lt, lit(2.0)), cmp(s, expr.NotEq, lit("x"))),
			"And(left=GreaterThan(term=" + ref("a") + ", literal=1), right=NotEqual(term=" + ref("s") + ", literal=x))",
			"((f < 2) AND (s <> 'x'))", 1},
		{"nested and flattened", and(and(cmp(a, expr.Gt, lit(1)), cmp(f, expr.Lt, lit(2.0))), cmp(b, expr.Lt, lit(3))),
			"And(left=GreaterThan(term=" + ref("a") + ", literal=1), right=LessThan(term=" + ref("b") + ", literal=3))",
			"(f < 2)", 2},
		{"and nothing translatable", and(cmp(f, expr.Gt, lit(1.0)), cmp(a, expr.Lt, b)), always, "((f > 1) AND (a < b))", 0},

		// IS [NOT] NULL.
		{"is null", &expr.IsNull{X: a}, "IsNull(term=" + ref("a") + ")", "", 1},
		{"is not null", &expr.IsNull{X: s, Negate: true}, "NotNull(term=" + ref("s") + ")", "", 1},
		{"is null float", &expr.IsNull{X: f}, "IsNull(term=" + ref("f") + ")", "", 1},
		{"is null nested", &expr.IsNull{X: vendor}, always, "(info.vendor IS NULL)", 0},
		{"not is null", not(&expr.IsNull{X: a}), "NotNull(term=" + ref("a") + ")", "(NOT (a IS NULL))", 0},
		{"not is not null", not(&expr.IsNull{X: a, Negate: true}), "IsNull(term=" + ref("a") + ")", "(NOT (a IS NOT NULL))", 0},
		{"is null of expression", &expr.IsNull{X: &expr.Cast{X: i, To: i64}}, always, "(CAST(i AS int64) IS NULL)", 0},

		// IN / NOT IN.
		{"in", in(a, lit(3), lit(1), lit(2)), "In(term=" + ref("a") + ", {[1 2 3]})", "", 1},
		{"in strings", in(s, lit("x"), lit("y")), "In(term=" + ref("s") + ", {[x y]})", "", 1},
		{"in one", in(a, lit(1)), "Equal(term=" + ref("a") + ", literal=1)", "", 1},
		{"in duplicates", in(a, lit(1), lit(1)), "In(term=" + ref("a") + ", {[1]})", "", 1},
		{"in with null", in(a, lit(1), null(i64)), always, "(a IN (1, NULL))", 0},
		{"in with param", in(a, lit(1), param), always, "(a IN (1, $1))", 0},
		{"in float", in(f, lit(1.0), lit(2.0)), always, "(f IN (1, 2))", 0},
		{"in type mismatch", in(i, lit(1), lit(2)), always, "(i IN (1, 2))", 0},
		{"in of expression", in(&expr.Cast{X: i, To: i64}, lit(1), lit(2)), always, "(CAST(i AS int64) IN (1, 2))", 0},
		{"not in", notIn(a, lit(1), lit(2)), "NotIn(term=" + ref("a") + ", {[1 2]})", "(a NOT IN (1, 2))", 0},
		{"not in one", notIn(a, lit(1)), "NotEqual(term=" + ref("a") + ", literal=1)", "(a NOT IN (1))", 0},
		{"not in with null", notIn(a, lit(1), null(i64)), always, "(a NOT IN (1, NULL))", 0},
		{"not of in", not(in(a, lit(1), lit(2))), "NotIn(term=" + ref("a") + ", {[1 2]})", "(NOT (a IN (1, 2)))", 0},
		{"not of not in", not(notIn(a, lit(1), lit(2))), "In(term=" + ref("a") + ", {[1 2]})", "(NOT (a NOT IN (1, 2)))", 0},

		// LIKE: only 'prefix%' is translated, to the byte range
		// [prefix, next(prefix)) since iceberg-go cannot filter rows with
		// starts_with. NOT LIKE is left to the executor.
		{"like prefix", like(s, "ab%"), rangeOf("s", "ab", "ac"), "", 1},
		{"like prefix nested", like(vendor, "App%"), always, "(info.vendor LIKE 'App%')", 0},
		{"like prefix carry", like(s, "a\xff%"), rangeOf("s", "a\xff", "b"), "", 1},
		{"like prefix utf8", like(s, "é%"), rangeOf("s", "é", "\xc3\xaa"), "", 1},
		{"like prefix unbounded", like(s, "\xff\xff%"), "GreaterThanEqual(term=" + ref("s") + ", literal=\xff\xff)", "", 1},
		{"like prefix in and", and(like(s, "ab%"), cmp(a, expr.Eq, lit(1))),
			"And(left=" + rangeOf("s", "ab", "ac") + ", right=Equal(term=" + ref("a") + ", literal=1))", "", 2},
		{"like prefix in or", or(like(s, "ab%"), &expr.IsNull{X: s}),
			"Or(left=" + rangeOf("s", "ab", "ac") + ", right=IsNull(term=" + ref("s") + "))", "", 1},
		{"like exact", like(s, "ab"), always, "(s LIKE 'ab')", 0},
		{"like suffix", like(s, "%ab"), always, "(s LIKE '%ab')", 0},
		{"like contains", like(s, "%ab%"), always, "(s LIKE '%ab%')", 0},
		{"like underscore", like(s, "a_b%"), always, "(s LIKE 'a_b%')", 0},
		{"like inner percent", like(s, "a%b%"), always, "(s LIKE 'a%b%')", 0},
		{"like double percent", like(s, "ab%%"), always, "(s LIKE 'ab%%')", 0},
		{"like only percent", like(s, "%"), always, "(s LIKE '%')", 0},
		{"like escaped percent", like(s, `ab\%`), always, `(s LIKE 'ab\%')`, 0},
		{"like escape in body", like(s, `a\_b%`), always, `(s LIKE 'a\_b%')`, 0},
		{"like null pattern", &expr.Like{X: s, Pattern: null(str)}, always, "(s LIKE NULL)", 0},
		{"like param pattern", &expr.Like{X: s, Pattern: &expr.Param{Index: 1, Type: str}}, always, "(s LIKE $1)", 0},
		{"like on expression", &expr.Like{X: &expr.Cast{X: a, To: str}, Pattern: lit("1%")}, always, "(CAST(a AS utf8) LIKE '1%')", 0},
		{"ilike prefix", &expr.Like{X: s, Pattern: lit("ab%"), Fold: true}, always, "(s ILIKE 'ab%')", 0},
		{"not like prefix", &expr.Like{X: s, Pattern: lit("ab%"), Negate: true}, always, "(s NOT LIKE 'ab%')", 0},
		{"not of like", not(like(s, "ab%")), always, "(NOT (s LIKE 'ab%'))", 0},
		{"not of not like", not(&expr.Like{X: s, Pattern: lit("ab%"), Negate: true}), rangeOf("s", "ab", "ac"), "(NOT (s NOT LIKE 'ab%'))", 0},
		{"not or with like arm", not(or(cmp(a, expr.Eq, lit(1)), like(s, "ab%"))), always, "(NOT ((a = 1) OR (s LIKE 'ab%')))", 0},

		// Shapes that are not predicates over a column.
		{"bare boolean column", flag, always, "flag", 0},
		{"literal true", lit(true), always, "true", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pruning.Translate(tt.filter)
			if got.Filter == nil {
				t.Fatalf("Filter is nil, want %s", tt.want)
			}
			if g, w := canonical(got.Filter.String()), canonical(tt.want); g != w {
				t.Errorf("Filter:\n got  %s\n want %s", g, w)
			}
			res := ""
			if got.Residual != nil {
				res = got.Residual.String()
			}
			if res != tt.residual {
				t.Errorf("Residual = %q, want %q", res, tt.residual)
			}
			if got.Handled != tt.handled {
				t.Errorf("Handled = %d, want %d", got.Handled, tt.handled)
			}
			// Every conjunct is either handled or kept in the residual.
			if n, r := len(expr.Conjuncts(tt.filter)), len(expr.Conjuncts(got.Residual)); got.Handled+r != n {
				t.Errorf("Handled %d + residual conjuncts %d != conjuncts %d", got.Handled, r, n)
			}
		})
	}
}

// TestTranslateResidualIdentity checks that residual conjuncts are the
// caller's own expressions (the executor binds them by index), in order.
func TestTranslateResidualIdentity(t *testing.T) {
	c1 := cmp(f, expr.Gt, lit(1.0))
	c2 := cmp(a, expr.Eq, lit(1))
	c3 := like(s, "%x")
	c4 := cmp(b, expr.NotEq, lit(2))
	got := pruning.Translate(and(c1, c2, c3, c4))
	want := []expr.Expr{c1, c3, c4}
	res := expr.Conjuncts(got.Residual)
	if len(res) != len(want) {
		t.Fatalf("residual %v, want %v", got.Residual, want)
	}
	for k := range want {
		if res[k] != want[k] {
			t.Errorf("residual[%d] = %p (%s), want the input conjunct %p (%s)", k, res[k], res[k], want[k], want[k])
		}
	}
	single := pruning.Translate(c1)
	if single.Residual != c1 {
		t.Errorf("single untranslated conjunct: residual %v is not the input itself", single.Residual)
	}
}

func TestLikePrefix(t *testing.T) {
	tests := []struct {
		pattern string
		prefix  string
		ok      bool
	}{
		{"abc%", "abc", true},
		{"a%", "a", true},
		{"a b%", "a b", true},
		{"日本%", "日本", true},
		{"%", "", false},
		{"%%", "", false},
		{"", "", false},
		{"abc", "", false},
		{"%abc", "", false},
		{"abc%%", "", false},
		{"a%c%", "", false},
		{"a_c%", "", false},
		{`abc\%`, "", false},
		{`a\%c%`, "", false},
		{`a\\%`, "", false},
	}
	for _, tt := range tests {
		prefix, ok := pruning.LikePrefix(tt.pattern)
		if prefix != tt.prefix || ok != tt.ok {
			t.Errorf("LikePrefix(%q) = %q, %v; want %q, %v", tt.pattern, prefix, ok, tt.prefix, tt.ok)
		}
	}
}

func TestLiteral(t *testing.T) {
	noon := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	day := arrow.Date32FromTime(noon)
	buf := memory.NewBufferBytes([]byte{1, 2, 3})
	tests := []struct {
		name string
		in   scalar.Scalar
		want iceberg.Literal // nil when no literal is expected
	}{
		{"bool", scalar.NewBooleanScalar(true), iceberg.NewLiteral(true)},
		{"int32", scalar.NewInt32Scalar(-4), iceberg.NewLiteral(int32(-4))},
		{"int64", scalar.NewInt64Scalar(1 << 40), iceberg.NewLiteral(int64(1 << 40))},
		{"float32", scalar.NewFloat32Scalar(1.5), iceberg.NewLiteral(float32(1.5))},
		{"float64", scalar.NewFloat64Scalar(-2.25), iceberg.NewLiteral(-2.25)},
		{"string", scalar.NewStringScalar("héllo"), iceberg.NewLiteral("héllo")},
		{"binary", scalar.NewBinaryScalar(buf, arrow.BinaryTypes.Binary), iceberg.NewLiteral([]byte{1, 2, 3})},
		{"date", scalar.NewDate32Scalar(day), iceberg.NewLiteral(iceberg.Date(day))},
		{"time us", scalar.NewTime64Scalar(arrow.Time64(3_600_000_000), arrow.FixedWidthTypes.Time64us), iceberg.NewLiteral(iceberg.Time(3_600_000_000))},
		{"time ns", scalar.NewTime64Scalar(arrow.Time64(3_600_000_000_000), arrow.FixedWidthTypes.Time64ns), nil},
		{"timestamp us", scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMicro()), tsUS), iceberg.NewLiteral(iceberg.Timestamp(noon.UnixMicro()))},
		{"timestamptz us", scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMicro()), &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}), iceberg.NewLiteral(iceberg.Timestamp(noon.UnixMicro()))},
		{"timestamp ns", scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixNano()), &arrow.TimestampType{Unit: arrow.Nanosecond}), nil},
		{"decimal", scalar.NewDecimal128Scalar(decimal128.FromI64(-12345), dec), iceberg.NewLiteral(iceberg.Decimal{Val: decimal128.FromI64(-12345), Scale: 2})},
		{"int8", scalar.NewInt8Scalar(1), nil},
		{"uint32", scalar.NewUint32Scalar(1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pruning.Literal(tt.in)
			if tt.want == nil {
				if ok {
					t.Fatalf("Literal(%s) = %v, want no literal", tt.in, got)
				}
				return
			}
			if !ok {
				t.Fatalf("Literal(%s): no literal, want %v", tt.in, tt.want)
			}
			if !got.Equals(tt.want) || got.Type().String() != tt.want.Type().String() {
				t.Errorf("Literal(%s) = %v (%s), want %v (%s)", tt.in, got, got.Type(), tt.want, tt.want.Type())
			}
		})
	}
	// Binary literals own their bytes: changing the scalar's buffer later
	// must not change the literal.
	raw := []byte{9, 9}
	bin := scalar.NewBinaryScalar(memory.NewBufferBytes(raw), arrow.BinaryTypes.Binary)
	l, _ := pruning.Literal(bin)
	raw[0] = 0
	if !l.Equals(iceberg.NewLiteral([]byte{9, 9})) {
		t.Errorf("binary literal aliases the scalar's buffer: %v", l)
	}
}
