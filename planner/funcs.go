package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// aggCall is an aggregate call found while binding a select list, HAVING or
// ORDER BY. The planner replaces each by a column of the aggregate's output
// before anything is executed.
type aggCall struct {
	fn       executor.AggFunc
	arg      expr.Expr // nil for count(*)
	distinct bool
	filter   expr.Expr // FILTER (WHERE ...), or nil
	sep      string    // string_agg
	order    []executor.SortKey
	typ      arrow.DataType
}

func (a *aggCall) DataType() arrow.DataType { return a.typ }
func (a *aggCall) String() string {
	arg := "*"
	if a.arg != nil {
		arg = a.arg.String()
	}
	if a.distinct {
		arg = "DISTINCT " + arg
	}
	if a.fn == executor.AggStringAgg {
		arg += fmt.Sprintf(", %q", a.sep)
	}
	for i, k := range a.order {
		if i == 0 {
			arg += " ORDER BY "
		} else {
			arg += ", "
		}
		arg += k.String()
	}
	if a.filter != nil {
		return fmt.Sprintf("%s(%s) FILTER (WHERE %s)", a.fn, arg, a.filter)
	}
	return fmt.Sprintf("%s(%s)", a.fn, arg)
}

var aggFuncs = map[string]executor.AggFunc{
	"count": executor.AggCount, "sum": executor.AggSum, "avg": executor.AggAvg,
	"min": executor.AggMin, "max": executor.AggMax,
	"bool_and": executor.AggBoolAnd, "every": executor.AggBoolAnd, "bool_or": executor.AggBoolOr,
	"variance": executor.AggVarSamp, "var_samp": executor.AggVarSamp, "var_pop": executor.AggVarPop,
	"stddev": executor.AggStddevSamp, "stddev_samp": executor.AggStddevSamp, "stddev_pop": executor.AggStddevPop,
	"string_agg": executor.AggStringAgg,
}

func funcName(fc *pg.FuncCall) string {
	fn := fc.GetFuncname()
	name := strings.ToLower(fn[len(fn)-1].GetString_().GetSval())
	if len(fn) == 2 && fn[0].GetString_().GetSval() != "pg_catalog" {
		return strings.ToLower(fn[0].GetString_().GetSval()) + "." + name
	}
	return name
}

func (b *binder) funcCall(fc *pg.FuncCall) (expr.Expr, error) {
	name := funcName(fc)
	if fc.GetOver() != nil {
		return b.windowCall(name, fc)
	}
	if fc.GetAggFilter() != nil && aggFuncs[name] == 0 && name != "count" {
		return nil, invalid("FILTER applies only to aggregate functions, not %s()", name)
	}
	if len(fc.GetAggOrder()) > 0 && name != "string_agg" {
		return nil, unsupported("ORDER BY inside aggregate %s()", name)
	}
	if fn, ok := aggFuncs[name]; ok {
		return b.aggregate(name, fn, fc)
	}
	if fc.GetAggDistinct() || fc.GetAggStar() {
		return nil, invalid("%s() is not an aggregate function", name)
	}
	args := fc.GetArgs()
	switch name {
	case "mod":
		if len(args) != 2 {
			return nil, invalid("mod() takes 2 arguments")
		}
		return b.arith("%", args[0], args[1])
	case "now", "current_timestamp", "localtimestamp":
		return &expr.Literal{Value: nowScalar(b.st.now, true)}, nil
	case "current_date":
		return &expr.Literal{Value: scalar.NewDate32Scalar(arrow.Date32FromTime(b.st.now))}, nil
	case "coalesce", "greatest", "least":
		return b.variadic(name, args)
	case "extract":
		name = "date_part"
	case "substr":
		name = "substring"
	case "char_length", "character_length":
		name = "length"
	case "ceiling":
		name = "ceil"
	case "pow":
		name = "power"
	case "btrim":
		name = "trim"
	case "position":
		name = "strpos"
	}
	if name == "cardinality" || name == "array_length" {
		if len(args) < 1 {
			return nil, invalid("%s() takes a list or map", name)
		}
		x, err := b.valueExpr(args[0])
		if err != nil {
			return nil, err
		}
		switch x.DataType().ID() {
		case arrow.LIST, arrow.MAP:
		default:
			return nil, invalid("%s() takes a list or map, not %s", name, x.DataType())
		}
		return &expr.Func{Name: "cardinality", Args: []expr.Expr{x}, Type: i32}, nil
	}
	sig, ok := scalarSigs[name]
	if !ok {
		return nil, unsupported("function %s()", name)
	}
	if len(args) < sig.min || len(args) > sig.max {
		return nil, invalid("%s() takes %s arguments, got %d", name, sig.arity(), len(args))
	}
	bound := make([]expr.Expr, len(args))
	for i, a := range args {
		var want arrow.DataType
		if i < len(sig.args) {
			want = sig.args[i]
		}
		e, err := b.operand(a, want)
		if err != nil {
			return nil, err
		}
		if want != nil {
			if e, err = b.convertArg(name, i, e, want); err != nil {
				return nil, err
			}
		}
		bound[i] = e
	}
	t, err := sig.result(bound)
	if err != nil {
		return nil, fmt.Errorf("%w: %s(): %v", ErrInvalid, name, err)
	}
	return &expr.Func{Name: name, Args: bound, Type: t}, nil
}

// convertArg makes argument i of a function have type want: constants are
// converted, integers widen, anything else must already match.
func (b *binder) convertArg(fn string, i int, e expr.Expr, want arrow.DataType) (expr.Expr, error) {
	switch {
	case want.ID() == anyNumeric.ID() && want == anyNumeric:
		if !isNumeric(e.DataType()) {
			return nil, invalid("%s() argument %d must be numeric, got %s", fn, i+1, e.DataType())
		}
		return e, nil
	case want == anyTemporal:
		if _, ok := e.(*expr.Literal); ok && e.DataType().ID() == arrow.STRING {
			return castTo(e, &arrow.TimestampType{Unit: arrow.Microsecond})
		}
		if !isTemporal(e.DataType()) {
			return nil, invalid("%s() argument %d must be a date or timestamp, got %s", fn, i+1, e.DataType())
		}
		return e, nil
	case arrow.TypeEqual(e.DataType(), want):
		return e, nil
	case isInteger(e.DataType()) && isInteger(want):
		return castTo(e, want)
	}
	if _, ok := e.(*expr.Literal); ok {
		return castTo(e, want)
	}
	return nil, invalid("%s() argument %d must be %s, got %s", fn, i+1, want, e.DataType())
}

// Markers for arguments that take any numeric or any temporal type.
var (
	anyNumeric  arrow.DataType = &arrow.Float64Type{}
	anyTemporal arrow.DataType = &arrow.TimestampType{Unit: arrow.Second, TimeZone: "any"}
)

type funcSig struct {
	args     []arrow.DataType
	min, max int
	result   func(args []expr.Expr) (arrow.DataType, error)
}

func (s funcSig) arity() string {
	if s.min == s.max {
		return fmt.Sprint(s.min)
	}
	return fmt.Sprintf("%d to %d", s.min, s.max)
}

func fixed(t arrow.DataType) func([]expr.Expr) (arrow.DataType, error) {
	return func([]expr.Expr) (arrow.DataType, error) { return t, nil }
}

// sameNumeric keeps integer results 64-bit and the rest float64.
func sameNumeric(args []expr.Expr) (arrow.DataType, error) {
	if isInteger(args[0].DataType()) {
		return arrow.PrimitiveTypes.Int64, nil
	}
	return arrow.PrimitiveTypes.Float64, nil
}

var (
	str  = arrow.BinaryTypes.String
	i64  = arrow.PrimitiveTypes.Int64
	f64  = arrow.PrimitiveTypes.Float64
	i32  = arrow.PrimitiveTypes.Int32
	bl   = arrow.FixedWidthTypes.Boolean
	tsUS = &arrow.TimestampType{Unit: arrow.Microsecond}
)

var scalarSigs = map[string]funcSig{
	"lower":       {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(str)},
	"upper":       {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(str)},
	"trim":        {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(str)},
	"ltrim":       {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(str)},
	"rtrim":       {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(str)},
	"length":      {args: []arrow.DataType{str}, min: 1, max: 1, result: fixed(i32)},
	"substring":   {args: []arrow.DataType{str, i64, i64}, min: 2, max: 3, result: fixed(str)},
	"concat":      {min: 1, max: 100, result: fixed(str)},
	"replace":     {args: []arrow.DataType{str, str, str}, min: 3, max: 3, result: fixed(str)},
	"split_part":  {args: []arrow.DataType{str, str, i64}, min: 3, max: 3, result: fixed(str)},
	"starts_with": {args: []arrow.DataType{str, str}, min: 2, max: 2, result: fixed(bl)},
	"strpos":      {args: []arrow.DataType{str, str}, min: 2, max: 2, result: fixed(i32)},
	"abs":         {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: sameNumeric},
	"floor":       {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: sameNumeric},
	"ceil":        {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: sameNumeric},
	"sign":        {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: sameNumeric},
	"sqrt":        {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: fixed(f64)},
	"ln":          {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: fixed(f64)},
	"exp":         {args: []arrow.DataType{anyNumeric}, min: 1, max: 1, result: fixed(f64)},
	"power":       {args: []arrow.DataType{anyNumeric, anyNumeric}, min: 2, max: 2, result: fixed(f64)},
	"round": {args: []arrow.DataType{anyNumeric, i64}, min: 1, max: 2, result: func(a []expr.Expr) (arrow.DataType, error) {
		if len(a) == 1 && isInteger(a[0].DataType()) {
			return i64, nil
		}
		return f64, nil
	}},
	"date_trunc": {args: []arrow.DataType{str, anyTemporal}, min: 2, max: 2, result: func(a []expr.Expr) (arrow.DataType, error) {
		if ts, ok := a[1].DataType().(*arrow.TimestampType); ok {
			return ts, nil
		}
		return tsUS, nil
	}},
	"date_part": {args: []arrow.DataType{str, anyTemporal}, min: 2, max: 2, result: fixed(i64)},
	"to_char":   {args: []arrow.DataType{anyTemporal, str}, min: 2, max: 2, result: fixed(str)},
	"date_bin": {args: []arrow.DataType{arrow.FixedWidthTypes.MonthDayNanoInterval, anyTemporal, anyTemporal}, min: 2, max: 3, result: func(a []expr.Expr) (arrow.DataType, error) {
		if ts, ok := a[1].DataType().(*arrow.TimestampType); ok {
			return ts, nil
		}
		return tsUS, nil
	}},
}

// variadic binds coalesce/greatest/least: every argument takes one type.
func (b *binder) variadic(name string, args []*pg.Node) (expr.Expr, error) {
	if len(args) == 0 {
		return nil, invalid("%s() needs arguments", name)
	}
	bound := make([]expr.Expr, len(args))
	var t arrow.DataType
	for i, a := range args {
		if a.GetParamRef() != nil {
			continue
		}
		e, err := b.valueExpr(a)
		if err != nil {
			return nil, err
		}
		bound[i] = e
		if _, isLit := e.(*expr.Literal); !isLit && t == nil {
			t = e.DataType()
		}
	}
	for _, e := range bound {
		if e != nil && t == nil && e.DataType().ID() != arrow.NULL {
			t = e.DataType()
		}
	}
	if t == nil {
		t = str
	}
	for i, a := range args {
		if bound[i] == nil {
			e, err := b.operand(a, t)
			if err != nil {
				return nil, err
			}
			bound[i] = e
		}
	}
	// Integers of different widths and floats meet at the widest.
	for _, e := range bound {
		et := e.DataType()
		switch {
		case isFloat(et) && isInteger(t):
			t = f64
		case isInteger(et) && isInteger(t) && et.(arrow.FixedWidthDataType).BitWidth() > t.(arrow.FixedWidthDataType).BitWidth():
			t = et
		}
	}
	for i, e := range bound {
		c, err := castTo(e, t)
		if err != nil {
			return nil, fmt.Errorf("%s() argument %d: %w", name, i+1, err)
		}
		bound[i] = c
	}
	return &expr.Func{Name: name, Args: bound, Type: t}, nil
}

func (b *binder) caseExpr(c *pg.CaseExpr) (expr.Expr, error) {
	var subject expr.Expr
	if c.GetArg() != nil {
		s, err := b.valueExpr(c.GetArg())
		if err != nil {
			return nil, err
		}
		subject = s
	}
	out := &expr.Case{}
	var results []expr.Expr
	for _, w := range c.GetArgs() {
		cw := w.GetCaseWhen()
		var cond expr.Expr
		var err error
		if subject != nil {
			v, err := b.operand(cw.GetExpr(), subject.DataType())
			if err != nil {
				return nil, err
			}
			l, r, err := b.unifyPair(subject, v)
			if err != nil {
				return nil, err
			}
			cond = &expr.Compare{Op: expr.Eq, L: l, R: r}
		} else if cond, err = b.boolExpr(cw.GetExpr()); err != nil {
			return nil, err
		}
		then, err := b.valueExpr(cw.GetResult())
		if err != nil {
			return nil, err
		}
		out.Whens = append(out.Whens, expr.When{Cond: cond, Then: then})
		results = append(results, then)
	}
	if c.GetDefresult() != nil {
		e, err := b.valueExpr(c.GetDefresult())
		if err != nil {
			return nil, err
		}
		out.Else = e
		results = append(results, e)
	}
	t, err := commonType(results)
	if err != nil {
		return nil, fmt.Errorf("CASE: %w", err)
	}
	out.Type = t
	for i := range out.Whens {
		if out.Whens[i].Then, err = castTo(out.Whens[i].Then, t); err != nil {
			return nil, err
		}
	}
	if out.Else != nil {
		if out.Else, err = castTo(out.Else, t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// commonType is the type CASE branches meet at: the first non-constant
// branch's type, widened for mixed numbers; constants follow it.
func commonType(es []expr.Expr) (arrow.DataType, error) {
	var t arrow.DataType
	for _, e := range es {
		if _, lit := e.(*expr.Literal); lit {
			continue
		}
		if t == nil {
			t = e.DataType()
		}
	}
	for _, e := range es {
		if t == nil && e.DataType().ID() != arrow.NULL {
			t = e.DataType()
		}
	}
	if t == nil {
		return str, nil
	}
	for _, e := range es {
		et := e.DataType()
		switch {
		case et.ID() == arrow.NULL, arrow.TypeEqual(et, t):
		case isNumeric(et) && isNumeric(t) && (isFloat(et) || isFloat(t) || et.ID() == arrow.DECIMAL128 || t.ID() == arrow.DECIMAL128):
			t = f64
		case isInteger(et) && isInteger(t):
			t = i64
		default:
			if _, lit := e.(*expr.Literal); !lit {
				return nil, invalid("branches of types %s and %s cannot be matched", t, et)
			}
		}
	}
	return t, nil
}

func (b *binder) sqlValueFunction(f *pg.SQLValueFunction) (expr.Expr, error) {
	switch f.GetOp() {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return &expr.Literal{Value: scalar.NewDate32Scalar(arrow.Date32FromTime(b.st.now))}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return &expr.Literal{Value: nowScalar(b.st.now, true)}, nil
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return &expr.Literal{Value: nowScalar(b.st.now, false)}, nil
	}
	return nil, unsupported("SQL value function %s", strings.TrimPrefix(f.GetOp().String(), "SVFOP_"))
}

func nowScalar(t time.Time, tz bool) scalar.Scalar {
	typ := &arrow.TimestampType{Unit: arrow.Microsecond}
	if tz {
		typ.TimeZone = "UTC"
	}
	return scalar.NewTimestampScalar(arrow.Timestamp(t.UnixMicro()), typ)
}

func (b *binder) aggregate(name string, fn executor.AggFunc, fc *pg.FuncCall) (expr.Expr, error) {
	if !b.aggOK {
		return nil, invalid("aggregate function %s() is not allowed in %s", name, b.where)
	}
	call := &aggCall{fn: fn, distinct: fc.GetAggDistinct()}
	if f := fc.GetAggFilter(); f != nil {
		b.aggOK = false
		cond, err := b.boolExpr(f)
		b.aggOK = true
		if err != nil {
			return nil, err
		}
		call.filter = cond
	}
	switch {
	case fc.GetAggStar():
		if fn != executor.AggCount {
			return nil, invalid("%s(*) is not valid; only count(*)", name)
		}
	case fn == executor.AggStringAgg:
		if len(fc.GetArgs()) != 2 {
			return nil, invalid("string_agg() takes a value and a separator")
		}
		sepLit, ok := fc.GetArgs()[1].GetAConst().GetVal().(*pg.A_Const_Sval)
		if !ok {
			return nil, unsupported("string_agg() with a separator that is not a string constant")
		}
		call.sep = sepLit.Sval.GetSval()
		b.aggOK = false
		arg, err := b.valueExpr(fc.GetArgs()[0])
		if err == nil {
			call.order, err = b.sortKeys(fc.GetAggOrder())
		}
		b.aggOK = true
		if err != nil {
			return nil, err
		}
		if arg.DataType().ID() != arrow.STRING {
			if arg, err = castTo(arg, str); err != nil {
				return nil, invalid("string_agg() takes text")
			}
		}
		call.arg = arg
	case len(fc.GetArgs()) != 1:
		return nil, unsupported("%s() with %d arguments", name, len(fc.GetArgs()))
	default:
		b.aggOK = false
		arg, err := b.valueExpr(fc.GetArgs()[0])
		b.aggOK = true
		if err != nil {
			return nil, err
		}
		if _, nested := arg.(*aggCall); nested {
			return nil, invalid("aggregate calls cannot be nested")
		}
		call.arg = arg
	}
	var argType arrow.DataType
	if call.arg != nil {
		argType = call.arg.DataType()
		if argType.ID() == arrow.NULL {
			argType = i64
			call.arg = &expr.Literal{Value: scalar.MakeNullScalar(i64)}
		}
	}
	t, err := executor.AggResultType(fn, argType)
	if err != nil {
		return nil, invalid("%s(%s) is not defined", name, argType)
	}
	call.typ = t
	return call, nil
}

// arith binds binary arithmetic and || concatenation.
func (b *binder) arith(op string, ln, rn *pg.Node) (expr.Expr, error) {
	if ln == nil {
		// Unary minus (or plus).
		x, err := b.valueExpr(rn)
		if err != nil {
			return nil, err
		}
		if op == "+" {
			return x, nil
		}
		if lit, ok := x.(*expr.Literal); ok && lit.Value.IsValid() {
			switch v := lit.Value.(type) {
			case *scalar.Int64:
				return &expr.Literal{Value: scalar.NewInt64Scalar(-v.Value)}, nil
			case *scalar.Float64:
				return &expr.Literal{Value: scalar.NewFloat64Scalar(-v.Value)}, nil
			}
		}
		if !isNumeric(x.DataType()) {
			return nil, invalid("unary minus of %s", x.DataType())
		}
		zero, err := castTo(&expr.Literal{Value: scalar.NewInt64Scalar(0)}, x.DataType())
		if err != nil {
			return nil, err
		}
		return b.arithTyped("-", zero, x)
	}
	var l, r expr.Expr
	var err error
	if ln.GetParamRef() != nil && rn.GetParamRef() == nil {
		if r, err = b.valueExpr(rn); err != nil {
			return nil, err
		}
		if l, err = b.operand(ln, r.DataType()); err != nil {
			return nil, err
		}
	} else {
		if l, err = b.valueExpr(ln); err != nil {
			return nil, err
		}
		if r, err = b.operand(rn, l.DataType()); err != nil {
			return nil, err
		}
	}
	if op == "||" {
		for _, x := range []*expr.Expr{&l, &r} {
			if lit, ok := (*x).(*expr.Literal); ok && !lit.Value.IsValid() {
				*x = &expr.Literal{Value: scalar.MakeNullScalar(str)}
			}
		}
		return &expr.Func{Name: "textcat", Args: []expr.Expr{l, r}, Type: str}, nil
	}
	return b.arithTyped(op, l, r)
}

func (b *binder) arithTyped(op string, l, r expr.Expr) (expr.Expr, error) {
	lt, rt := l.DataType(), r.DataType()
	if isTemporal(lt) || isTemporal(rt) || lt.ID() == arrow.INTERVAL_MONTH_DAY_NANO || rt.ID() == arrow.INTERVAL_MONTH_DAY_NANO {
		return temporalArith(op, l, r)
	}
	if lt.ID() == arrow.NULL || rt.ID() == arrow.NULL {
		return &expr.Literal{Value: scalar.MakeNullScalar(i64)}, nil
	}
	if lt.ID() == arrow.STRING {
		if _, ok := l.(*expr.Literal); ok && isNumeric(rt) {
			lt = rt
		}
	}
	if rt.ID() == arrow.STRING {
		if _, ok := r.(*expr.Literal); ok && isNumeric(lt) {
			rt = lt
		}
	}
	if !isNumeric(lt) || !isNumeric(rt) {
		return nil, invalid("operator %s is not defined for %s and %s (in %s %s %s)", op, lt, rt, l, op, r)
	}
	var t arrow.DataType
	switch {
	case isInteger(lt) && isInteger(rt):
		t = i64
	case isFloat(lt) || isFloat(rt) || op == "%":
		t = f64
	default:
		// Exact decimal arithmetic, with the result types Arrow's kernels
		// produce.
		a, c := asDecimal(lt), asDecimal(rt)
		// A constant takes the other side's scale, so that the kernel does
		// not rescale every value of the column (rescaling is slow).
		if _, ok := l.(*expr.Literal); ok && (op == "+" || op == "-") && rt.ID() == arrow.DECIMAL128 {
			a = &arrow.Decimal128Type{Precision: min(38, a.Precision-a.Scale+c.Scale), Scale: c.Scale}
		}
		if _, ok := r.(*expr.Literal); ok && (op == "+" || op == "-") && lt.ID() == arrow.DECIMAL128 {
			c = &arrow.Decimal128Type{Precision: min(38, c.Precision-c.Scale+a.Scale), Scale: a.Scale}
		}
		var err error
		if l, err = castTo(l, a); err != nil {
			return nil, err
		}
		if r, err = castTo(r, c); err != nil {
			return nil, err
		}
		res := decimalResult(op, a, c)
		if res == nil {
			t = f64
			break
		}
		return foldArith(&expr.Arith{Op: op, L: l, R: r, Type: res})
	}
	var err error
	if l, err = castTo(l, t); err != nil {
		return nil, err
	}
	if r, err = castTo(r, t); err != nil {
		return nil, err
	}
	return foldArith(&expr.Arith{Op: op, L: l, R: r, Type: t})
}

// decimalResult is the type of decimal a op b; nil when it would need more
// than 38 digits (the caller falls back to float64).
func decimalResult(op string, a, b *arrow.Decimal128Type) *arrow.Decimal128Type {
	var p, s int32
	switch op {
	case "+", "-":
		s = max(a.Scale, b.Scale)
		p = max(a.Precision-a.Scale, b.Precision-b.Scale) + s + 1
	case "*":
		s = a.Scale + b.Scale
		p = a.Precision + b.Precision + 1
	case "/":
		s = max(4, a.Scale+b.Precision-b.Scale+1)
		p = a.Precision - a.Scale + b.Scale + s
	default:
		return nil
	}
	if p > 38 {
		return nil
	}
	return &arrow.Decimal128Type{Precision: p, Scale: s}
}

// foldArith evaluates arithmetic on two constants at plan time.
func foldArith(a *expr.Arith) (expr.Expr, error) {
	ll, ok1 := a.L.(*expr.Literal)
	rl, ok2 := a.R.(*expr.Literal)
	if !ok1 || !ok2 || !ll.Value.IsValid() || !rl.Value.IsValid() || a.Op == "%" {
		return a, nil
	}
	if a.Op == "/" && isInteger(a.Type) {
		d := toInt64(rl.Value)
		if d == 0 {
			return nil, invalid("division by zero in %s", a)
		}
		return &expr.Literal{Value: scalar.NewInt64Scalar(toInt64(ll.Value) / d)}, nil
	}
	fn := map[string]string{"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[a.Op]
	out, err := compute.CallFunction(context.Background(), fn, nil, compute.NewDatum(ll.Value), compute.NewDatum(rl.Value))
	if err != nil {
		return nil, invalid("%s: %v", a, err)
	}
	v := out.(*compute.ScalarDatum).Value
	if !arrow.TypeEqual(v.DataType(), a.Type) {
		if v, err = v.CastTo(a.Type); err != nil {
			return a, nil
		}
	}
	return &expr.Literal{Value: v}, nil
}

// Interval field masks of PostgreSQL's INTERVAL typmod.
const (
	maskMonth  = 1 << 1
	maskYear   = 1 << 2
	maskDay    = 1 << 3
	maskHour   = 1 << 10
	maskMinute = 1 << 11
	maskSecond = 1 << 12
)

// parseInterval reads an interval constant: '3 days', '1 year 2 months',
// '02:30:00', or a bare number whose unit the typmod gives ('90' DAY).
func parseInterval(s string, mask int32) (arrow.MonthDayNanoInterval, error) {
	var iv arrow.MonthDayNanoInterval
	fields := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(fields) == 1 && mask != 0 {
		var unit string
		switch {
		case mask&maskSecond != 0 && mask == maskSecond:
			unit = "second"
		case mask == maskMinute:
			unit = "minute"
		case mask == maskHour:
			unit = "hour"
		case mask == maskDay:
			unit = "day"
		case mask == maskMonth:
			unit = "month"
		case mask == maskYear:
			unit = "year"
		}
		if unit != "" {
			fields = append(fields, unit)
		}
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.Contains(f, ":") {
			var h, m int64
			var sec float64
			if _, err := fmt.Sscanf(f, "%d:%d:%g", &h, &m, &sec); err != nil {
				if _, err := fmt.Sscanf(f, "%d:%d", &h, &m); err != nil {
					return iv, invalid("interval %q: cannot read %q", s, f)
				}
			}
			iv.Nanoseconds += (h*3600+m*60)*1e9 + int64(sec*1e9)
			continue
		}
		var n float64
		if _, err := fmt.Sscanf(f, "%g", &n); err != nil || i+1 >= len(fields) {
			return iv, invalid("interval %q: want a number and a unit ('3 days')", s)
		}
		i++
		unit := strings.TrimSuffix(fields[i], "s")
		switch unit {
		case "year", "yr", "y":
			iv.Months += int32(n * 12)
		case "month", "mon":
			iv.Months += int32(n)
		case "week", "w":
			iv.Days += int32(n * 7)
		case "day", "d":
			iv.Days += int32(n)
		case "hour", "hr", "h":
			iv.Nanoseconds += int64(n * 3600e9)
		case "minute", "min", "m":
			iv.Nanoseconds += int64(n * 60e9)
		case "second", "sec":
			iv.Nanoseconds += int64(n * 1e9)
		default:
			return iv, invalid("interval %q: unknown unit %q", s, fields[i])
		}
	}
	return iv, nil
}

// temporalArith binds date/timestamp arithmetic: date ± integer days,
// date/timestamp ± interval. Constants fold at plan time.
func temporalArith(op string, l, r expr.Expr) (expr.Expr, error) {
	lt, rt := l.DataType(), r.DataType()
	if op != "+" && op != "-" {
		return nil, invalid("operator %s is not defined for %s and %s", op, lt, rt)
	}
	// Put the temporal operand on the left (only + commutes).
	if !isTemporal(lt) && isTemporal(rt) && op == "+" {
		l, r, lt, rt = r, l, rt, lt
	}
	if !isTemporal(lt) {
		return nil, invalid("operator %s is not defined for %s and %s", op, lt, rt)
	}
	var iv arrow.MonthDayNanoInterval
	switch {
	case rt.ID() == arrow.INTERVAL_MONTH_DAY_NANO:
		lit, ok := r.(*expr.Literal)
		if !ok || !lit.Value.IsValid() {
			return nil, unsupported("interval arithmetic with a non-constant interval")
		}
		iv = lit.Value.(*scalar.MonthDayNanoInterval).Value
	case isInteger(rt) && lt.ID() == arrow.DATE32:
		lit, ok := r.(*expr.Literal)
		if !ok || !lit.Value.IsValid() {
			return nil, unsupported("date arithmetic with a non-constant number of days")
		}
		iv.Days = int32(toInt64(lit.Value))
	case lt.ID() == arrow.DATE32 && rt.ID() == arrow.DATE32 && op == "-":
		// The number of days between two dates, as in PostgreSQL.
		ll, ok1 := l.(*expr.Literal)
		rl, ok2 := r.(*expr.Literal)
		if ok1 && ok2 && ll.Value.IsValid() && rl.Value.IsValid() {
			d := int32(ll.Value.(*scalar.Date32).Value - rl.Value.(*scalar.Date32).Value)
			return &expr.Literal{Value: scalar.NewInt32Scalar(d)}, nil
		}
		return &expr.Func{Name: "date_diff", Args: []expr.Expr{l, r}, Type: i32}, nil
	default:
		return nil, invalid("operator %s is not defined for %s and %s", op, lt, rt)
	}
	if op == "-" {
		iv = arrow.MonthDayNanoInterval{Months: -iv.Months, Days: -iv.Days, Nanoseconds: -iv.Nanoseconds}
	}
	// A date shifted by whole days and months stays a date; otherwise the
	// result is a timestamp, as in PostgreSQL.
	outType := lt
	if lt.ID() == arrow.DATE32 && iv.Nanoseconds != 0 {
		outType = tsUS
	}
	args := []expr.Expr{l, &expr.Literal{Value: scalar.NewInt64Scalar(int64(iv.Months))},
		&expr.Literal{Value: scalar.NewInt64Scalar(int64(iv.Days))}, &expr.Literal{Value: scalar.NewInt64Scalar(iv.Nanoseconds)}}
	if lit, ok := l.(*expr.Literal); ok && lit.Value.IsValid() {
		t, err := temporalValue(lit.Value)
		if err != nil {
			return nil, err
		}
		t = t.AddDate(0, int(iv.Months), int(iv.Days)).Add(time.Duration(iv.Nanoseconds))
		if outType.ID() == arrow.DATE32 {
			return &expr.Literal{Value: scalar.NewDate32Scalar(arrow.Date32FromTime(t))}, nil
		}
		ts := outType.(*arrow.TimestampType)
		v, err := arrow.TimestampFromTime(t, ts.Unit)
		if err != nil {
			return nil, invalid("%v", err)
		}
		return &expr.Literal{Value: scalar.NewTimestampScalar(v, ts)}, nil
	}
	return &expr.Func{Name: "add_interval", Args: args, Type: outType}, nil
}

func temporalValue(v scalar.Scalar) (time.Time, error) {
	switch x := v.(type) {
	case *scalar.Date32:
		return x.Value.ToTime(), nil
	case *scalar.Timestamp:
		return x.Value.ToTime(x.Type.(*arrow.TimestampType).Unit), nil
	}
	return time.Time{}, invalid("%s is not a date or timestamp", v.DataType())
}
