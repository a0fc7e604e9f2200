package planner

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// planSetOp plans UNION, INTERSECT and EXCEPT [ALL], with the ORDER BY and
// LIMIT that apply to the combined result.
func (p *Planner) planSetOp(ctx context.Context, st *stmt, sel *pg.SelectStmt) (*planned, error) {
	left, err := p.planSelect(ctx, st, sel.GetLarg(), nil)
	if err != nil {
		return nil, err
	}
	right, err := p.planSelect(ctx, st, sel.GetRarg(), nil)
	if err != nil {
		return nil, err
	}
	if err := st.finish(left, nil); err != nil {
		return nil, err
	}
	if err := st.finish(right, nil); err != nil {
		return nil, err
	}
	opName := map[pg.SetOperation]string{pg.SetOperation_SETOP_UNION: "UNION", pg.SetOperation_SETOP_INTERSECT: "INTERSECT", pg.SetOperation_SETOP_EXCEPT: "EXCEPT"}[sel.GetOp()]
	ln, rn := left.schema.NumFields(), right.schema.NumFields()
	if ln != rn {
		return nil, invalid("each %s query must have the same number of columns (%d and %d)", opName, ln, rn)
	}
	fields := make([]arrow.Field, ln)
	for i := range fields {
		lf, rf := left.schema.Field(i), right.schema.Field(i)
		t, err := setOpType(lf.Type, rf.Type)
		if err != nil {
			return nil, fmt.Errorf("%w: %s column %d (%s)", err, opName, i+1, lf.Name)
		}
		fields[i] = arrow.Field{Name: lf.Name, Type: t, Nullable: lf.Nullable || rf.Nullable}
	}
	out := arrow.NewSchema(fields, nil)
	lb, rb := castRelation(left, out), castRelation(right, out)
	all := sel.GetAll()
	build := func(int, int) executor.Operator {
		l, r := lb(), rb()
		op := func() executor.Operator {
			switch sel.GetOp() {
			case pg.SetOperation_SETOP_UNION:
				var op executor.Operator = &executor.Concat{Inputs: []executor.Operator{l, r}, Output: out}
				if !all {
					op = distinctOp(op, out)
				}
				return op
			case pg.SetOperation_SETOP_INTERSECT:
				return &executor.SetOp{Left: l, Right: r, Kind: executor.Intersect, All: all}
			default:
				return &executor.SetOp{Left: l, Right: r, Kind: executor.Except, All: all}
			}
		}()
		return st.m(op)
	}
	res := &planned{schema: out, build: build, parts: 1}
	return p.orderAndLimit(st, sel, res)
}

func distinctOp(op executor.Operator, s *arrow.Schema) executor.Operator {
	groups := make([]expr.Expr, s.NumFields())
	for i, f := range s.Fields() {
		groups[i] = &expr.Column{Index: i, Name: f.Name, Type: f.Type}
	}
	return &executor.HashAggregate{Input: op, Groups: groups, Output: s}
}

// setOpType is the type two columns of a set operation meet at.
func setOpType(a, b arrow.DataType) (arrow.DataType, error) {
	switch {
	case arrow.TypeEqual(a, b):
		return a, nil
	case a.ID() == arrow.NULL:
		return b, nil
	case b.ID() == arrow.NULL:
		return a, nil
	case isInteger(a) && isInteger(b):
		return i64, nil
	case isNumeric(a) && isNumeric(b):
		return f64, nil
	case isTemporal(a) && isTemporal(b):
		return tsUS, nil
	}
	return nil, invalid("types %s and %s cannot be matched", a, b)
}

// castRelation returns a builder of pl's operator with its columns cast to
// the types of out.
func castRelation(pl *planned, out *arrow.Schema) func() executor.Operator {
	exprs := make([]expr.Expr, out.NumFields())
	same := true
	for i, f := range pl.schema.Fields() {
		var e expr.Expr = &expr.Column{Index: i, Name: f.Name, Type: f.Type}
		if !arrow.TypeEqual(f.Type, out.Field(i).Type) {
			same = false
			e = &expr.Cast{X: e, To: out.Field(i).Type}
		}
		exprs[i] = e
	}
	if same {
		return func() executor.Operator { return pl.build(0, 1) }
	}
	return func() executor.Operator {
		return &executor.Project{Input: pl.build(0, 1), Exprs: exprs, Output: out}
	}
}

// orderAndLimit applies a set operation's ORDER BY, LIMIT and OFFSET,
// which may name output columns by name or position.
func (p *Planner) orderAndLimit(st *stmt, sel *pg.SelectStmt, in *planned) (*planned, error) {
	sc := &scope{}
	for _, f := range in.schema.Fields() {
		sc.cols = append(sc.cols, scopeCol{src: -1, field: f})
	}
	b := newBinder(sc, st)
	b.where = "ORDER BY"
	limit, offset, err := b.limits(sel)
	if err != nil {
		return nil, err
	}
	var keys []executor.SortKey
	for _, s := range sel.GetSortClause() {
		sb := s.GetSortBy()
		k, err := sortDirection(sb)
		if err != nil {
			return nil, err
		}
		n := sb.GetNode()
		if c := n.GetAConst(); c != nil && c.GetIval() != nil {
			pos := int(c.GetIval().GetIval())
			if pos < 1 || pos > in.schema.NumFields() {
				return nil, invalid("ORDER BY position %d is not in the select list (1..%d)", pos, in.schema.NumFields())
			}
			f := in.schema.Field(pos - 1)
			k.Expr = &expr.Column{Index: pos - 1, Name: f.Name, Type: f.Type}
		} else if k.Expr, err = b.valueExpr(n); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && limit < 0 && offset <= 0 {
		return in, nil
	}
	build := func(part, parts int) executor.Operator {
		op := in.build(0, 1)
		if len(keys) > 0 {
			return st.m(&executor.Sort{Input: op, Keys: keys, Limit: limit, Offset: max(offset, 0)})
		}
		n := limit
		if n < 0 {
			n = 1<<63 - 1
		}
		return st.m(&executor.Limit{Input: op, N: n, Offset: max(offset, 0)})
	}
	return &planned{schema: in.schema, build: build, parts: 1}, nil
}
