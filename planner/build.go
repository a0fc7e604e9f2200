package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// selectPlan builds the logical plan of one bound SELECT, as written: the
// FROM tree, one Filter with every WHERE conjunct (subqueries included),
// then aggregation, HAVING, windows, the projection, DISTINCT, ORDER BY and
// LIMIT. The rewrite rules move things from there.
func (p *Planner) selectPlan(st *stmt, root *rel, srcs []*source, sc *scope, bq *bound, corr *corrRequest, limit, offset int64, distinct bool) (*planned, error) {
	// A correlated subquery hands its correlation to the enclosing query.
	var where []expr.Expr
	var corrOuter, corrInner, corrResid []expr.Expr
	var conjuncts []expr.Expr
	for _, c := range expr.Conjuncts(bq.where) {
		conjuncts = append(conjuncts, factorOr(c)...)
	}
	conjuncts = append(conjuncts, impliedByOr(conjuncts, sc)...)
	for _, c := range conjuncts {
		if !hasOuter(c) {
			where = append(where, c)
			continue
		}
		if cmp, ok := c.(*expr.Compare); ok && cmp.Op == expr.Eq {
			switch {
			case isOuterOnly(cmp.L) && !hasOuter(cmp.R):
				corrOuter, corrInner = append(corrOuter, unOuter(cmp.L)), append(corrInner, cmp.R)
				continue
			case isOuterOnly(cmp.R) && !hasOuter(cmp.L):
				corrOuter, corrInner = append(corrOuter, unOuter(cmp.R)), append(corrInner, cmp.L)
				continue
			}
		}
		if corr == nil || corr.mode != subExists {
			return nil, unsupported("correlated condition %s (only equalities with outer columns)", c)
		}
		corrResid = append(corrResid, c)
	}
	for _, e := range append(append([]expr.Expr{}, bq.having), exprsOf(bq.items)...) {
		if e != nil && hasOuter(e) {
			return nil, unsupported("outer column references outside WHERE in a subquery")
		}
	}
	if corr != nil && corr.mode != subExists && len(corrInner) > 0 {
		// Group by the correlation keys and return them after the value.
		if bq.agg {
			if len(bq.groups) == 0 {
				// Without GROUP BY the subquery yields a row for an outer
				// row that no input row matches too (count(*) gives 0),
				// unless HAVING rejects it. Grouped by the correlation
				// keys, such an outer row finds no group and the enclosing
				// join supplies that row (empty); it cannot tell it from a
				// group that HAVING rejected.
				holds, known := havingOverNoRows(bq.having)
				switch {
				case !known || (holds && bq.having != nil):
					return nil, unsupported("HAVING that may hold over no rows in a correlated subquery without GROUP BY")
				case holds && len(bq.items) > 0:
					corr.info.empty = emptyGroupValue(bq.items[0].e)
					corr.info.oneRow = corr.info.empty != nil
				}
			}
			bq.groups = append(bq.groups, corrInner...)
		}
		keys := make([]expr.Expr, len(corrInner))
		for i, e := range corrInner {
			bq.items = append(bq.items, selectItem{name: fmt.Sprintf("_corr%d", i), e: e})
			keys[i] = &expr.Column{Index: len(bq.items) - 1, Name: fmt.Sprintf("_corr%d", i), Type: e.DataType()}
		}
		corr.info.outerKeys, corr.info.innerKeys = corrOuter, keys
		if bq.agg {
			// The enclosing join publishes its keys; only their groups
			// need computing.
			corr.info.keys = &keySlot{}
		}
		if limit >= 0 || offset > 0 || distinct {
			return nil, unsupported("LIMIT, OFFSET or DISTINCT in a correlated subquery")
		}
	}

	for _, on := range bq.on {
		if hasSub(on) {
			return nil, unsupported("subqueries in JOIN ... ON conditions (write the condition in WHERE)")
		}
	}
	var from func(r *rel) lnode
	from = func(r *rel) lnode {
		if r.src >= 0 {
			s := srcs[r.src]
			if s.derived == nil {
				return &lScan{src: s, out: s.full, limit: -1}
			}
			if s.derived.node != nil && s.derived.build == nil {
				return s.derived.node
			}
			return &lLeaf{pl: s.derived, label: s.alias}
		}
		l, rr := from(r.left), from(r.right)
		return &lJoin{left: l, right: rr, jt: r.jt, conds: expr.Conjuncts(bq.on[r]), out: joinSchema(r.jt, l.schema(), rr.schema())}
	}
	var n lnode = from(root)
	if corr != nil && corr.info.keys != nil {
		// Only the groups whose keys the enclosing query looks up.
		n = &lKeyFilter{in: n, keys: corrInner, slot: corr.info.keys}
	}
	if len(where) > 0 {
		n = &lFilter{in: n, conds: where}
	}
	q := &planned{parts: 1}
	if len(srcs) == 1 && srcs[0].derived == nil {
		s := srcs[0]
		q.source = catalog.ColumnSource{Catalog: p.cat.Name(), Schema: catalog.JoinNamespace(s.ident[:len(s.ident)-1]), Table: s.ident[len(s.ident)-1]}
	}
	if corr != nil && corr.mode == subExists {
		// EXISTS only asks whether rows match: return the FROM columns,
		// filtered, and let the enclosing query join on the correlation.
		if bq.agg || limit >= 0 || offset > 0 {
			return nil, unsupported("aggregates, LIMIT or OFFSET in an EXISTS subquery")
		}
		for _, c := range where {
			if err := checkSubqueryUse(c); err != nil {
				return nil, err
			}
		}
		corr.info.outerKeys, corr.info.innerKeys = corrOuter, corrInner
		if len(corrResid) > 0 {
			corr.info.residual = joinScope(expr.AndOf(corrResid), corr.outerWidth)
		}
		q.node, q.schema = n, n.schema()
		return q, nil
	}
	top, err := p.pipeline(bq, n, where, distinct, limit, offset)
	if err != nil {
		return nil, err
	}
	q.node, q.schema = top, top.schema()
	return q, nil
}

// checkSubqueryUse rejects EXISTS and IN subqueries anywhere but as a
// conjunct of WHERE (possibly negated).
func checkSubqueryUse(c expr.Expr) error {
	if sq, _ := asSemi(c); sq != nil {
		return nil
	}
	var bad error
	expr.Walk(c, func(x expr.Expr) bool {
		if sq, ok := x.(*subqueryExpr); ok && sq.kind != subScalar {
			bad = invalid("EXISTS and IN subqueries are only supported as conditions of WHERE joined by AND")
		}
		return true
	})
	return bad
}

// pipeline builds what runs above the FROM clause and its WHERE filter:
// aggregation, HAVING, windows, the projection, DISTINCT, ORDER BY and
// LIMIT.
func (p *Planner) pipeline(bq *bound, n lnode, where []expr.Expr, distinct bool, limit, offset int64) (lnode, error) {
	for _, c := range where {
		if err := checkSubqueryUse(c); err != nil {
			return nil, err
		}
	}
	for _, e := range append(append(exprsOf(bq.items), orderExprs(bq.order)...), bq.having) {
		if e == nil || !hasSub(e) {
			continue
		}
		if bq.agg {
			return nil, unsupported("correlated subqueries in aggregated select lists or HAVING")
		}
		if err := checkSubqueryUse(&expr.And{Args: []expr.Expr{e}}); err != nil {
			return nil, err
		}
	}
	items := bq.items
	having := bq.having
	order := bq.order
	cur := n.schema()
	if bq.agg {
		var aggs []*aggCall
		index := map[string]int{}
		collect := func(e expr.Expr) {
			walkAll(e, func(x expr.Expr) {
				if a, ok := x.(*aggCall); ok {
					if _, seen := index[exprKey(a)]; !seen {
						index[exprKey(a)] = len(aggs)
						aggs = append(aggs, a)
					}
				}
			})
		}
		for _, it := range items {
			collect(it.e)
		}
		collect(having)
		for _, o := range order {
			collect(o.e)
		}
		fields := make([]arrow.Field, 0, len(bq.groups)+len(aggs))
		for i, g := range bq.groups {
			name := fmt.Sprintf("group%d", i+1)
			if c, ok := g.(*expr.Column); ok {
				name = c.Name
			}
			fields = append(fields, arrow.Field{Name: name, Type: g.DataType(), Nullable: nullable(g, cur)})
		}
		specs := make([]executor.Agg, len(aggs))
		for i, a := range aggs {
			specs[i] = executor.Agg{Func: a.fn, Arg: a.arg, Distinct: a.distinct, Filter: a.filter, Sep: a.sep}
			fields = append(fields, arrow.Field{Name: a.String(), Type: a.typ, Nullable: a.fn != executor.AggCount})
		}
		aggSchema := arrow.NewSchema(fields, nil)
		// Aggregates with their own ORDER BY (string_agg) see rows in that
		// order: sort the input first. They must agree on the order.
		var aggOrder []executor.SortKey
		orderText := ""
		for _, a := range aggs {
			if len(a.order) == 0 {
				continue
			}
			t := fmt.Sprint(a.order)
			if aggOrder != nil && t != orderText {
				return nil, unsupported("aggregates with different ORDER BY clauses in one query")
			}
			aggOrder, orderText = a.order, t
		}
		if aggOrder != nil {
			n = &lSort{in: n, keys: aggOrder, limit: -1}
		}
		n = &lAggregate{in: n, groups: bq.groups, aggs: specs, out: aggSchema}
		rewrite := func(e expr.Expr, what string) (expr.Expr, error) {
			if e == nil {
				return nil, nil
			}
			var bad error
			out := rewriteAgg(e, bq.groups, index, aggSchema, &bad)
			if bad != nil {
				return nil, fmt.Errorf("%w (in %s)", bad, what)
			}
			return out, nil
		}
		var err error
		newItems := make([]selectItem, len(items))
		for i, it := range items {
			e, err := rewrite(it.e, "the select list")
			if err != nil {
				return nil, err
			}
			newItems[i] = selectItem{name: it.name, e: e}
		}
		items = newItems
		if having, err = rewrite(having, "HAVING"); err != nil {
			return nil, err
		}
		newOrder := make([]orderItem, len(order))
		for i, o := range order {
			newOrder[i] = o
			if o.e != nil {
				if newOrder[i].e, err = rewrite(o.e, "ORDER BY"); err != nil {
					return nil, err
				}
			}
		}
		order = newOrder
		cur = aggSchema
		if having != nil {
			n = &lFilter{in: n, conds: expr.Conjuncts(having)}
		}
	}

	// Window functions run after aggregation, before the projection.
	var wins []*winCall
	winIndex := map[string]int{}
	for _, e := range append(exprsOf(items), orderExprs(order)...) {
		walkAll(e, func(x expr.Expr) {
			if w, ok := x.(*winCall); ok {
				if _, seen := winIndex[exprKey(w)]; !seen {
					winIndex[exprKey(w)] = len(wins)
					wins = append(wins, w)
				}
			}
		})
	}
	if len(wins) > 0 {
		fields := append([]arrow.Field{}, cur.Fields()...)
		calls := make([]executor.WindowCall, len(wins))
		for i, w := range wins {
			calls[i] = w.call
			fields = append(fields, arrow.Field{Name: winName(i), Type: w.call.Type, Nullable: true})
		}
		winSchema := arrow.NewSchema(fields, nil)
		base := cur.NumFields()
		n = &lWindow{in: n, calls: calls, out: winSchema}
		toCol := func(e expr.Expr) expr.Expr {
			if e == nil {
				return nil
			}
			return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
				if w, ok := x.(*winCall); ok {
					k := winIndex[exprKey(w)]
					return &expr.Column{Index: base + k, Name: w.String(), Type: w.call.Type}
				}
				return x
			})
		}
		newItems := make([]selectItem, len(items))
		for i, it := range items {
			newItems[i] = selectItem{name: it.name, e: toCol(it.e)}
		}
		items = newItems
		newOrder := make([]orderItem, len(order))
		for i, o := range order {
			newOrder[i] = o
			newOrder[i].e = toCol(o.e)
		}
		order = newOrder
		cur = winSchema
	}

	// Projection, with hidden columns for ORDER BY expressions that are not
	// in the select list.
	exprs := make([]expr.Expr, len(items))
	for i, it := range items {
		exprs[i] = it.e
	}
	visible := len(exprs)
	var keys []executor.SortKey
	for _, o := range order {
		pos := o.pos
		if pos < 0 {
			for i, e := range exprs[:visible] {
				if exprKey(e) == exprKey(o.e) {
					pos = i
					break
				}
			}
		}
		if pos < 0 {
			if distinct {
				return nil, invalid("for SELECT DISTINCT, ORDER BY expressions must appear in the select list (%s)", o.e)
			}
			exprs = append(exprs, o.e)
			pos = len(exprs) - 1
		}
		keys = append(keys, executor.SortKey{Desc: o.desc, NullsFirst: o.nullsFirst,
			Expr: &expr.Column{Index: pos, Name: fmt.Sprint(pos + 1), Type: exprs[pos].DataType()}})
	}
	projFields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		name := fmt.Sprintf("_order%d", i)
		if i < visible {
			name = items[i].name
		}
		projFields[i] = arrow.Field{Name: name, Type: e.DataType(), Nullable: nullable(e, cur)}
	}
	proj := arrow.NewSchema(projFields, nil)
	n = &lProject{in: n, exprs: exprs, out: proj}
	if distinct {
		n = &lDistinct{in: n}
	}
	if len(keys) > 0 {
		n = &lSort{in: n, keys: keys, limit: -1}
	}
	if limit >= 0 || offset > 0 {
		l := limit
		if l < 0 {
			l = noLimit
		}
		n = &lLimit{in: n, n: l, offset: max(offset, 0)}
	}
	if len(exprs) > visible {
		final := make([]expr.Expr, visible)
		for i := range final {
			final[i] = &expr.Column{Index: i, Name: proj.Field(i).Name, Type: proj.Field(i).Type}
		}
		n = &lProject{in: n, exprs: final, out: arrow.NewSchema(proj.Fields()[:visible], nil)}
	}
	return n, nil
}
