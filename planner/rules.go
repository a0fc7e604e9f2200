package planner

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// rule is one rewrite of a logical plan. Each takes the whole plan and
// returns the rewritten plan; it leaves alone what it does not apply to.
type rule struct {
	name  string
	apply func(st *stmt, n lnode) (lnode, error)
}

// rules run in this order, each once, over the plan of a statement (and
// of each WITH query and uncorrelated scalar subquery, which are planned on
// their own). Decorrelation comes first so that the others see only
// joins; projections are pushed last because they renumber columns.
var rules = []rule{
	{"decorrelate", decorrelate},
	{"fold_constants", foldConstants},
	{"push_filters", pushFilters},
	{"push_limits", pushLimits},
	{"push_projections", pushProjections},
}

// optimize applies the rules in order. trace, when set, sees the plan
// before the first rule and after each.
func (st *stmt) optimize(n lnode, trace func(rule string, n lnode)) (lnode, error) {
	if trace != nil {
		trace("", n)
	}
	for _, r := range rules {
		var err error
		if n, err = r.apply(st, n); err != nil {
			return nil, err
		}
		if trace != nil {
			trace(r.name, n)
		}
	}
	return n, nil
}

// transformUp rewrites the inputs of n first, then n itself.
func transformUp(n lnode, fn func(lnode) (lnode, error)) (lnode, error) {
	ins := n.inputs()
	if len(ins) > 0 {
		out := make([]lnode, len(ins))
		changed := false
		for i, in := range ins {
			var err error
			if out[i], err = transformUp(in, fn); err != nil {
				return nil, err
			}
			changed = changed || out[i] != in
		}
		if changed {
			n = n.withInputs(out)
		}
	}
	return fn(n)
}

// nodeOf is the logical plan of a planned relation: its own tree when it
// is not lowered yet, else a leaf.
func nodeOf(pl *planned, label string) lnode {
	if pl.node != nil && pl.build == nil {
		return pl.node
	}
	return &lLeaf{pl: pl, label: label}
}

// ---- decorrelate ----

// decorrelate turns subqueries in filters and projections into joins:
// EXISTS and IN into semi joins, NOT EXISTS and NOT IN into anti joins
// (null-aware for NOT IN), a correlated scalar subquery (there, in the
// value an IN tests, or in an aggregate, GROUP BY or window function) into
// a left join with the subquery grouped by its correlation keys. The keys
// themselves were found while the subquery was bound (its equalities with
// outer columns, moved into its GROUP BY and output).
func decorrelate(st *stmt, n lnode) (lnode, error) {
	return transformUp(n, func(n lnode) (lnode, error) {
		switch x := n.(type) {
		case *lFilter:
			width := x.in.schema().NumFields()
			in := x.in
			var rest []expr.Expr
			for _, c := range x.conds {
				sq, neg := asSemi(c)
				if sq == nil {
					rest = append(rest, c)
					continue
				}
				right, err := decorrelate(st, nodeOf(sq.plan, "subquery"))
				if err != nil {
					return nil, err
				}
				lk, rk := semiKeys(sq)
				// A correlated scalar subquery in the tested value ((SELECT
				// count(*) ...) IN (SELECT ...)) joins the left side first.
				for i := range lk {
					if lk[i], in, err = joinScalars(st, lk[i], in); err != nil {
						return nil, err
					}
				}
				// The residual reads the subquery's columns after the outer
				// ones: after the columns those joins added, if any.
				conds := expr.Conjuncts(sq.residual)
				if added := in.schema().NumFields() - width; added > 0 {
					for i, c := range conds {
						conds[i] = shiftFrom(c, width, added)
					}
				}
				jt := executor.SemiJoin
				if neg {
					jt = executor.AntiJoin
				}
				in = &lJoin{left: in, right: right, jt: jt, lkeys: lk, rkeys: rk, conds: conds,
					buildLeft: sq.kind == subExists && len(lk) > 0, nullAware: neg && sq.kind == subIn, out: in.schema()}
			}
			var err error
			for i, c := range rest {
				if rest[i], in, err = joinScalars(st, c, in); err != nil {
					return nil, err
				}
			}
			var out lnode = in
			if len(rest) > 0 {
				out = &lFilter{in: in, conds: rest}
			}
			if in.schema().NumFields() != width {
				out = narrow(out, width)
			}
			return out, nil
		case *lProject:
			in := x.in
			exprs := make([]expr.Expr, len(x.exprs))
			for i, e := range x.exprs {
				var err error
				if exprs[i], in, err = joinScalars(st, e, in); err != nil {
					return nil, err
				}
			}
			if in == x.in {
				return x, nil
			}
			return &lProject{in: in, exprs: exprs, out: x.out}, nil
		case *lAggregate:
			// (SELECT ...) inside an aggregate's argument or FILTER, or in
			// GROUP BY: the joined columns feed the aggregation, whose
			// output stays the same. They join below the sort that orders
			// string_agg's input, if any.
			base := x.in
			sorted, isSort := base.(*lSort)
			if isSort {
				base = sorted.in
			}
			in := base
			var err error
			join := func(e expr.Expr) expr.Expr {
				if err == nil {
					e, in, err = joinScalars(st, e, in)
				}
				return e
			}
			c := *x
			c.groups = make([]expr.Expr, len(x.groups))
			for i, g := range x.groups {
				c.groups[i] = join(g)
			}
			c.aggs = make([]executor.Agg, len(x.aggs))
			for i, a := range x.aggs {
				a.Arg, a.Filter = join(a.Arg), join(a.Filter)
				c.aggs[i] = a
			}
			if err != nil {
				return nil, err
			}
			if in == base {
				return x, nil
			}
			if isSort {
				s := *sorted
				s.in = in
				in = &s
			}
			c.in = in
			return &c, nil
		case *lWindow:
			// (SELECT ...) inside a window function: the window reads the
			// joined columns, and a projection drops them again.
			in := x.in
			var err error
			join := func(e expr.Expr) expr.Expr {
				if err == nil {
					e, in, err = joinScalars(st, e, in)
				}
				return e
			}
			calls := make([]executor.WindowCall, len(x.calls))
			for i, w := range x.calls {
				calls[i] = mapWindowCall(w, join)
			}
			if err != nil {
				return nil, err
			}
			if in == x.in {
				return x, nil
			}
			inW, joinedW := x.in.schema().NumFields(), in.schema().NumFields()
			w := &lWindow{in: in, calls: calls,
				out: arrow.NewSchema(append(append([]arrow.Field{}, in.schema().Fields()...), x.out.Fields()[inW:]...), nil)}
			exprs := make([]expr.Expr, x.out.NumFields())
			for i, f := range x.out.Fields() {
				idx := i
				if i >= inW {
					idx = joinedW + i - inW
				}
				exprs[i] = &expr.Column{Index: idx, Name: f.Name, Type: f.Type}
			}
			return &lProject{in: w, exprs: exprs, out: x.out}, nil
		}
		return n, nil
	})
}

// shiftFrom moves the columns of e at index from and above by delta.
func shiftFrom(e expr.Expr, from, delta int) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.Column); ok && c.Index >= from {
			n := *c
			n.Index += delta
			return &n
		}
		return x
	})
}

// joinScalars replaces each correlated scalar subquery in e by a column
// that a left join of in with the grouped subquery adds.
func joinScalars(st *stmt, e expr.Expr, in lnode) (expr.Expr, lnode, error) {
	var bad error
	out := expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		sq, ok := x.(*subqueryExpr)
		if !ok || sq.kind != subScalar || bad != nil {
			return x
		}
		right, err := decorrelate(st, nodeOf(sq.plan, "subquery"))
		if err != nil {
			bad = err
			return x
		}
		base := in.schema().NumFields()
		in = &lJoin{left: in, right: right, jt: executor.LeftJoin, lkeys: sq.outerKeys, rkeys: sq.innerKeys, publish: sq.keys,
			out: joinSchema(executor.LeftJoin, in.schema(), right.schema())}
		var col expr.Expr = &expr.Column{Index: base, Name: sq.text, Type: sq.typ}
		if sq.empty != nil {
			// No group for the outer row: the subquery aggregated no rows.
			k := sq.innerKeys[0].(*expr.Column)
			key := &expr.Column{Index: base + k.Index, Name: k.Name, Type: k.Type}
			col = &expr.Case{Whens: []expr.When{{Cond: &expr.IsNull{X: key}, Then: sq.empty}}, Else: col, Type: sq.typ}
		}
		return col
	})
	return out, in, bad
}

// narrow projects the first width columns of n.
func narrow(n lnode, width int) lnode {
	s := n.schema()
	exprs := make([]expr.Expr, width)
	for i := range exprs {
		f := s.Field(i)
		exprs[i] = &expr.Column{Index: i, Name: f.Name, Type: f.Type}
	}
	return &lProject{in: n, exprs: exprs, out: arrow.NewSchema(s.Fields()[:width], nil)}
}

// ---- fold_constants ----

// foldConstants evaluates every expression without columns or parameters
// once, at planning, and simplifies AND/OR lists with constant terms. A
// filter left with only TRUE goes away. An expression that fails to
// evaluate (1/0) is left for execution to report.
func foldConstants(st *stmt, n lnode) (lnode, error) {
	return transformUp(n, func(n lnode) (lnode, error) {
		return mapExprs(n, foldExpr), nil
	})
}

func foldExpr(e expr.Expr) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		switch y := x.(type) {
		case *expr.Literal:
			return x
		case *expr.And:
			return foldAnd(y)
		case *expr.Or:
			return foldOr(y)
		}
		kids := expr.Children(x)
		if len(kids) == 0 {
			return x
		}
		for _, k := range kids {
			if _, ok := k.(*expr.Literal); !ok {
				return x
			}
		}
		if v, ok := evalConst(x); ok {
			return &expr.Literal{Value: v}
		}
		return x
	})
}

func boolLit(e expr.Expr) (val, valid, ok bool) {
	l, isLit := e.(*expr.Literal)
	if !isLit || l.Value.DataType().ID() != arrow.BOOL {
		return false, false, false
	}
	if !l.Value.IsValid() {
		return false, false, true
	}
	return l.Value.(*scalar.Boolean).Value, true, true
}

func litBool(v bool) expr.Expr { return &expr.Literal{Value: scalar.NewBooleanScalar(v)} }

// foldAnd drops TRUE terms; a FALSE term makes the whole FALSE, unless
// another term holds a constant that failed to evaluate (1 % 0): that term
// stays, beside the FALSE, so that execution still reports its error.
func foldAnd(a *expr.And) expr.Expr { return foldLogic(a.Args, false) }

// foldOr drops FALSE terms; a TRUE term makes the whole TRUE, with the same
// exception as foldAnd.
func foldOr(o *expr.Or) expr.Expr { return foldLogic(o.Args, true) }

// foldLogic simplifies the terms of an AND (absorb false) or an OR (absorb
// true): terms equal to the neutral value go, a term equal to absorb
// decides the whole.
func foldLogic(args []expr.Expr, absorb bool) expr.Expr {
	var keep []expr.Expr
	decided := false
	for _, t := range args {
		if v, valid, ok := boolLit(t); ok && valid {
			decided = decided || v == absorb
			continue
		}
		keep = append(keep, t)
	}
	if decided {
		var failing []expr.Expr
		for _, t := range keep {
			if failedConst(t) {
				failing = append(failing, t)
			}
		}
		if len(failing) == 0 {
			return litBool(absorb)
		}
		keep = append(failing, litBool(absorb))
	}
	switch len(keep) {
	case 0:
		return litBool(!absorb)
	case 1:
		return keep[0]
	}
	if absorb {
		return &expr.Or{Args: keep}
	}
	return &expr.And{Args: keep}
}

// failedConst reports whether e holds an expression over constants only
// that foldExpr left as it was: one whose evaluation failed at planning.
func failedConst(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.Literal, *expr.And, *expr.Or:
			return !found
		}
		kids := expr.Children(x)
		if len(kids) == 0 {
			return !found
		}
		for _, k := range kids {
			if _, ok := k.(*expr.Literal); !ok {
				return !found
			}
		}
		found = true
		return false
	})
	return found
}

var noColumns = arrow.NewSchema(nil, nil)

// evalConst evaluates a constant expression over one empty row.
func evalConst(e expr.Expr) (scalar.Scalar, bool) {
	batch := array.NewRecordBatch(noColumns, nil, 1)
	defer batch.Release()
	arr, err := executor.Eval(context.Background(), e, batch)
	if err != nil {
		return nil, false
	}
	defer arr.Release()
	if arr.Len() != 1 || !arrow.TypeEqual(arr.DataType(), e.DataType()) {
		return nil, false
	}
	v, err := scalar.GetScalar(arr, 0)
	if err != nil {
		return nil, false
	}
	return v, true
}

// mapExprs returns n with fn applied to each of its expressions, and
// conjunct lists simplified: TRUE terms dropped, a filter left with none
// removed.
func mapExprs(n lnode, fn func(expr.Expr) expr.Expr) lnode {
	list := func(es []expr.Expr) []expr.Expr {
		if es == nil {
			return nil
		}
		out := make([]expr.Expr, len(es))
		for i, e := range es {
			out[i] = fn(e)
		}
		return out
	}
	conds := func(es []expr.Expr) []expr.Expr {
		var out []expr.Expr
		for _, e := range es {
			e = fn(e)
			if v, valid, ok := boolLit(e); ok && valid && v {
				continue
			}
			out = append(out, expr.Conjuncts(e)...)
		}
		return out
	}
	switch x := n.(type) {
	case *lScan:
		c := *x
		c.filters, c.keys = conds(x.filters), list(x.keys)
		return &c
	case *lFilter:
		c := conds(x.conds)
		if len(c) == 0 {
			return x.in
		}
		return &lFilter{in: x.in, conds: c}
	case *lKeyFilter:
		return &lKeyFilter{in: x.in, keys: list(x.keys), slot: x.slot}
	case *lProject:
		return &lProject{in: x.in, exprs: list(x.exprs), out: x.out}
	case *lJoin:
		c := *x
		c.conds, c.lkeys, c.rkeys = conds(x.conds), list(x.lkeys), list(x.rkeys)
		return &c
	case *lAggregate:
		c := *x
		c.groups = list(x.groups)
		c.aggs = make([]executor.Agg, len(x.aggs))
		for i, a := range x.aggs {
			if a.Arg != nil {
				a.Arg = fn(a.Arg)
			}
			if a.Filter != nil {
				a.Filter = fn(a.Filter)
			}
			c.aggs[i] = a
		}
		return &c
	case *lWindow:
		c := *x
		c.calls = make([]executor.WindowCall, len(x.calls))
		for i, w := range x.calls {
			c.calls[i] = mapWindowCall(w, fn)
		}
		return &c
	case *lSort:
		c := *x
		c.keys = mapSortKeys(x.keys, fn)
		return &c
	}
	return n
}

func mapSortKeys(keys []executor.SortKey, fn func(expr.Expr) expr.Expr) []executor.SortKey {
	out := make([]executor.SortKey, len(keys))
	for i, k := range keys {
		k.Expr = fn(k.Expr)
		out[i] = k
	}
	return out
}

func mapWindowCall(w executor.WindowCall, fn func(expr.Expr) expr.Expr) executor.WindowCall {
	if w.Arg != nil {
		w.Arg = fn(w.Arg)
	}
	if w.Default != nil {
		w.Default = fn(w.Default)
	}
	pb := make([]expr.Expr, len(w.PartitionBy))
	for i, e := range w.PartitionBy {
		pb[i] = fn(e)
	}
	w.PartitionBy = pb
	w.OrderBy = mapSortKeys(w.OrderBy, fn)
	return w
}

// ---- push_limits ----

// pushLimits turns a LIMIT over ORDER BY into a top-N sort, moves LIMIT
// below projections and, over a scan without filters, into the scan, so
// that it stops reading once it has the rows.
func pushLimits(st *stmt, n lnode) (lnode, error) {
	return transformUp(n, func(n lnode) (lnode, error) {
		l, ok := n.(*lLimit)
		if !ok {
			return n, nil
		}
		return limitInto(l), nil
	})
}

func limitInto(l *lLimit) lnode {
	switch in := l.in.(type) {
	case *lSort:
		if in.limit >= 0 || in.offset > 0 {
			return l
		}
		c := *in
		c.limit, c.offset = l.n, l.offset
		if l.n == noLimit {
			c.limit = -1
		}
		return &c
	case *lProject:
		return &lProject{in: limitInto(&lLimit{in: in.in, n: l.n, offset: l.offset}), exprs: in.exprs, out: in.out}
	case *lScan:
		if len(in.filters) > 0 || len(in.keys) > 0 || l.n == noLimit || in.limit >= 0 {
			return l
		}
		c := *in
		c.limit = l.n + l.offset
		return &lLimit{in: &c, n: l.n, offset: l.offset}
	}
	return l
}
