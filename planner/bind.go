package planner

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

func asParserError(err error) (*pgparser.Error, bool) {
	var pe *pgparser.Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

// binder resolves names and types expressions against a scope.
type binder struct {
	sc *scope
	st *stmt
	// outer is the binder of the enclosing query, for correlated names.
	outer *binder
	// correlated collects the outer columns this query references.
	correlated bool
	// aggOK allows aggregate calls (select list, HAVING, ORDER BY); where
	// names the clause being bound, for errors.
	aggOK bool
	winOK bool
	where string
	// existsOnly skips the select list of an EXISTS subquery.
	existsOnly bool
}

func newBinder(sc *scope, st *stmt) *binder {
	return &binder{sc: sc, st: st}
}

type selectItem struct {
	name string
	e    expr.Expr
}

func (b *binder) selectList(targets []*pg.Node) ([]selectItem, error) {
	var items []selectItem
	for _, t := range targets {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, unsupported("select item %s", stmtName(t))
		}
		val := rt.GetVal()
		if cr := val.GetColumnRef(); cr != nil {
			if fs := cr.GetFields(); len(fs) > 0 && fs[len(fs)-1].GetAStar() != nil {
				var qual string
				for _, f := range fs[:len(fs)-1] {
					qual += "." + f.GetString_().GetSval()
				}
				qual = strings.TrimPrefix(qual, ".")
				if qual != "" && !b.sc.hasQualifier(qual) {
					return nil, invalid("%s.* names no table of the FROM clause", qual)
				}
				skip := map[int]bool{}
				if qual == "" {
					for _, m := range b.sc.merged {
						items = append(items, selectItem{name: m.name, e: b.mergedRef([]string{m.name})})
						skip[m.left], skip[m.right] = true, true
					}
				}
				for i, c := range b.sc.cols {
					if (qual != "" && !qualifies(c, qual)) || skip[i] {
						continue
					}
					items = append(items, selectItem{name: c.field.Name, e: &expr.Column{Index: i, Name: c.field.Name, Type: c.field.Type}})
				}
				continue
			}
		}
		e, err := b.valueExpr(val)
		if err != nil {
			return nil, err
		}
		name := rt.GetName()
		if name == "" {
			name = defaultName(val)
		}
		items = append(items, selectItem{name: name, e: e})
	}
	return items, nil
}

func defaultName(n *pg.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		fs := n.GetColumnRef().GetFields()
		return fs[len(fs)-1].GetString_().GetSval()
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection().GetIndirection()
		if s := ind[len(ind)-1].GetString_(); s != nil {
			return s.GetSval()
		}
	case n.GetTypeCast() != nil:
		if inner := defaultName(n.GetTypeCast().GetArg()); inner != "?column?" {
			return inner
		}
		if tn := n.GetTypeCast().GetTypeName().GetNames(); len(tn) > 0 {
			return tn[len(tn)-1].GetString_().GetSval()
		}
	case n.GetFuncCall() != nil:
		fn := n.GetFuncCall().GetFuncname()
		name := fn[len(fn)-1].GetString_().GetSval()
		if name == "date_part" || name == "extract" {
			return "extract"
		}
		return name
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	}
	return "?column?"
}

func (b *binder) column(names []string, loc int32) (expr.Expr, error) {
	if m := b.mergedRef(names); m != nil {
		return m, nil
	}
	col, err := b.sc.resolve(names, loc)
	if err != nil {
		if b.outer != nil && errors.Is(err, ErrNoSuchColumn) {
			if e, oerr := b.outer.column(names, loc); oerr == nil {
				c, ok := e.(*expr.Column)
				if !ok {
					return nil, unsupported("a reference to a column two query levels up (%s)", strings.Join(names, "."))
				}
				b.correlated = true
				return &outerRef{col: c}, nil
			}
		}
		return nil, err
	}
	return col, nil
}

// mergedRef binds an unqualified name of a USING column to its merged value.
func (b *binder) mergedRef(names []string) expr.Expr {
	if len(names) != 1 {
		return nil
	}
	for _, m := range b.sc.merged {
		if !strings.EqualFold(m.name, names[0]) {
			continue
		}
		lc, rc := b.sc.cols[m.left], b.sc.cols[m.right]
		l := &expr.Column{Index: m.left, Name: lc.field.Name, Type: lc.field.Type}
		r := &expr.Column{Index: m.right, Name: rc.field.Name, Type: rc.field.Type}
		switch {
		case m.full:
			t := l.Type
			if !arrow.TypeEqual(l.Type, r.Type) {
				return nil
			}
			return &expr.Func{Name: "coalesce", Args: []expr.Expr{l, r}, Type: t}
		case m.rightWins:
			return r
		}
		return l
	}
	return nil
}

func (b *binder) valueExpr(n *pg.Node) (expr.Expr, error) {
	switch {
	case n.GetColumnRef() != nil:
		cr := n.GetColumnRef()
		var names []string
		for _, f := range cr.GetFields() {
			if f.GetAStar() != nil {
				return nil, invalid("* is only allowed as a whole select item or in count(*)")
			}
			names = append(names, f.GetString_().GetSval())
		}
		return b.column(names, cr.GetLocation())
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection()
		steps := ind.GetIndirection()
		var base expr.Expr
		if cr := ind.GetArg().GetColumnRef(); cr != nil {
			// Leading field names belong to the column path.
			var names []string
			for _, f := range cr.GetFields() {
				names = append(names, f.GetString_().GetSval())
			}
			for len(steps) > 0 && steps[0].GetString_() != nil {
				names = append(names, steps[0].GetString_().GetSval())
				steps = steps[1:]
			}
			e, err := b.column(names, cr.GetLocation())
			if err != nil {
				return nil, err
			}
			base = e
		} else {
			e, err := b.valueExpr(ind.GetArg())
			if err != nil {
				return nil, err
			}
			base = e
		}
		for _, st := range steps {
			var err error
			if base, err = b.subscript(base, st); err != nil {
				return nil, err
			}
		}
		return base, nil
	case n.GetAConst() != nil:
		return constLiteral(n.GetAConst())
	case n.GetParamRef() != nil:
		return b.param(int(n.GetParamRef().GetNumber()), nil)
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		to, err := sqlType(tc.GetTypeName())
		if err != nil {
			return nil, err
		}
		if pr := tc.GetArg().GetParamRef(); pr != nil {
			return b.param(int(pr.GetNumber()), to)
		}
		if to.ID() == arrow.INTERVAL_MONTH_DAY_NANO {
			c := tc.GetArg().GetAConst()
			if c == nil || c.GetSval() == nil {
				return nil, unsupported("intervals other than constants ('3 days', '90' DAY)")
			}
			var mask int32
			for _, m := range tc.GetTypeName().GetTypmods() {
				if mc := m.GetAConst(); mc != nil && mc.GetIval() != nil {
					mask = mc.GetIval().GetIval()
					break
				}
			}
			iv, err := parseInterval(c.GetSval().GetSval(), mask)
			if err != nil {
				return nil, err
			}
			return &expr.Literal{Value: scalar.NewMonthDayNanoIntervalScalar(iv)}, nil
		}
		inner, err := b.valueExpr(tc.GetArg())
		if err != nil {
			return nil, err
		}
		return castTo(inner, to)
	case n.GetBoolExpr() != nil, n.GetNullTest() != nil:
		return b.boolExpr(n)
	case n.GetAExpr() != nil:
		return b.aExpr(n.GetAExpr())
	case n.GetFuncCall() != nil:
		return b.funcCall(n.GetFuncCall())
	case n.GetCaseExpr() != nil:
		return b.caseExpr(n.GetCaseExpr())
	case n.GetCoalesceExpr() != nil:
		return b.variadic("coalesce", n.GetCoalesceExpr().GetArgs())
	case n.GetMinMaxExpr() != nil:
		name := "greatest"
		if n.GetMinMaxExpr().GetOp() == pg.MinMaxOp_IS_LEAST {
			name = "least"
		}
		return b.variadic(name, n.GetMinMaxExpr().GetArgs())
	case n.GetSqlvalueFunction() != nil:
		return b.sqlValueFunction(n.GetSqlvalueFunction())
	case n.GetSubLink() != nil:
		return b.subLink(n.GetSubLink())
	case n.GetBooleanTest() != nil:
		return nil, unsupported("IS [NOT] TRUE/FALSE/UNKNOWN")
	}
	return nil, unsupported("expression %s", stmtName(n))
}

// maxParams is the highest parameter number, as in PostgreSQL's protocol.
const maxParams = 65535

func (b *binder) param(i int, want arrow.DataType) (expr.Expr, error) {
	if i < 1 {
		return nil, invalid("parameter $%d: parameters are numbered from 1", i)
	}
	if i > maxParams {
		// ParamTypes has one entry per number up to the highest: $2000000000
		// would allocate gigabytes.
		return nil, invalid("parameter $%d: at most %d parameters", i, maxParams)
	}
	if b.st.paramTypes == nil {
		b.st.paramTypes = map[int]arrow.DataType{}
	}
	b.st.maxParam = max(b.st.maxParam, i)
	if want != nil {
		if _, ok := b.st.paramTypes[i]; !ok || b.st.paramTypes[i].ID() == arrow.NULL {
			b.st.paramTypes[i] = want
		}
	} else if _, ok := b.st.paramTypes[i]; !ok {
		b.st.paramTypes[i] = arrow.Null
	}
	if b.st.params == nil {
		t := b.st.paramTypes[i]
		return &expr.Param{Index: i, Type: t}, nil
	}
	if i > len(b.st.params) {
		return nil, invalid("parameter $%d has no value (%d given)", i, len(b.st.params))
	}
	v := b.st.params[i-1]
	if want != nil && !arrow.TypeEqual(v.DataType(), want) {
		return coerceScalar(v, want, fmt.Sprintf("parameter $%d", i))
	}
	return &expr.Literal{Value: v}, nil
}

func (st *stmt) paramTypeList() []arrow.DataType {
	out := make([]arrow.DataType, st.maxParam)
	for i := range out {
		t := st.paramTypes[i+1]
		if t == nil {
			t = arrow.Null
		}
		out[i] = t
	}
	return out
}

func (st *stmt) checkParams() error {
	if st.params != nil && len(st.params) < st.maxParam {
		return invalid("statement has %d parameters, %d values given", st.maxParam, len(st.params))
	}
	return nil
}

func (b *binder) boolExpr(n *pg.Node) (expr.Expr, error) {
	e, err := b.predicate(n)
	if err != nil {
		return nil, err
	}
	if isNullLiteral(e) {
		return &expr.Literal{Value: scalar.MakeNullScalar(arrow.FixedWidthTypes.Boolean)}, nil
	}
	if e.DataType().ID() != arrow.BOOL {
		return nil, invalid("argument of WHERE/AND/OR/NOT must be boolean, not %s (%s)", e.DataType(), e)
	}
	return e, nil
}

func (b *binder) predicate(n *pg.Node) (expr.Expr, error) {
	switch {
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		var args []expr.Expr
		for _, a := range be.GetArgs() {
			e, err := b.boolExpr(a)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		switch be.GetBoolop() {
		case pg.BoolExprType_AND_EXPR:
			return &expr.And{Args: args}, nil
		case pg.BoolExprType_OR_EXPR:
			return &expr.Or{Args: args}, nil
		default:
			return &expr.Not{X: args[0]}, nil
		}
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		x, err := b.valueExpr(nt.GetArg())
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{X: x, Negate: nt.GetNulltesttype() == pg.NullTestType_IS_NOT_NULL}, nil
	case n.GetAExpr() != nil:
		return b.aExpr(n.GetAExpr())
	}
	return b.valueExpr(n)
}

func opName(a *pg.A_Expr) string {
	var parts []string
	for _, n := range a.GetName() {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}

func (b *binder) aExpr(a *pg.A_Expr) (expr.Expr, error) {
	op := opName(a)
	switch a.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
		switch op {
		case "+", "-", "*", "/", "%", "||":
			return b.arith(op, a.GetLexpr(), a.GetRexpr())
		}
		cmp, ok := map[string]expr.CmpOp{"=": expr.Eq, "<>": expr.NotEq, "!=": expr.NotEq, "<": expr.Lt, "<=": expr.LtEq, ">": expr.Gt, ">=": expr.GtEq}[op]
		if !ok {
			return nil, unsupported("operator %s", op)
		}
		if a.GetLexpr() == nil {
			return nil, unsupported("prefix operator %s", op)
		}
		return b.compare(cmp, a.GetLexpr(), a.GetRexpr())
	case pg.A_Expr_Kind_AEXPR_IN:
		x, err := b.valueExpr(a.GetLexpr())
		if err != nil {
			return nil, err
		}
		list := a.GetRexpr().GetList().GetItems()
		in := &expr.In{X: x, Negate: op == "<>"}
		for _, item := range list {
			e, err := b.operand(item, x.DataType())
			if err != nil {
				return nil, err
			}
			e, err = b.unify(x, e)
			if err != nil {
				return nil, err
			}
			if _, ok := e.(*expr.Literal); !ok {
				if _, ok := e.(*expr.Param); !ok {
					return nil, unsupported("IN list item %s (only constants and parameters)", e)
				}
			}
			in.List = append(in.List, e)
		}
		// An item that unify widened (rssi IN (1.5, 2), or a constant out
		// of the column's range) makes the whole test compare in the wider
		// type: float64 if any item needs it.
		to := x.DataType()
		for _, e := range in.List {
			if t := e.DataType(); !arrow.TypeEqual(t, x.DataType()) && !isFloat(to) {
				to = t
			}
		}
		if !arrow.TypeEqual(to, x.DataType()) {
			if in.X, err = castTo(x, to); err != nil {
				return nil, err
			}
			for i, item := range in.List {
				if p, ok := item.(*expr.Param); ok {
					in.List[i] = &expr.Param{Index: p.Index, Type: to}
				} else if in.List[i], err = castTo(item, to); err != nil {
					return nil, err
				}
			}
		}
		return in, nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		bounds := a.GetRexpr().GetList().GetItems()
		if len(bounds) != 2 {
			return nil, invalid("BETWEEN needs two bounds")
		}
		lo, err := b.compare(expr.GtEq, a.GetLexpr(), bounds[0])
		if err != nil {
			return nil, err
		}
		hi, err := b.compare(expr.LtEq, a.GetLexpr(), bounds[1])
		if err != nil {
			return nil, err
		}
		var e expr.Expr = &expr.And{Args: []expr.Expr{lo, hi}}
		if a.GetKind() == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN {
			e = &expr.Not{X: e}
		}
		return e, nil
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		x, err := b.valueExpr(a.GetLexpr())
		if err != nil {
			return nil, err
		}
		if x.DataType().ID() != arrow.STRING {
			return nil, invalid("LIKE needs a string, %s is %s", x, x.DataType())
		}
		pat, err := b.operand(a.GetRexpr(), arrow.BinaryTypes.String)
		if err != nil {
			return nil, err
		}
		if isNullLiteral(pat) {
			pat = &expr.Literal{Value: scalar.MakeNullScalar(arrow.BinaryTypes.String)}
		}
		if pat.DataType().ID() != arrow.STRING {
			return nil, invalid("LIKE pattern must be a string, got %s", pat.DataType())
		}
		switch pat.(type) {
		case *expr.Literal, *expr.Param:
		default:
			return nil, unsupported("LIKE with a non-constant pattern (%s)", pat)
		}
		return &expr.Like{X: x, Pattern: pat, Negate: strings.HasPrefix(op, "!"), Fold: a.GetKind() == pg.A_Expr_Kind_AEXPR_ILIKE}, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, err := b.valueExpr(a.GetLexpr())
		if err != nil {
			return nil, err
		}
		r, err := b.operand(a.GetRexpr(), l.DataType())
		if err != nil {
			return nil, err
		}
		ul, ur, err := b.unifyPair(l, r)
		if err != nil {
			return nil, err
		}
		return &expr.Func{Name: "nullif", Args: []expr.Expr{ul, ur}, Type: ul.DataType()}, nil
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		cmp, err := b.compare(expr.Eq, a.GetLexpr(), a.GetRexpr())
		if err != nil {
			return nil, err
		}
		c := cmp.(*expr.Compare)
		// a IS NOT DISTINCT FROM b: both NULL, or both set and equal. It is
		// never NULL.
		same := &expr.Or{Args: []expr.Expr{
			&expr.And{Args: []expr.Expr{&expr.IsNull{X: c.L}, &expr.IsNull{X: c.R}}},
			&expr.And{Args: []expr.Expr{&expr.IsNull{X: c.L, Negate: true}, &expr.IsNull{X: c.R, Negate: true}, c}},
		}}
		if a.GetKind() == pg.A_Expr_Kind_AEXPR_DISTINCT {
			return &expr.Not{X: same}, nil
		}
		return same, nil
	case pg.A_Expr_Kind_AEXPR_SIMILAR:
		return nil, unsupported("SIMILAR TO")
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		return nil, unsupported("ANY/ALL")
	}
	return nil, unsupported("operator %s", op)
}

// operand binds n, typing parameters as want.
func (b *binder) operand(n *pg.Node, want arrow.DataType) (expr.Expr, error) {
	if pr := n.GetParamRef(); pr != nil {
		return b.param(int(pr.GetNumber()), want)
	}
	return b.valueExpr(n)
}

func (b *binder) compare(op expr.CmpOp, ln, rn *pg.Node) (expr.Expr, error) {
	var l, r expr.Expr
	var err error
	// Bind the side that is not a parameter first so the parameter can take
	// its type.
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
	ul, ur, err := b.unifyPair(l, r)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s %s %s)", err, l, op, r)
	}
	if isNullLiteral(ul) && isNullLiteral(ur) {
		// NULL = NULL: no kernel compares the null type; PostgreSQL reads
		// both unknowns as text.
		ul = &expr.Literal{Value: scalar.MakeNullScalar(arrow.BinaryTypes.String)}
		ur = ul
	}
	return &expr.Compare{Op: op, L: ul, R: ur}, nil
}

func isNullLiteral(e expr.Expr) bool {
	l, ok := e.(*expr.Literal)
	return ok && l.DataType().ID() == arrow.NULL
}

// unify converts e to x's type, for IN lists.
func (b *binder) unify(x, e expr.Expr) (expr.Expr, error) {
	_, r, err := b.unifyPair(x, e)
	return r, err
}

// unifyPair gives two operands one type: a constant takes the other side's
// type; two columns of different numeric types meet at the wider one.
func (b *binder) unifyPair(l, r expr.Expr) (expr.Expr, expr.Expr, error) {
	lt, rt := l.DataType(), r.DataType()
	if arrow.TypeEqual(lt, rt) {
		return l, r, nil
	}
	if p, ok := r.(*expr.Param); ok {
		return l, &expr.Param{Index: p.Index, Type: lt}, nil
	}
	if p, ok := l.(*expr.Param); ok {
		return &expr.Param{Index: p.Index, Type: rt}, r, nil
	}
	ll, lConst := l.(*expr.Literal)
	rl, rConst := r.(*expr.Literal)
	switch {
	case lConst && lt.ID() == arrow.NULL && rt.ID() != arrow.NULL:
		return &expr.Literal{Value: scalar.MakeNullScalar(rt)}, r, nil
	case rConst && rt.ID() == arrow.NULL && lt.ID() != arrow.NULL:
		return l, &expr.Literal{Value: scalar.MakeNullScalar(lt)}, nil
	case rConst && !lConst:
		if isInteger(lt) && !constFitsInt(rl.Value, lt) {
			return numericWiden(l, r)
		}
		v, err := coerceScalar(rl.Value, lt, "constant "+r.String())
		return l, v, err
	case lConst && !rConst:
		if isInteger(rt) && !constFitsInt(ll.Value, rt) {
			return numericWiden(l, r)
		}
		v, err := coerceScalar(ll.Value, rt, "constant "+l.String())
		return v, r, err
	}
	return numericWiden(l, r)
}

// constFitsInt reports whether numeric constant v compares with an integer
// column of type t as a constant of type t: an integer in t's range or an
// integral decimal that fits. Others (1.5, 10000000000 for int32) make both
// sides widen. Non-numeric constants are parsed or converted to t.
func constFitsInt(v scalar.Scalar, t arrow.DataType) bool {
	switch {
	case isFloat(v.DataType()):
		return false
	case isInteger(v.DataType()):
		return intFits(v, t)
	case v.DataType().ID() == arrow.DECIMAL128:
		n, ok := decimalAsInt(v)
		return ok && intFits(scalar.NewInt64Scalar(n), t)
	}
	return true
}

// decimalAsInt returns the value of an integral decimal constant that fits
// in 64 bits.
func decimalAsInt(v scalar.Scalar) (int64, bool) {
	d, ok := v.(*scalar.Decimal128)
	if !ok || !d.IsValid() {
		return 0, false
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Type.(*arrow.Decimal128Type).Scale)), nil)
	q, r := new(big.Int).QuoRem(d.Value.BigInt(), pow, new(big.Int))
	if r.Sign() != 0 || !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// intFits reports whether integer constant v is in the range of integer
// type t.
func intFits(v scalar.Scalar, t arrow.DataType) bool {
	bits := t.(arrow.FixedWidthDataType).BitWidth()
	n := toInt64(v)
	return bits >= 64 || (n <= int64(1)<<(bits-1)-1 && n >= -(int64(1)<<(bits-1)))
}

func numericWiden(l, r expr.Expr) (expr.Expr, expr.Expr, error) {
	lt, rt := l.DataType(), r.DataType()
	var to arrow.DataType
	switch {
	case isNumeric(lt) && isNumeric(rt) && (isFloat(lt) || isFloat(rt)):
		to = arrow.PrimitiveTypes.Float64
	case isInteger(lt) && isInteger(rt):
		to = arrow.PrimitiveTypes.Int64
	case isNumeric(lt) && isNumeric(rt):
		to = commonDecimal(asDecimal(lt), asDecimal(rt))
	case isTemporal(lt) && isTemporal(rt):
		to = &arrow.TimestampType{Unit: arrow.Microsecond}
		if ts, ok := lt.(*arrow.TimestampType); ok {
			to = ts
		} else if ts, ok := rt.(*arrow.TimestampType); ok {
			to = ts
		}
	default:
		return l, r, invalid("cannot compare %s with %s", lt, rt)
	}
	var err error
	if l, err = castTo(l, to); err != nil {
		return nil, nil, err
	}
	if r, err = castTo(r, to); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func castTo(e expr.Expr, to arrow.DataType) (expr.Expr, error) {
	if arrow.TypeEqual(e.DataType(), to) {
		return e, nil
	}
	if lit, ok := e.(*expr.Literal); ok {
		return coerceScalar(lit.Value, to, "constant "+lit.String())
	}
	if p, ok := e.(*expr.Param); ok && p.Type.ID() == arrow.NULL {
		return &expr.Param{Index: p.Index, Type: to}, nil
	}
	return &expr.Cast{X: e, To: to}, nil
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}
func isFloat(t arrow.DataType) bool { return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 }
func isNumeric(t arrow.DataType) bool {
	return isInteger(t) || isFloat(t) || t.ID() == arrow.DECIMAL128
}
func isTemporal(t arrow.DataType) bool { return t.ID() == arrow.DATE32 || t.ID() == arrow.TIMESTAMP }

// coerceScalar converts a constant to type to, for comparison with a column
// of that type. Strings are parsed; numbers are converted when the value
// fits.
func coerceScalar(v scalar.Scalar, to arrow.DataType, what string) (*expr.Literal, error) {
	if arrow.TypeEqual(v.DataType(), to) {
		return &expr.Literal{Value: v}, nil
	}
	if !v.IsValid() {
		return &expr.Literal{Value: scalar.MakeNullScalar(to)}, nil
	}
	if s, ok := v.(*scalar.String); ok {
		out, err := parseAs(s.String(), to)
		if err != nil {
			return nil, invalid("%s cannot be read as %s: %v", what, to, err)
		}
		return &expr.Literal{Value: out}, nil
	}
	if _, ok := v.(*scalar.Decimal128); ok && isInteger(to) {
		if n, ok := decimalAsInt(v); ok && intFits(scalar.NewInt64Scalar(n), to) {
			return coerceScalar(scalar.NewInt64Scalar(n), to, what)
		}
		return nil, invalid("%s is not an integer in the range of %s", what, to)
	}
	if d, ok := v.(*scalar.Decimal128); ok && isFloat(to) {
		// Through the decimal text: Num.ToFloat64 multiplies by a power of
		// ten and is off by an ulp (31.2 became 31.200000000000003).
		scale := d.Type.(*arrow.Decimal128Type).Scale
		f, err := strconv.ParseFloat(d.Value.ToString(scale), 64)
		if err != nil {
			f = d.Value.ToFloat64(scale)
		}
		if to.ID() == arrow.FLOAT32 {
			return &expr.Literal{Value: scalar.NewFloat32Scalar(float32(f))}, nil
		}
		return &expr.Literal{Value: scalar.NewFloat64Scalar(f)}, nil
	}
	if dt, ok := to.(*arrow.Decimal128Type); ok {
		if out, ok := toDecimal(v, dt); ok {
			return &expr.Literal{Value: out}, nil
		}
		if isNumeric(v.DataType()) {
			return nil, invalid("%s does not fit %s", what, to)
		}
	}
	if isInteger(v.DataType()) && isInteger(to) {
		n := toInt64(v)
		bits := to.(arrow.FixedWidthDataType).BitWidth()
		if bits < 64 && (n > int64(1)<<(bits-1)-1 || n < -(int64(1)<<(bits-1))) {
			// Out of the column's range: compare in 64 bits instead.
			return nil, invalid("%s is out of range for %s", what, to)
		}
	}
	out, err := v.CastTo(to)
	if err != nil {
		return nil, invalid("%s cannot be converted to %s: %v", what, to, err)
	}
	return &expr.Literal{Value: out}, nil
}

func toInt64(v scalar.Scalar) int64 {
	switch x := v.(type) {
	case *scalar.Int8:
		return int64(x.Value)
	case *scalar.Int16:
		return int64(x.Value)
	case *scalar.Int32:
		return int64(x.Value)
	case *scalar.Int64:
		return x.Value
	}
	return 0
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date/time (want YYYY-MM-DD[ HH:MM:SS[.ffffff][+HH:MM]])", s)
}

func parseAs(s string, to arrow.DataType) (scalar.Scalar, error) {
	switch dt := to.(type) {
	case *arrow.Date32Type:
		t, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		return scalar.NewDate32Scalar(arrow.Date32FromTime(t)), nil
	case *arrow.TimestampType:
		t, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		ts, err := arrow.TimestampFromTime(t, dt.Unit)
		if err != nil {
			return nil, err
		}
		return scalar.NewTimestampScalar(ts, dt), nil
	case *arrow.Time64Type:
		t, err := time.Parse("15:04:05.999999999", strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a time of day", s)
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
		if dt.Unit == arrow.Microsecond {
			return scalar.NewTime64Scalar(arrow.Time64(d.Microseconds()), dt), nil
		}
		return scalar.NewTime64Scalar(arrow.Time64(d.Nanoseconds()), dt), nil
	case *arrow.Decimal128Type:
		n, err := decimal128.FromString(strings.TrimSpace(s), dt.Precision, dt.Scale)
		if err != nil {
			return nil, err
		}
		return scalar.NewDecimal128Scalar(n, dt), nil
	case *arrow.BooleanType:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "on", "1":
			return scalar.NewBooleanScalar(true), nil
		case "f", "false", "no", "off", "0":
			return scalar.NewBooleanScalar(false), nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case *arrow.FixedSizeBinaryType:
		if dt.ByteWidth == 16 {
			if u, ok := parseUUID(s); ok {
				return scalar.NewFixedSizeBinaryScalar(memoryBuffer(u[:]), dt), nil
			}
		}
	}
	return scalar.ParseScalar(to, strings.TrimSpace(s))
}

func parseUUID(s string) ([16]byte, bool) {
	var out [16]byte
	h := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(h) != 32 {
		return out, false
	}
	for i := 0; i < 16; i++ {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return out, false
		}
		out[i] = byte(v)
	}
	return out, true
}

func constLiteral(c *pg.A_Const) (expr.Expr, error) {
	if c.GetIsnull() {
		return &expr.Literal{Value: scalar.MakeNullScalar(arrow.Null)}, nil
	}
	switch v := c.GetVal().(type) {
	case *pg.A_Const_Ival:
		return &expr.Literal{Value: scalar.NewInt64Scalar(int64(v.Ival.GetIval()))}, nil
	case *pg.A_Const_Fval:
		s := v.Fval.GetFval()
		if u := strings.ToLower(strings.TrimLeft(s, "+-")); strings.HasPrefix(u, "0x") || strings.HasPrefix(u, "0o") || strings.HasPrefix(u, "0b") {
			n, err := strconv.ParseInt(s, 0, 64)
			if err != nil {
				return nil, invalid("integer constant %s is out of range", s)
			}
			return &expr.Literal{Value: scalar.NewInt64Scalar(n)}, nil
		}
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return &expr.Literal{Value: scalar.NewInt64Scalar(n)}, nil
			}
		}
		if !strings.ContainsAny(s, "eE") {
			if d, ok := decimalLiteral(s); ok {
				return d, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, invalid("numeric constant %s is out of range", s)
		}
		return &expr.Literal{Value: scalar.NewFloat64Scalar(f)}, nil
	case *pg.A_Const_Boolval:
		return &expr.Literal{Value: scalar.NewBooleanScalar(v.Boolval.GetBoolval())}, nil
	case *pg.A_Const_Sval:
		return &expr.Literal{Value: scalar.NewStringScalar(v.Sval.GetSval())}, nil
	case *pg.A_Const_Bsval:
		return nil, unsupported("bit string constants")
	}
	return nil, unsupported("constant %v", c)
}

// sqlType maps a SQL type name to an Arrow type.
func sqlType(tn *pg.TypeName) (arrow.DataType, error) {
	var parts []string
	for _, n := range tn.GetNames() {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(tn.GetArrayBounds()) > 0 {
		return nil, unsupported("array types")
	}
	name := strings.ToLower(parts[len(parts)-1])
	var mods []int
	for _, m := range tn.GetTypmods() {
		if c := m.GetAConst(); c != nil {
			mods = append(mods, int(c.GetIval().GetIval()))
		}
	}
	switch name {
	case "bool", "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "int2", "smallint":
		return arrow.PrimitiveTypes.Int16, nil
	case "int4", "int", "integer":
		return arrow.PrimitiveTypes.Int32, nil
	case "int8", "bigint":
		return arrow.PrimitiveTypes.Int64, nil
	case "float4", "real":
		return arrow.PrimitiveTypes.Float32, nil
	case "float8", "double", "float":
		return arrow.PrimitiveTypes.Float64, nil
	case "numeric", "decimal":
		p, s := int32(38), int32(0)
		if len(mods) > 0 {
			p = int32(mods[0])
		}
		if len(mods) > 1 {
			s = int32(mods[1])
		}
		if p < 1 || p > 38 || s < 0 || s > p {
			return nil, invalid("decimal(%d,%d): precision must be 1..38 and scale 0..precision", p, s)
		}
		return &arrow.Decimal128Type{Precision: p, Scale: s}, nil
	case "text", "varchar", "char", "bpchar", "string":
		return arrow.BinaryTypes.String, nil
	case "bytea", "binary", "varbinary":
		return arrow.BinaryTypes.Binary, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	case "timestamptz":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "time":
		return arrow.FixedWidthTypes.Time64us, nil
	case "interval":
		return arrow.FixedWidthTypes.MonthDayNanoInterval, nil
	case "uuid":
		return &arrow.FixedSizeBinaryType{ByteWidth: 16}, nil
	}
	return nil, unsupported("type %s", strings.Join(parts, "."))
}

func (b *binder) limits(sel *pg.SelectStmt) (limit, offset int64, err error) {
	limit, offset = -1, 0
	if n := sel.GetLimitCount(); n != nil {
		if c := n.GetAConst(); c != nil && c.GetIsnull() {
			// LIMIT NULL / LIMIT ALL: no limit.
		} else if limit, err = b.intConst(n, "LIMIT"); err != nil {
			return
		}
	}
	if n := sel.GetLimitOffset(); n != nil {
		if offset, err = b.intConst(n, "OFFSET"); err != nil {
			return
		}
	}
	return
}

func (b *binder) intConst(n *pg.Node, what string) (int64, error) {
	e, err := b.operand(n, arrow.PrimitiveTypes.Int64)
	if err != nil {
		return 0, err
	}
	switch v := e.(type) {
	case *expr.Literal:
		if !v.Value.IsValid() {
			return -1, nil
		}
		if isInteger(v.DataType()) {
			if x := toInt64(v.Value); x >= 0 {
				return x, nil
			}
		}
	case *expr.Param:
		// Planned without values: any limit gives the same schema.
		return 0, nil
	}
	return 0, invalid("%s must be a non-negative integer, got %s", what, e)
}

// planConstant plans a SELECT without FROM (SELECT 1, used by clients to
// check a connection).
func (p *Planner) planConstant(st *stmt, sel *pg.SelectStmt, limit, offset int64) (*planned, error) {
	if sel.GetWhereClause() != nil {
		return nil, unsupported("WHERE without FROM")
	}
	b := newBinder(&scope{}, st)
	b.where = "a SELECT without FROM"
	items, err := b.selectList(sel.GetTargetList())
	if err != nil {
		return nil, err
	}
	for i := range items {
		if l, ok := items[i].e.(*expr.Literal); ok && l.DataType().ID() == arrow.NULL {
			items[i].e = &expr.Literal{Value: scalar.MakeNullScalar(arrow.BinaryTypes.String)}
		}
	}
	out := outputSchema(items, arrow.NewSchema(nil, nil))
	exprs := make([]expr.Expr, len(items))
	for i, it := range items {
		exprs[i] = it.e
	}
	rows := int64(1)
	if offset > 0 || limit == 0 {
		rows = 0
	}
	build := func(int, int) executor.Operator {
		var op executor.Operator = &executor.Values{Rows: rows, Output: arrow.NewSchema(nil, nil)}
		return &executor.Project{Input: op, Exprs: exprs, Output: out}
	}
	return &planned{schema: out, build: build, parts: 1}, nil
}

func explainQuery(q *Query) *Query { return textQuery(q, q.Explain()) }

// textQuery answers with text, one row per line: the plans EXPLAIN shows.
func textQuery(q *Query, text string) *Query {
	out := arrow.NewSchema([]arrow.Field{{Name: "plan", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return &Query{
		Schema:     out,
		ParamTypes: q.ParamTypes,
		Parts:      1,
		Snapshots:  q.Snapshots,
		root: func() executor.Operator {
			return &executor.Values{Output: out, Strings: lines}
		},
	}
}

func memoryBuffer(b []byte) *memory.Buffer { return memory.NewBufferBytes(append([]byte(nil), b...)) }

// subscript binds one step of element access: list[i] (1-based) or
// map['key'], or a field of a struct value.
func (b *binder) subscript(base expr.Expr, step *pg.Node) (expr.Expr, error) {
	if f := step.GetString_(); f != nil {
		return nil, unsupported("field access after a subscript (%s.%s)", base, f.GetSval())
	}
	ai := step.GetAIndices()
	if ai == nil {
		return nil, unsupported("this kind of element access")
	}
	if ai.GetIsSlice() {
		return nil, unsupported("array slices ([a:b])")
	}
	switch t := base.DataType().(type) {
	case *arrow.ListType:
		idx, err := b.operand(ai.GetUidx(), i64)
		if err != nil {
			return nil, err
		}
		if idx, err = castTo(idx, i64); err != nil {
			return nil, err
		}
		return &expr.Func{Name: "element_at", Args: []expr.Expr{base, idx}, Type: t.Elem()}, nil
	case *arrow.MapType:
		key, err := b.operand(ai.GetUidx(), t.KeyType())
		if err != nil {
			return nil, err
		}
		if key, err = castTo(key, t.KeyType()); err != nil {
			return nil, err
		}
		return &expr.Func{Name: "element_at", Args: []expr.Expr{base, key}, Type: t.ItemType()}, nil
	}
	return nil, invalid("cannot subscript %s of type %s", base, base.DataType())
}

// asDecimal is the decimal type that holds every value of an integer or
// decimal type exactly.
func asDecimal(t arrow.DataType) *arrow.Decimal128Type {
	switch t.ID() {
	case arrow.DECIMAL128:
		return t.(*arrow.Decimal128Type)
	case arrow.INT8:
		return &arrow.Decimal128Type{Precision: 3}
	case arrow.INT16:
		return &arrow.Decimal128Type{Precision: 5}
	case arrow.INT32:
		return &arrow.Decimal128Type{Precision: 10}
	}
	return &arrow.Decimal128Type{Precision: 19}
}

// commonDecimal is the narrowest decimal type that holds both types' values.
func commonDecimal(a, b *arrow.Decimal128Type) *arrow.Decimal128Type {
	scale := max(a.Scale, b.Scale)
	prec := max(a.Precision-a.Scale, b.Precision-b.Scale) + scale
	return &arrow.Decimal128Type{Precision: min(prec, 38), Scale: scale}
}

// decimalLiteral reads a numeric constant with a point as an exact decimal,
// as PostgreSQL does.
func decimalLiteral(s string) (expr.Expr, bool) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	intPart, frac, _ := strings.Cut(digits, ".")
	scale := int32(len(frac))
	prec := int32(len(intPart)) + scale
	if prec == 0 {
		prec = 1
	}
	if prec > 38 {
		return nil, false
	}
	n, err := decimal128.FromString(s, prec, scale)
	if err != nil {
		return nil, false
	}
	_ = neg
	return &expr.Literal{Value: scalar.NewDecimal128Scalar(n, &arrow.Decimal128Type{Precision: prec, Scale: scale})}, true
}

// toDecimal converts an integer, float or decimal constant to a decimal
// type exactly (floats round to the scale); false when it does not fit.
func toDecimal(v scalar.Scalar, dt *arrow.Decimal128Type) (scalar.Scalar, bool) {
	var n decimal128.Num
	switch x := v.(type) {
	case *scalar.Int8, *scalar.Int16, *scalar.Int32, *scalar.Int64:
		n = decimal128.FromI64(toInt64(v)).IncreaseScaleBy(dt.Scale)
	case *scalar.Float64:
		var err error
		if n, err = decimal128.FromFloat64(x.Value, dt.Precision, dt.Scale); err != nil {
			return nil, false
		}
	case *scalar.Decimal128:
		from := x.Type.(*arrow.Decimal128Type)
		var err error
		if n, err = x.Value.Rescale(from.Scale, dt.Scale); err != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	if !n.FitsInPrecision(dt.Precision) {
		return nil, false
	}
	return scalar.NewDecimal128Scalar(n, dt), true
}
