package planner

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go/table"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// source is one table of a FROM clause.
type source struct {
	derived *planned // a subquery or CTE instead of a table
	tbl     *table.Table
	ident   table.Identifier
	key     string // dotted identifier, the key of Query.Snapshots
	alias   string
	snap    int64
	full    *arrow.Schema // every column
	schema  *arrow.Schema // the columns the query reads (second pass)
	fields  []string      // field paths read; nil for all
	quals   []string
	asOf    bool // snap comes from a FOR ... AS OF clause
	// procTime: FOR SYSTEM_TIME AS OF a column, a lookup join at
	// processing time (the latest snapshot the lookup manager holds).
	procTime bool
}

// rel is a node of the FROM tree: a table or a join of two subtrees. Its
// columns are the contiguous range [lo, hi) of the FROM scope.
type rel struct {
	src         int // for a table, else -1
	left, right *rel
	jt          executor.JoinType
	on          *pg.Node
	using       []string
	lo, hi      int
}

// fromClause resolves the tables of FROM into sources and a join tree. Items
// separated by commas are cross joins, left to right.
func (p *Planner) fromClause(ctx context.Context, st *stmt, items []*pg.Node, outer *binder) (*rel, []*source, error) {
	var srcs []*source
	var build func(n *pg.Node) (*rel, error)
	build = func(n *pg.Node) (*rel, error) {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			if rv.GetSchemaname() == "" && rv.GetCatalogname() == "" {
				if cte := st.cte(rv.GetRelname()); cte != nil {
					alias := rv.GetRelname()
					sch := cte.schema
					if a := rv.GetAlias(); a != nil && a.GetAliasname() != "" {
						alias = a.GetAliasname()
						var err error
						if sch, err = renameColumns(sch, a); err != nil {
							return nil, err
						}
					}
					srcs = append(srcs, &source{derived: cte, alias: alias, full: sch, schema: sch, quals: []string{alias}})
					return &rel{src: len(srcs) - 1}, nil
				}
			}
			if base, meta, ok := splitMetaTable(rv.GetRelname()); ok {
				// A metadata table: "t$snapshots".
				brv := &pg.RangeVar{Catalogname: rv.GetCatalogname(), Schemaname: rv.GetSchemaname(), Relname: base}
				tbl, ident, err := p.resolveTable(ctx, brv, st.req.Session)
				if err != nil {
					return nil, err
				}
				sub, err := metaTable(ctx, tbl, strings.Join(ident, "."), meta)
				if err != nil {
					return nil, err
				}
				alias, sch := rv.GetRelname(), sub.schema
				if a := rv.GetAlias(); a != nil && a.GetAliasname() != "" {
					alias = a.GetAliasname()
					if sch, err = renameColumns(sch, a); err != nil {
						return nil, err
					}
				}
				srcs = append(srcs, &source{derived: sub, alias: alias, full: sch, schema: sch, quals: []string{alias}})
				return &rel{src: len(srcs) - 1}, nil
			}
			tbl, ident, err := p.resolveTable(ctx, rv, st.req.Session)
			if err != nil {
				return nil, err
			}
			key := strings.Join(ident, ".")
			full, err := catalog.ArrowSchema(tbl.Schema())
			if err != nil {
				return nil, err
			}
			alias := ident[len(ident)-1]
			quals := []string{alias, key}
			if a := rv.GetAlias(); a != nil && a.GetAliasname() != "" {
				alias = a.GetAliasname()
				if len(a.GetColnames()) > 0 {
					return nil, unsupported("column aliases in FROM (%s(...))", alias)
				}
				quals = []string{alias}
			}
			src := &source{tbl: tbl, ident: ident, key: key, alias: alias, snap: st.req.Snapshots[key], full: full, quals: quals}
			if c, ok := st.asOf[int(rv.GetLocation())]; ok && c.procTime {
				src.procTime = true
				st.asOfUsed[int(rv.GetLocation())] = true
			} else if ok {
				// Time travel: the clause names the snapshot, the same
				// one whenever the statement is planned again.
				if src.snap, err = asOfSnapshot(tbl, key, c, time.UTC); err != nil {
					return nil, err
				}
				src.asOf = true
				st.asOfUsed[int(rv.GetLocation())] = true
			}
			srcs = append(srcs, src)
			return &rel{src: len(srcs) - 1}, nil
		case n.GetJoinExpr() != nil:
			je := n.GetJoinExpr()
			if je.GetIsNatural() {
				return nil, unsupported("NATURAL JOIN")
			}
			l, err := build(je.GetLarg())
			if err != nil {
				return nil, err
			}
			r, err := build(je.GetRarg())
			if err != nil {
				return nil, err
			}
			out := &rel{src: -1, left: l, right: r, on: je.GetQuals()}
			switch je.GetJointype() {
			case pg.JoinType_JOIN_INNER:
				out.jt = executor.InnerJoin
			case pg.JoinType_JOIN_LEFT:
				out.jt = executor.LeftJoin
			case pg.JoinType_JOIN_RIGHT:
				out.jt = executor.RightJoin
			case pg.JoinType_JOIN_FULL:
				out.jt = executor.FullJoin
			default:
				return nil, unsupported("join type %s", je.GetJointype())
			}
			for _, u := range je.GetUsingClause() {
				out.using = append(out.using, u.GetString_().GetSval())
			}
			if je.GetAlias() != nil {
				return nil, unsupported("an alias on a JOIN")
			}
			return out, nil
		case n.GetRangeSubselect() != nil:
			rs := n.GetRangeSubselect()
			if rs.GetLateral() {
				return nil, unsupported("LATERAL")
			}
			a := rs.GetAlias()
			if a == nil || a.GetAliasname() == "" {
				return nil, invalid("a subquery in FROM must have an alias")
			}
			sub, err := p.planNode(ctx, st, rs.GetSubquery(), nil)
			if err != nil {
				return nil, err
			}
			sch, err := renameColumns(sub.schema, a)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, &source{derived: sub, alias: a.GetAliasname(), full: sch, schema: sch, quals: []string{a.GetAliasname()}})
			return &rel{src: len(srcs) - 1}, nil
		case n.GetRangeFunction() != nil:
			rf := n.GetRangeFunction()
			var fc *pg.FuncCall
			if fs := rf.GetFunctions(); len(fs) == 1 {
				if items := fs[0].GetList().GetItems(); len(items) > 0 {
					fc = items[0].GetFuncCall()
				}
			}
			if fc == nil || rf.GetLateral() || rf.GetOrdinality() || len(fc.GetFuncname()) != 1 ||
				!strings.EqualFold(fc.GetFuncname()[0].GetString_().GetSval(), "table_changes") {
				return nil, unsupported("table function in FROM (lakeflight has table_changes)")
			}
			sub, _, err := p.tableChanges(ctx, st, fc)
			if err != nil {
				return nil, err
			}
			alias := "table_changes"
			sch := sub.schema
			if a := rf.GetAlias(); a != nil && a.GetAliasname() != "" {
				alias = a.GetAliasname()
				if sch, err = renameColumns(sch, a); err != nil {
					return nil, err
				}
			}
			srcs = append(srcs, &source{derived: sub, alias: alias, full: sch, schema: sch, quals: []string{alias}})
			return &rel{src: len(srcs) - 1}, nil
		}
		return nil, unsupported("FROM item %s", stmtName(n))
	}
	var root *rel
	for _, it := range items {
		r, err := build(it)
		if err != nil {
			return nil, nil, err
		}
		if root == nil {
			root = r
		} else {
			root = &rel{src: -1, left: root, right: r, jt: executor.InnerJoin}
		}
	}
	return root, srcs, nil
}

// layout assigns column ranges to the FROM tree for the given per-source
// schemas and returns the scope of all columns.
func layout(r *rel, srcs []*source, schemaOf func(*source) *arrow.Schema) *scope {
	sc := &scope{}
	var walk func(r *rel)
	walk = func(r *rel) {
		r.lo = len(sc.cols)
		if r.src >= 0 {
			s := srcs[r.src]
			for _, f := range schemaOf(s).Fields() {
				sc.cols = append(sc.cols, scopeCol{src: r.src, quals: s.quals, field: f})
			}
		} else {
			walk(r.left)
			walk(r.right)
			if r.jt == executor.LeftJoin || r.jt == executor.FullJoin {
				makeNullable(sc, r.right.lo, r.right.hi)
			}
			if r.jt == executor.RightJoin || r.jt == executor.FullJoin {
				makeNullable(sc, r.left.lo, r.left.hi)
			}
		}
		r.hi = len(sc.cols)
	}
	walk(r)
	return sc
}

func makeNullable(sc *scope, lo, hi int) {
	for i := lo; i < hi; i++ {
		sc.cols[i].field.Nullable = true
	}
}

// sub is the scope of the columns of r, indexed from 0.
func sub(sc *scope, r *rel) *scope { return &scope{cols: sc.cols[r.lo:r.hi]} }

// mergeUsing records the USING columns of every join of the tree.
func mergeUsing(r *rel, sc *scope) {
	if r == nil || r.src >= 0 {
		return
	}
	mergeUsing(r.left, sc)
	mergeUsing(r.right, sc)
	for _, u := range r.using {
		l, _ := (&scope{cols: sc.cols[r.left.lo:r.left.hi]}).lookup("", u)
		rr, _ := (&scope{cols: sc.cols[r.right.lo:r.right.hi]}).lookup("", u)
		if len(l) != 1 || len(rr) != 1 {
			continue
		}
		sc.merged = append(sc.merged, mergedCol{name: u, left: r.left.lo + l[0], right: r.right.lo + rr[0],
			full: r.jt == executor.FullJoin, rightWins: r.jt == executor.RightJoin})
	}
}

// bound is a SELECT bound against one scope.
type bound struct {
	items  []selectItem
	where  expr.Expr
	on     map[*rel]expr.Expr // join conditions, over the join's own columns
	groups []expr.Expr
	having expr.Expr
	order  []orderItem
	agg    bool
}

type orderItem struct {
	pos        int       // output column, or -1
	e          expr.Expr // otherwise, over the pre-projection scope
	desc       bool
	nullsFirst bool
}

func (p *Planner) bindSelect(b *binder, sel *pg.SelectStmt, root *rel) (*bound, error) {
	out := &bound{on: map[*rel]expr.Expr{}}
	var err error
	// Join conditions.
	var bindOn func(r *rel) error
	bindOn = func(r *rel) error {
		if r.src >= 0 {
			return nil
		}
		if err := bindOn(r.left); err != nil {
			return err
		}
		if err := bindOn(r.right); err != nil {
			return err
		}
		full := b.sc
		b.sc = sub(full, r)
		defer func() { b.sc = full }()
		b.where = "JOIN conditions"
		var conds []expr.Expr
		for _, u := range r.using {
			l, err := (&scope{cols: full.cols[r.left.lo:r.left.hi]}).resolve([]string{u}, 0)
			if err != nil {
				return fmt.Errorf("USING (%s): %w", u, err)
			}
			rr, err := (&scope{cols: full.cols[r.right.lo:r.right.hi]}).resolve([]string{u}, 0)
			if err != nil {
				return fmt.Errorf("USING (%s): %w", u, err)
			}
			rr.Index += r.right.lo - r.lo
			l.Index += r.left.lo - r.lo
			lu, ru, err := b.unifyPair(l, rr)
			if err != nil {
				return err
			}
			conds = append(conds, &expr.Compare{Op: expr.Eq, L: lu, R: ru})
		}
		if r.on != nil {
			e, err := b.boolExpr(r.on)
			if err != nil {
				return err
			}
			conds = append(conds, e)
		}
		if len(conds) > 0 {
			out.on[r] = expr.AndOf(conds)
		}
		return nil
	}
	if err := bindOn(root); err != nil {
		return nil, err
	}
	if w := sel.GetWhereClause(); w != nil {
		b.where = "WHERE"
		if out.where, err = b.boolExpr(w); err != nil {
			return nil, err
		}
	}
	b.aggOK, b.winOK, b.where = true, true, "the select list"
	if b.existsOnly {
		// EXISTS ignores what its subquery selects: bind nothing, so that
		// SELECT * reads no column.
	} else if out.items, err = b.selectList(sel.GetTargetList()); err != nil {
		return nil, err
	}
	b.aggOK, b.winOK, b.where = false, false, "GROUP BY"
	for _, g := range sel.GetGroupClause() {
		e, err := b.groupItem(g, sel.GetTargetList(), out.items)
		if err != nil {
			return nil, err
		}
		out.groups = append(out.groups, e)
	}
	b.aggOK, b.where = true, "HAVING"
	if h := sel.GetHavingClause(); h != nil {
		if out.having, err = b.boolExpr(h); err != nil {
			return nil, err
		}
	}
	b.where, b.winOK = "ORDER BY", true
	for _, s := range sel.GetSortClause() {
		sb := s.GetSortBy()
		dir, err := sortDirection(sb)
		if err != nil {
			return nil, err
		}
		oi := orderItem{pos: -1, desc: dir.Desc, nullsFirst: dir.NullsFirst}
		n := sb.GetNode()
		if c := n.GetAConst(); c != nil && c.GetIval() != nil {
			k := int(c.GetIval().GetIval())
			if k < 1 || k > len(out.items) {
				return nil, invalid("ORDER BY position %d is not in the select list (1..%d)", k, len(out.items))
			}
			oi.pos = k - 1
		} else if cr := n.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && cr.GetFields()[0].GetString_() != nil {
			name := cr.GetFields()[0].GetString_().GetSval()
			for i, it := range out.items {
				if it.name == name {
					oi.pos = i
					break
				}
			}
		}
		if oi.pos < 0 {
			if oi.e, err = b.valueExpr(n); err != nil {
				return nil, err
			}
		}
		out.order = append(out.order, oi)
	}
	b.aggOK, b.winOK = false, false
	out.agg = len(out.groups) > 0 || out.having != nil
	for _, it := range out.items {
		out.agg = out.agg || hasAgg(it.e)
	}
	for _, o := range out.order {
		out.agg = out.agg || hasAgg(o.e)
	}
	return out, nil
}

// groupItem binds a GROUP BY term: a select-list position, a select-list
// alias, or an expression over the input.
func (b *binder) groupItem(g *pg.Node, targets []*pg.Node, items []selectItem) (expr.Expr, error) {
	if c := g.GetAConst(); c != nil && c.GetIval() != nil {
		k := int(c.GetIval().GetIval())
		if k < 1 || k > len(items) {
			return nil, invalid("GROUP BY position %d is not in the select list (1..%d)", k, len(items))
		}
		if hasAgg(items[k-1].e) {
			return nil, invalid("GROUP BY position %d refers to an aggregate", k)
		}
		return items[k-1].e, nil
	}
	if cr := g.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && cr.GetFields()[0].GetString_() != nil {
		name := cr.GetFields()[0].GetString_().GetSval()
		if idx, _ := b.sc.lookup("", name); len(idx) == 0 {
			for _, it := range items {
				if it.name == name && !hasAgg(it.e) {
					return it.e, nil
				}
			}
		}
	}
	if g.GetGroupingSet() != nil {
		return nil, unsupported("GROUPING SETS / ROLLUP / CUBE")
	}
	return b.valueExpr(g)
}

func hasAgg(e expr.Expr) bool {
	found := false
	walkAll(e, func(x expr.Expr) {
		if _, ok := x.(*aggCall); ok {
			found = true
		}
	})
	return found
}

func (p *Planner) planSelect(ctx context.Context, st *stmt, sel *pg.SelectStmt, outer *binder) (*planned, error) {
	// A correlation request applies to this SELECT only, not to the
	// queries nested in it.
	corr := st.corr
	st.corr = nil
	defer func() { st.corr = corr }()
	if corr == nil {
		outer = nil
	}
	if w := sel.GetWithClause(); w != nil {
		pop, err := p.withClause(ctx, st, w)
		if err != nil {
			return nil, err
		}
		defer pop()
	}
	if sel.GetOp() != pg.SetOperation_SETOP_NONE && sel.GetOp() != pg.SetOperation_SET_OPERATION_UNDEFINED {
		return p.planSetOp(ctx, st, sel)
	}
	switch {
	case len(sel.GetValuesLists()) > 0:
		return p.planValues(st, sel)
	case len(sel.GetWindowClause()) > 0:
		return nil, unsupported("WINDOW")
	case sel.GetIntoClause() != nil:
		return nil, unsupported("SELECT INTO")
	case len(sel.GetLockingClause()) > 0:
		return nil, unsupported("FOR UPDATE/SHARE")
	}
	pb := newBinder(&scope{}, st)
	limit, offset, err := pb.limits(sel)
	if err != nil {
		return nil, err
	}
	distinct := len(sel.GetDistinctClause()) > 0
	if distinct && sel.GetDistinctClause()[0] != nil && len(sel.GetDistinctClause()) >= 1 {
		for _, d := range sel.GetDistinctClause() {
			if d != nil && d.GetNode() != nil {
				return nil, unsupported("DISTINCT ON")
			}
		}
	}
	if len(sel.GetFromClause()) == 0 {
		if len(sel.GetGroupClause()) > 0 || sel.GetHavingClause() != nil || len(sel.GetSortClause()) > 0 || distinct {
			return nil, unsupported("GROUP BY, HAVING, ORDER BY or DISTINCT without FROM")
		}
		return p.planConstant(st, sel, limit, offset)
	}
	root, srcs, err := p.fromClause(ctx, st, sel.GetFromClause(), outer)
	if err != nil {
		return nil, err
	}

	// Bind against every column of the FROM clause; push_projections
	// later narrows each scan to the fields the plan reads.
	sc := layout(root, srcs, func(s *source) *arrow.Schema { return s.full })
	mergeUsing(root, sc)
	b := newBinder(sc, st)
	b.outer = outer
	b.existsOnly = corr != nil && corr.mode == subExists
	bq, err := p.bindSelect(b, sel, root)
	if err != nil {
		return nil, err
	}
	return p.selectPlan(st, root, srcs, sc, bq, corr, limit, offset, distinct)
}

// within reports whether every column of e lies in [lo, hi).
func within(e expr.Expr, lo, hi int) bool {
	for _, c := range expr.Columns(e) {
		if c < lo || c >= hi {
			return false
		}
	}
	return true
}

// splitJoinKeys turns a join's conjuncts into equality keys (left column
// expression = right column expression) and a residual. rightStart is
// where the right side's columns begin in the join's row.
func splitJoinKeys(conds []expr.Expr, rightStart int) (lk, rk []expr.Expr, residual expr.Expr) {
	var rest []expr.Expr
	for _, c := range conds {
		cmp, ok := c.(*expr.Compare)
		if ok && cmp.Op == expr.Eq {
			lOnLeft := within(cmp.L, 0, rightStart) && len(expr.Columns(cmp.L)) > 0
			rOnRight := within(cmp.R, rightStart, 1<<30) && len(expr.Columns(cmp.R)) > 0
			lOnRight := within(cmp.L, rightStart, 1<<30) && len(expr.Columns(cmp.L)) > 0
			rOnLeft := within(cmp.R, 0, rightStart) && len(expr.Columns(cmp.R)) > 0
			switch {
			case lOnLeft && rOnRight:
				lk, rk = append(lk, cmp.L), append(rk, expr.Shift(cmp.R, -rightStart))
				continue
			case lOnRight && rOnLeft:
				lk, rk = append(lk, cmp.R), append(rk, expr.Shift(cmp.L, -rightStart))
				continue
			}
		}
		rest = append(rest, c)
	}
	return lk, rk, expr.AndOf(rest)
}

// rewriteAgg maps an expression over the aggregate's input onto its
// output: group expressions and aggregate calls become columns; any other
// column reference is an error.
func rewriteAgg(e expr.Expr, groups []expr.Expr, aggIndex map[string]int, out *arrow.Schema, bad *error) expr.Expr {
	key := exprKey(e)
	for i, g := range groups {
		if exprKey(g) == key {
			return &expr.Column{Index: i, Name: out.Field(i).Name, Type: out.Field(i).Type}
		}
	}
	if a, ok := e.(*aggCall); ok {
		i := len(groups) + aggIndex[exprKey(a)]
		return &expr.Column{Index: i, Name: a.String(), Type: a.typ}
	}
	if w, ok := e.(*winCall); ok {
		return mapWin(w, func(x expr.Expr) expr.Expr { return rewriteAgg(x, groups, aggIndex, out, bad) })
	}
	if c, ok := e.(*expr.Column); ok {
		if *bad == nil {
			*bad = invalid("column %s must appear in the GROUP BY clause or be used in an aggregate function", c.Name)
		}
		return e
	}
	kids := expr.Children(e)
	if len(kids) == 0 {
		return e
	}
	newKids := make([]expr.Expr, len(kids))
	for i, k := range kids {
		newKids[i] = rewriteAgg(k, groups, aggIndex, out, bad)
	}
	return expr.WithChildren(e, newKids)
}

// cte finds a common table expression in scope, innermost first.
func (st *stmt) cte(name string) *planned {
	for i := len(st.ctes) - 1; i >= 0; i-- {
		if c, ok := st.ctes[i][name]; ok {
			*c.refs++
			return c
		}
		for n, c := range st.ctes[i] {
			if strings.EqualFold(n, name) {
				*c.refs++
				return c
			}
		}
	}
	return nil
}

// withClause plans the CTEs of a WITH clause, in order (each may use the
// ones before it), and returns a function that takes them out of scope.
func (p *Planner) withClause(ctx context.Context, st *stmt, w *pg.WithClause) (func(), error) {
	if w.GetRecursive() {
		return nil, unsupported("WITH RECURSIVE")
	}
	scope := map[string]*planned{}
	st.ctes = append(st.ctes, scope)
	pop := func() { st.ctes = st.ctes[:len(st.ctes)-1] }
	for _, c := range w.GetCtes() {
		cte := c.GetCommonTableExpr()
		pl, err := p.planNode(ctx, st, cte.GetCtequery(), nil)
		if err != nil {
			pop()
			return nil, fmt.Errorf("in WITH %s: %w", cte.GetCtename(), err)
		}
		if err := st.finish(pl, nil); err != nil {
			pop()
			return nil, fmt.Errorf("in WITH %s: %w", cte.GetCtename(), err)
		}
		if cols := cte.GetAliascolnames(); len(cols) > 0 {
			sch, err := renameColumns(pl.schema, &pg.Alias{Aliasname: cte.GetCtename(), Colnames: cols})
			if err != nil {
				pop()
				return nil, err
			}
			renamed := *pl
			renamed.schema = sch
			pl = &renamed
		}
		scope[cte.GetCtename()] = sharedCTE(pl, cte.GetCtename())
	}
	return pop, nil
}

// sharedCTE wraps a WITH query's plan so that, when the statement reads it
// more than once, it is computed once and its rows handed to each reader.
// A WITH query read once streams as before.
func sharedCTE(pl *planned, name string) *planned {
	refs := 0
	mat := &executor.Materialized{Build: func() executor.Operator { return pl.build(0, 1) }, Output: pl.schema, Label: name}
	out := *pl
	out.refs = &refs
	out.build = func(part, parts int) executor.Operator {
		if refs < 2 {
			return pl.build(part, parts)
		}
		return mat.Reader()
	}
	return &out
}

func hasOuter(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		if _, ok := x.(*outerRef); ok {
			found = true
		}
		return !found
	})
	return found
}

func exprsOf(items []selectItem) []expr.Expr {
	out := make([]expr.Expr, len(items))
	for i, it := range items {
		out[i] = it.e
	}
	return out
}

func orderExprs(order []orderItem) []expr.Expr {
	var out []expr.Expr
	for _, o := range order {
		if o.e != nil {
			out = append(out, o.e)
		}
	}
	return out
}

// renameColumns applies the column aliases of a FROM alias (t(a, b)) to a
// derived table's schema.
func renameColumns(s *arrow.Schema, a *pg.Alias) (*arrow.Schema, error) {
	names := a.GetColnames()
	if len(names) == 0 {
		return s, nil
	}
	if len(names) > s.NumFields() {
		return nil, invalid("%s has %d columns but %d column aliases", a.GetAliasname(), s.NumFields(), len(names))
	}
	fields := append([]arrow.Field{}, s.Fields()...)
	for i, n := range names {
		fields[i].Name = n.GetString_().GetSval()
	}
	return arrow.NewSchema(fields, nil), nil
}

// planValues plans a VALUES list: each row is a projection of constants
// over one empty row, and the rows are concatenated.
func (p *Planner) planValues(st *stmt, sel *pg.SelectStmt) (*planned, error) {
	b := newBinder(&scope{}, st)
	b.where = "VALUES"
	var rows [][]expr.Expr
	width := -1
	for _, l := range sel.GetValuesLists() {
		items := l.GetList().GetItems()
		if width >= 0 && len(items) != width {
			return nil, invalid("VALUES lists must all be the same length (%d and %d)", width, len(items))
		}
		width = len(items)
		row := make([]expr.Expr, len(items))
		for i, it := range items {
			e, err := b.valueExpr(it)
			if err != nil {
				return nil, err
			}
			row[i] = e
		}
		rows = append(rows, row)
	}
	fields := make([]arrow.Field, width)
	for c := 0; c < width; c++ {
		col := make([]expr.Expr, len(rows))
		for r := range rows {
			col[r] = rows[r][c]
		}
		t, err := commonType(col)
		if err != nil {
			return nil, fmt.Errorf("VALUES column %d: %w", c+1, err)
		}
		for r := range rows {
			if rows[r][c], err = castTo(rows[r][c], t); err != nil {
				return nil, err
			}
		}
		fields[c] = arrow.Field{Name: fmt.Sprintf("column%d", c+1), Type: t, Nullable: true}
	}
	out := arrow.NewSchema(fields, nil)
	empty := arrow.NewSchema(nil, nil)
	build := func(int, int) executor.Operator {
		inputs := make([]executor.Operator, len(rows))
		for r, row := range rows {
			inputs[r] = &executor.Project{Input: &executor.Values{Rows: 1, Output: empty}, Exprs: row, Output: out}
		}
		return st.m(&executor.Concat{Inputs: inputs, Output: out})
	}
	res := &planned{schema: out, build: build, parts: 1}
	return p.orderAndLimit(st, sel, res)
}

// factorOr pulls the conjuncts that every branch of an OR shares out of it:
// (a AND b) OR (a AND c) becomes a AND (b OR c), so a join condition or a
// filter written inside each branch can still be used as one.
func factorOr(e expr.Expr) []expr.Expr {
	or, ok := e.(*expr.Or)
	if !ok || len(or.Args) < 2 {
		return []expr.Expr{e}
	}
	branches := make([][]expr.Expr, len(or.Args))
	for i, a := range or.Args {
		branches[i] = expr.Conjuncts(a)
	}
	var common []expr.Expr
	for _, c := range branches[0] {
		key := exprKey(c)
		inAll := true
		for _, br := range branches[1:] {
			found := false
			for _, x := range br {
				if exprKey(x) == key {
					found = true
					break
				}
			}
			if !found {
				inAll = false
				break
			}
		}
		if inAll {
			common = append(common, c)
		}
	}
	if len(common) == 0 {
		return []expr.Expr{e}
	}
	isCommon := func(x expr.Expr) bool {
		for _, c := range common {
			if exprKey(c) == exprKey(x) {
				return true
			}
		}
		return false
	}
	var rest []expr.Expr
	for _, br := range branches {
		var kept []expr.Expr
		for _, x := range br {
			if !isCommon(x) {
				kept = append(kept, x)
			}
		}
		if len(kept) == 0 {
			// One branch is just the common part: the OR adds nothing.
			return common
		}
		rest = append(rest, expr.AndOf(kept))
	}
	return append(common, &expr.Or{Args: rest})
}

// exprKey identifies an expression structurally: like its text, but with
// every column named by its index, so that columns of the same name from
// different tables never compare equal.
func exprKey(e expr.Expr) string {
	if e == nil {
		return ""
	}
	var mark func(x expr.Expr) expr.Expr
	mark = func(x expr.Expr) expr.Expr {
		switch v := x.(type) {
		case *expr.Column:
			c := *v
			c.Name = fmt.Sprintf("#%d%v", v.Index, v.Path)
			return &c
		case *aggCall:
			a := *v
			if a.arg != nil {
				a.arg = expr.Rewrite(a.arg, mark)
			}
			if a.filter != nil {
				a.filter = expr.Rewrite(a.filter, mark)
			}
			a.order = append([]executor.SortKey(nil), v.order...)
			for i := range a.order {
				a.order[i].Expr = expr.Rewrite(a.order[i].Expr, mark)
			}
			return &a
		case *winCall:
			return mapWin(v, func(y expr.Expr) expr.Expr { return expr.Rewrite(y, mark) })
		case *outerRef:
			return &outerRef{col: &expr.Column{Index: v.col.Index, Path: v.col.Path, Type: v.col.Type, Name: fmt.Sprintf("outer#%d%v", v.col.Index, v.col.Path)}}
		case *subqueryExpr:
			// Every subquery of a kind prints alike: tell them apart by
			// their text (and an IN's tested value).
			s := *v
			s.text = fmt.Sprintf("subquery(%d %v %s: %s)", v.kind, v.negate, exprKey(v.test), v.sql)
			return &s
		}
		return x
	}
	return expr.Rewrite(e, mark).String()
}

func allInner(r *rel) bool {
	if r.src >= 0 {
		return true
	}
	return r.jt == executor.InnerJoin && allInner(r.left) && allInner(r.right)
}

// joinStep is one table of a greedy join order and the conditions that
// become checkable once it is joined (over absolute scope indexes).
type joinStep struct {
	leaf  *rel
	conds []expr.Expr
	// sats are tables joined into the leaf before it is hashed: each is
	// connected to the leaf alone and shrinks it (a filtered dimension of
	// the leaf), so the hash table holds only rows that can still match.
	sats []joinStep
	eff  float64 // a satellite's estimated rows after its own satellites
	// rows estimates the result after this step.
	rows float64
}

// greedyOrder orders the tables of an inner-join tree. The largest table
// (by estimated rows after its filters) streams through the joins; then,
// repeatedly, it joins the table connected by equalities to those joined so
// far that gives the cheapest step: the fewest estimated result rows plus
// the rows hashed. A join's result is estimated as the product of the two
// sides' rows divided by the larger count of distinct key values of the two
// sides. A table with no connection comes only when none is left,
// smallest first.
func greedyOrder(root *rel, pl *placer, rows []float64, ndv func(col int) float64) []joinStep {
	leaves, conds := joinConds(root, pl)
	return orderLeaves(leaves, conds, rows, ndv)
}

// joinConds lists the tables of an inner-join tree and the conditions of
// its joins, over the scope's columns.
func joinConds(root *rel, pl *placer) ([]*rel, []expr.Expr) {
	var leaves []*rel
	var conds []expr.Expr
	var walk func(r *rel)
	walk = func(r *rel) {
		if r.src >= 0 {
			leaves = append(leaves, r)
			return
		}
		walk(r.left)
		walk(r.right)
		for _, c := range pl.joins[r] {
			conds = append(conds, expr.Shift(c, r.lo))
		}
	}
	walk(root)
	return leaves, conds
}

// orderLeaves is greedyOrder over tables and conditions (over the scope's
// columns).
func orderLeaves(leaves []*rel, conds []expr.Expr, rows []float64, ndv func(col int) float64) []joinStep {
	in := func(c expr.Expr, joined map[*rel]bool, extra *rel) bool {
		for _, i := range expr.Columns(c) {
			ok := false
			for l := range joined {
				if i >= l.lo && i < l.hi {
					ok = true
				}
			}
			if extra != nil && i >= extra.lo && i < extra.hi {
				ok = true
			}
			if !ok {
				return false
			}
		}
		return true
	}
	connects := func(c expr.Expr, joined map[*rel]bool, l *rel) bool {
		cmp, ok := c.(*expr.Compare)
		if !ok || cmp.Op != expr.Eq {
			return false
		}
		side := func(e expr.Expr) int { // 1 joined, 2 leaf, 0 mixed or none
			cols := expr.Columns(e)
			if len(cols) == 0 {
				return 0
			}
			if in(e, joined, nil) {
				return 1
			}
			if within(e, l.lo, l.hi) {
				return 2
			}
			return 0
		}
		a, b := side(cmp.L), side(cmp.R)
		return (a == 1 && b == 2) || (a == 2 && b == 1)
	}
	start := 0
	for i, l := range leaves {
		if rows[l.src] > rows[leaves[start].src] {
			start = i
		}
	}
	joined := map[*rel]bool{leaves[start]: true}
	used := make([]bool, len(conds))
	steps := []joinStep{{leaf: leaves[start], rows: rows[leaves[start].src]}}
	card := rows[leaves[start].src]
	// Distinct values of the joined columns, capped by the rows joined.
	dv := map[int]float64{}
	colNDV := func(e expr.Expr, bound float64) float64 {
		c, ok := e.(*expr.Column)
		if !ok {
			return bound
		}
		if d, ok := dv[c.Index]; ok {
			return math.Min(d, bound)
		}
		return math.Min(ndv(c.Index), bound)
	}
	for len(joined) < len(leaves) {
		var best *rel
		bestConnected := false
		var bestCost, bestOut float64
		for _, l := range leaves {
			if joined[l] {
				continue
			}
			// Several equalities with one table divide by the distinct
			// combinations on each side, which no side has more of than
			// rows (partsupp's (partkey, suppkey) pairs are its rows).
			conn := false
			joinedNDV, leafNDV := 1.0, 1.0
			for i, c := range conds {
				if !used[i] && connects(c, joined, l) {
					conn = true
					cmp := c.(*expr.Compare)
					lside, rside := cmp.L, cmp.R
					if within(lside, l.lo, l.hi) {
						lside, rside = rside, lside
					}
					joinedNDV *= colNDV(lside, card)
					leafNDV *= colNDV(rside, rows[l.src])
				}
			}
			joinedNDV, leafNDV = math.Min(joinedNDV, card), math.Min(leafNDV, rows[l.src])
			out := card * rows[l.src] / math.Max(math.Max(joinedNDV, leafNDV), 1)
			// Satellites the table would take along shrink what it adds.
			hashed := rows[l.src]
			if conn {
				j2 := maps.Clone(joined)
				u2 := slices.Clone(used)
				for _, sat := range satellites(l, leaves, j2, conds, u2, rows, ndv) {
					f := satShrink(l, sat, sat.eff, rows, ndv)
					out, hashed = out*f, hashed*f
				}
			}
			cost := out + hashed
			switch {
			case best == nil, conn && !bestConnected, conn == bestConnected && cost < bestCost:
				best, bestConnected, bestCost, bestOut = l, conn, cost, out
			}
		}
		card = math.Max(bestOut, 1)
		for i := best.lo; i < best.hi; i++ {
			dv[i] = math.Min(ndv(i), rows[best.src])
		}
		for i := range dv {
			dv[i] = math.Min(dv[i], card)
		}
		step := joinStep{leaf: best, rows: card}
		if len(steps) > 0 {
			// (bestOut already counts their shrinking.)
			step.sats = satellites(best, leaves, joined, conds, used, rows, ndv)
		}
		for i, c := range conds {
			if !used[i] && in(c, joined, best) {
				used[i] = true
				step.conds = append(step.conds, c)
			}
		}
		joined[best] = true
		steps = append(steps, step)
	}
	return steps
}

// satellites picks, for a table about to be hashed, the unjoined tables
// that hang off it alone and shrink it: each is connected to it by
// equalities, has no equality with a table already joined, and its other
// equality neighbours hang off it in turn (customer with its nation,
// filtered to two rows, hanging off orders). Each such tree whose join
// with the table is estimated to keep at most half its rows is joined into
// the table before it is hashed. Their conditions are marked used.
func satellites(leaf *rel, leaves []*rel, joined map[*rel]bool, conds []expr.Expr, used []bool, rows []float64, ndv func(int) float64) []joinStep {
	var sats []joinStep
	for _, d := range leaves {
		if d == leaf || joined[d] || len(equalities(d, leaf, conds, used)) == 0 {
			continue
		}
		visiting := map[*rel]bool{leaf: true}
		sat, eff, ok := hang(d, leaf, leaves, joined, conds, used, rows, ndv, visiting)
		if !ok || satShrink(leaf, sat, eff, rows, ndv) > 0.5 {
			continue
		}
		var mark func(s joinStep)
		mark = func(s joinStep) {
			joined[s.leaf] = true
			for i, c := range conds {
				for _, sc := range s.conds {
					if c == sc {
						used[i] = true
					}
				}
			}
			for _, k := range s.sats {
				mark(k)
			}
		}
		mark(sat)
		sat.eff = eff
		sats = append(sats, sat)
	}
	return sats
}

// equalities are the unused equality conditions between a column
// expression of a and one of b.
func equalities(a, b *rel, conds []expr.Expr, used []bool) []expr.Expr {
	var out []expr.Expr
	for i, c := range conds {
		cmp, ok := c.(*expr.Compare)
		if used[i] || !ok || cmp.Op != expr.Eq || len(expr.Columns(cmp.L)) == 0 || len(expr.Columns(cmp.R)) == 0 {
			continue
		}
		if (within(cmp.L, a.lo, a.hi) && within(cmp.R, b.lo, b.hi)) || (within(cmp.L, b.lo, b.hi) && within(cmp.R, a.lo, a.hi)) {
			out = append(out, c)
		}
	}
	return out
}

// hang builds the tree of tables hanging off parent through d: d, joined
// to parent by equalities, and recursively each other table d is joined
// to by equalities. It fails when one of them has an equality with a table
// already joined or the tables form a cycle. eff estimates d's rows after
// the joins below it.
func hang(d, parent *rel, leaves []*rel, joined map[*rel]bool, conds []expr.Expr, used []bool, rows []float64, ndv func(int) float64, visiting map[*rel]bool) (joinStep, float64, bool) {
	visiting[d] = true
	step := joinStep{leaf: d, conds: equalities(d, parent, conds, used)}
	eff := rows[d.src]
	// An equality with a table already joined would be a join key of the
	// step itself; other conditions wait until all their tables are in.
	for _, o := range leaves {
		if o != parent && joined[o] && len(equalities(d, o, conds, used)) > 0 {
			return step, 0, false
		}
	}
	for _, e := range leaves {
		if e == d || e == parent || joined[e] || len(equalities(d, e, conds, used)) == 0 {
			continue
		}
		if visiting[e] {
			return step, 0, false
		}
		child, ceff, ok := hang(e, d, leaves, joined, conds, used, rows, ndv, visiting)
		if !ok {
			return step, 0, false
		}
		eff *= satShrink(d, child, ceff, rows, ndv)
		step.sats = append(step.sats, child)
	}
	return step, math.Max(eff, 1), true
}

// satShrink estimates the fraction of leaf's rows that its join with a
// satellite (of eff rows after its own satellites) keeps.
func satShrink(leaf *rel, sat joinStep, eff float64, rows []float64, ndv func(int) float64) float64 {
	leafNDV, satNDV := 1.0, 1.0
	for _, c := range sat.conds {
		cmp := c.(*expr.Compare)
		l, r := cmp.L, cmp.R
		if within(l, sat.leaf.lo, sat.leaf.hi) {
			l, r = r, l
		}
		if col, ok := l.(*expr.Column); ok {
			leafNDV *= ndv(col.Index)
		} else {
			leafNDV *= rows[leaf.src]
		}
		if col, ok := r.(*expr.Column); ok {
			satNDV *= ndv(col.Index)
		} else {
			satNDV *= rows[sat.leaf.src]
		}
	}
	leafNDV = math.Min(leafNDV, rows[leaf.src])
	satNDV = math.Min(satNDV, rows[sat.leaf.src])
	// The satellite's distinct keys shrink with its rows.
	satKeys := math.Min(satNDV, eff)
	return math.Min(satKeys/math.Max(math.Max(leafNDV, satNDV), 1), 1)
}

// buildGreedy builds the hash joins of a greedy order and projects the
// columns back into the scope's order.
//
// The tables of lookups are joined last, by lookup joins, in order; notes
// say why a table was hashed rather than looked up.
func buildGreedy(st *stmt, sc *scope, steps []joinStep, leafOp func(*rel) executor.Operator, lookups []lookupStep, notes map[*rel]string) executor.Operator {
	pos := map[int]int{} // scope index -> column of the current result
	var fields []arrow.Field
	add := func(l *rel) {
		for i := l.lo; i < l.hi; i++ {
			pos[i] = len(fields)
			fields = append(fields, sc.cols[i].field)
		}
	}
	remap := func(e expr.Expr, m map[int]int) expr.Expr {
		return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
			if c, ok := x.(*expr.Column); ok {
				n := *c
				n.Index = m[c.Index]
				return &n
			}
			return x
		})
	}
	op := leafOp(steps[0].leaf)
	add(steps[0].leaf)
	for _, stp := range steps[1:] {
		l := stp.leaf
		leftWidth := len(fields)
		// Columns of the new table (and its satellites), relative to it
		// (for its keys) and after the joined ones (for the residual).
		relPos := map[int]int{}
		var relFields []arrow.Field
		addRel := func(r *rel) {
			for i := r.lo; i < r.hi; i++ {
				relPos[i] = len(relFields)
				relFields = append(relFields, sc.cols[i].field)
			}
		}
		right, members := buildSatellites(st, sc, stp, leafOp, remap)
		for _, m := range members {
			addRel(m)
		}
		joinedPos := map[int]int{}
		for k, v := range pos {
			joinedPos[k] = v
		}
		for k, v := range relPos {
			joinedPos[k] = leftWidth + v
		}
		var lk, rk, rest []expr.Expr
		for _, c := range stp.conds {
			if cmp, ok := c.(*expr.Compare); ok && cmp.Op == expr.Eq {
				lIn, rIn := within(cmp.L, l.lo, l.hi), within(cmp.R, l.lo, l.hi)
				lOut := len(expr.Columns(cmp.L)) > 0 && !anyWithin(cmp.L, l.lo, l.hi)
				rOut := len(expr.Columns(cmp.R)) > 0 && !anyWithin(cmp.R, l.lo, l.hi)
				switch {
				case lOut && rIn && len(expr.Columns(cmp.R)) > 0:
					lk, rk = append(lk, remap(cmp.L, pos)), append(rk, remap(cmp.R, relPos))
					continue
				case rOut && lIn && len(expr.Columns(cmp.L)) > 0:
					lk, rk = append(lk, remap(cmp.R, pos)), append(rk, remap(cmp.L, relPos))
					continue
				}
			}
			rest = append(rest, remap(c, joinedPos))
		}
		for _, m := range members {
			add(m)
		}
		out := arrow.NewSchema(append([]arrow.Field{}, fields...), nil)
		op = st.m(&executor.HashJoin{Workers: st.p.opts.Parallelism, Left: op, Right: right, Type: executor.InnerJoin, LeftKeys: lk, RightKeys: rk,
			Residual: expr.AndOf(rest), Output: out, Note: notes[l]})
	}
	for _, lu := range lookups {
		l := lu.leaf
		keys := make([]expr.Expr, len(lu.keys))
		for i, k := range lu.keys {
			keys[i] = remap(k, pos)
		}
		width := len(fields)
		joinedPos := maps.Clone(pos)
		for i := l.lo; i < l.hi; i++ {
			joinedPos[i] = width + i - l.lo
		}
		rest := make([]expr.Expr, len(lu.conds))
		for i, c := range lu.conds {
			rest[i] = remap(c, joinedPos)
		}
		add(l)
		out := arrow.NewSchema(append([]arrow.Field{}, fields...), nil)
		op = st.lookupOp(lu.dim, lu.choice, op, executor.InnerJoin, keys, expr.AndOf(rest), out)
	}
	// Back to the scope's column order for everything above.
	exprs := make([]expr.Expr, len(sc.cols))
	for i, c := range sc.cols {
		exprs[i] = &expr.Column{Index: pos[i], Name: c.field.Name, Type: c.field.Type}
	}
	return st.m(&executor.Project{Input: op, Exprs: exprs, Output: sc.schema()})
}

// buildSatellites builds a step's table joined with its satellites (each
// joined with its own first) and returns the operator and the tables whose
// columns it yields, in order.
func buildSatellites(st *stmt, sc *scope, stp joinStep, leafOp func(*rel) executor.Operator, remap func(expr.Expr, map[int]int) expr.Expr) (executor.Operator, []*rel) {
	op := leafOp(stp.leaf)
	members := []*rel{stp.leaf}
	pos := map[int]int{}
	var fields []arrow.Field
	add := func(r *rel) {
		for i := r.lo; i < r.hi; i++ {
			pos[i] = len(fields)
			fields = append(fields, sc.cols[i].field)
		}
	}
	add(stp.leaf)
	for _, sat := range stp.sats {
		right, sub := buildSatellites(st, sc, sat, leafOp, remap)
		subPos := map[int]int{}
		n := 0
		for _, m := range sub {
			for i := m.lo; i < m.hi; i++ {
				subPos[i] = n
				n++
			}
		}
		var lk, rk []expr.Expr
		for _, c := range sat.conds {
			cmp := c.(*expr.Compare)
			a, b := cmp.L, cmp.R
			if within(a, sat.leaf.lo, sat.leaf.hi) {
				a, b = b, a
			}
			lk, rk = append(lk, remap(a, pos)), append(rk, remap(b, subPos))
		}
		for _, m := range sub {
			add(m)
		}
		members = append(members, sub...)
		op = st.m(&executor.HashJoin{Workers: st.p.opts.Parallelism, Left: op, Right: right, Type: executor.InnerJoin,
			LeftKeys: lk, RightKeys: rk, Output: arrow.NewSchema(append([]arrow.Field{}, fields...), nil)})
	}
	return op, members
}

// anyWithin reports whether e references a column in [lo, hi).
func anyWithin(e expr.Expr, lo, hi int) bool {
	for _, c := range expr.Columns(e) {
		if c >= lo && c < hi {
			return true
		}
	}
	return false
}

// impliedByOr derives, from an OR whose branches each restrict the same
// table, a filter on that table alone: (a.x = 1 AND b.y = 2) OR (a.x = 3
// AND b.y = 4) implies (a.x = 1 OR a.x = 3). The derived filters can be
// pushed into the table's scan; the OR itself stays where it was.
func impliedByOr(conjuncts []expr.Expr, sc *scope) []expr.Expr {
	srcOf := func(e expr.Expr) int { // the one source e reads, or -1
		src := -2
		for _, c := range expr.Columns(e) {
			s := sc.cols[c].src
			if s < 0 || (src != -2 && src != s) {
				return -1
			}
			src = s
		}
		if src == -2 {
			return -1
		}
		return src
	}
	var out []expr.Expr
	for _, c := range conjuncts {
		or, ok := c.(*expr.Or)
		if !ok || hasSub(c) || srcOf(c) >= 0 {
			continue
		}
		// Sources every branch restricts on its own.
		perBranch := make([]map[int][]expr.Expr, len(or.Args))
		for i, br := range or.Args {
			perBranch[i] = map[int][]expr.Expr{}
			for _, x := range expr.Conjuncts(br) {
				if s := srcOf(x); s >= 0 && !hasSub(x) {
					perBranch[i][s] = append(perBranch[i][s], x)
				}
			}
		}
		var srcs []int
		for s := range perBranch[0] {
			srcs = append(srcs, s)
		}
		slices.Sort(srcs)
		for _, s := range srcs {
			var branches []expr.Expr
			for _, pb := range perBranch {
				xs, ok := pb[s]
				if !ok {
					branches = nil
					break
				}
				branches = append(branches, expr.AndOf(xs))
			}
			if branches != nil {
				out = append(out, &expr.Or{Args: branches})
			}
		}
	}
	return out
}

// asSemi returns the EXISTS or IN subquery of a conjunct (possibly under
// NOT, then neg is true), or nil.
func asSemi(c expr.Expr) (*subqueryExpr, bool) {
	neg := false
	if n, ok := c.(*expr.Not); ok {
		c, neg = n.X, true
	}
	sq, ok := c.(*subqueryExpr)
	if !ok || sq.kind == subScalar {
		return nil, false
	}
	return sq, neg
}

// semiKeys are the join keys of a semi join: the outer expressions and the
// subquery's columns they must equal.
func semiKeys(sq *subqueryExpr) (lk, rk []expr.Expr) {
	lk, rk = append([]expr.Expr{}, sq.outerKeys...), append([]expr.Expr{}, sq.innerKeys...)
	if sq.kind == subIn {
		f := sq.plan.schema.Field(0)
		lk = append([]expr.Expr{sq.test}, lk...)
		rk = append([]expr.Expr{&expr.Column{Index: 0, Name: f.Name, Type: f.Type}}, rk...)
	}
	return lk, rk
}

func semiOuterExprs(sq *subqueryExpr) []expr.Expr {
	lk, _ := semiKeys(sq)
	return lk
}

// singleSource is the one FROM source all of es read, or -1.
func singleSource(es []expr.Expr, sc *scope) int {
	src := -1
	for _, e := range es {
		for _, c := range expr.Columns(e) {
			s := sc.cols[c].src
			if s < 0 || (src >= 0 && s != src) {
				return -1
			}
			src = s
		}
	}
	return src
}

// emptyGroupValue is what an aggregate select item of a subquery without
// GROUP BY yields over no rows: count is 0 there and every other aggregate
// NULL, so count(*) gives 0 and coalesce(sum(x), 0) gives 0. It returns nil
// when e has no aggregate or reads columns outside aggregates.
func emptyGroupValue(e expr.Expr) expr.Expr {
	out, aggs := overNoRows(e)
	if !aggs {
		return nil
	}
	return out
}

// overNoRows is e with each aggregate replaced by its value over no rows,
// and whether e has any; nil when e reads columns outside aggregates.
func overNoRows(e expr.Expr) (expr.Expr, bool) {
	aggs, columns := false, false
	out := expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		switch a := x.(type) {
		case *aggCall:
			aggs = true
			if a.fn == executor.AggCount {
				return &expr.Literal{Value: scalar.NewInt64Scalar(0)}
			}
			return &expr.Literal{Value: scalar.MakeNullScalar(a.typ)}
		case *expr.Column:
			columns = true
		}
		return x
	})
	if columns {
		return nil, aggs
	}
	return out, aggs
}

// havingOverNoRows reports whether a HAVING condition (nil for none) holds
// for the one group an aggregation without GROUP BY makes of no rows;
// known is false when planning cannot tell.
func havingOverNoRows(having expr.Expr) (holds, known bool) {
	if having == nil {
		return true, true
	}
	h, _ := overNoRows(having)
	if h == nil {
		return false, false
	}
	v, valid, ok := boolLit(foldExpr(h))
	if !ok {
		return false, false
	}
	return valid && v, true
}
