package planner

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// outerRef is a column of an enclosing query, referenced by a correlated
// subquery. Col indexes the enclosing query's scope.
type outerRef struct{ col *expr.Column }

func (o *outerRef) DataType() arrow.DataType { return o.col.Type }
func (o *outerRef) String() string           { return "outer." + o.col.Name }

type subKind int

const (
	subExists subKind = iota
	subIn
	subScalar
)

// subqueryExpr is a subquery used in an expression of the enclosing query.
// EXISTS and IN become semi or anti joins; a correlated scalar subquery
// becomes a left join with the subquery grouped by its correlation keys.
type subqueryExpr struct {
	kind   subKind
	negate bool
	test   expr.Expr // IN: the value looked up, over the outer scope
	plan   *planned
	// outerKeys (over the outer scope) equal innerKeys (over the
	// subquery's output) for a row to match.
	outerKeys, innerKeys []expr.Expr
	// residual is a further join condition over outer columns followed by
	// the subquery's output columns (EXISTS only).
	residual expr.Expr
	typ      arrow.DataType
	text     string
	// keys passes a key set from the join that uses a correlated scalar
	// subquery to a filter in the subquery (see keySlot).
	keys *keySlot
	// empty is a correlated scalar subquery's value for an outer row that
	// no subquery row matches, when that is not NULL (count's 0).
	empty expr.Expr
	// sql is the subquery's text, which tells two subqueries apart in
	// exprKey (their text above is the same for every subquery).
	sql string
}

// keySlot hands the key set of one execution from the left join that
// looks up a correlated scalar subquery's groups to the KeyFilter inside
// the subquery, so that only groups some outer row asks for are computed.
// The join's builder fills it while it builds the subquery's operators.
type keySlot struct {
	mu  sync.Mutex
	set *executor.KeySet
}

// buildWith builds the subquery's operators with a fresh key set in the
// slot and returns both.
func (k *keySlot) buildWith(build func() executor.Operator) (executor.Operator, *executor.KeySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.set = executor.NewKeySet()
	op := build()
	set := k.set
	k.set = nil
	return op, set
}

// filter wraps op in a KeyFilter on keys when a set is being built.
func (k *keySlot) filter(op executor.Operator, keys []expr.Expr) executor.Operator {
	if k == nil || k.set == nil {
		return op
	}
	return &executor.KeyFilter{Input: op, Keys: keys, Set: k.set}
}

func (s *subqueryExpr) DataType() arrow.DataType { return s.typ }
func (s *subqueryExpr) String() string           { return s.text }

// corrInfo is what planning a correlated subquery reports to its parent.
type corrInfo struct {
	outerKeys, innerKeys []expr.Expr
	keys                 *keySlot  // correlated scalar subqueries only
	empty                expr.Expr // see subqueryExpr.empty
	residual             expr.Expr // over outer scope ++ subquery output
	// oneRow: an aggregation without GROUP BY or HAVING, one row per
	// outer row (also when no input row matches).
	oneRow bool
}

func (b *binder) subLink(sl *pg.SubLink) (expr.Expr, error) {
	var kind subKind
	switch sl.GetSubLinkType() {
	case pg.SubLinkType_EXISTS_SUBLINK:
		kind = subExists
	case pg.SubLinkType_ANY_SUBLINK:
		kind = subIn
		if names := sl.GetOperName(); len(names) > 0 && names[0].GetString_().GetSval() != "=" {
			return nil, unsupported("%s ANY (subquery)", names[0].GetString_().GetSval())
		}
	case pg.SubLinkType_EXPR_SUBLINK:
		kind = subScalar
	case pg.SubLinkType_ALL_SUBLINK:
		return nil, unsupported("ALL (subquery)")
	default:
		return nil, unsupported("subquery of kind %s", sl.GetSubLinkType())
	}
	text := "subquery"
	sub := &subqueryExpr{kind: kind, text: text, sql: subquerySQL(sl)}
	if kind == subIn {
		t, err := b.valueExpr(sl.GetTestexpr())
		if err != nil {
			return nil, err
		}
		sub.test = t
	}
	corr := &corrInfo{}
	mode := kind
	pl, err := b.st.p.planSubquery(b, sl.GetSubselect(), mode, corr)
	if err != nil {
		return nil, err
	}
	sub.plan = pl
	sub.outerKeys, sub.innerKeys, sub.residual, sub.keys, sub.empty = corr.outerKeys, corr.innerKeys, corr.residual, corr.keys, corr.empty
	correlated := len(corr.outerKeys) > 0 || corr.residual != nil
	switch kind {
	case subExists:
		sub.typ = bl
		sub.text = "EXISTS (subquery)"
	case subIn:
		if pl.schema.NumFields()-len(corr.innerKeys) != 1 {
			return nil, invalid("subquery in IN must return one column, it returns %d", pl.schema.NumFields()-len(corr.innerKeys))
		}
		ft := pl.schema.Field(0).Type
		if !arrow.TypeEqual(ft, sub.test.DataType()) {
			t, err := setOpType(ft, sub.test.DataType())
			if err != nil {
				return nil, fmt.Errorf("%w (IN subquery)", err)
			}
			if sub.test, err = castTo(sub.test, t); err != nil {
				return nil, err
			}
			if !arrow.TypeEqual(ft, t) {
				return nil, unsupported("IN subquery of type %s compared with %s", ft, sub.test.DataType())
			}
		}
		sub.typ = bl
		sub.text = fmt.Sprintf("%s IN (subquery)", sub.test)
		if correlated && corr.oneRow {
			// One row per outer row, also for an outer row no input row
			// matches (max gives NULL, count 0 there), which a semi join
			// with the groups would not find: x IN (that row) is x = its
			// value, and NOT IN is NOT (x = its value).
			val := &subqueryExpr{kind: subScalar, text: "correlated scalar subquery", sql: sub.sql, plan: pl, typ: ft,
				outerKeys: corr.outerKeys, innerKeys: corr.innerKeys, keys: corr.keys, empty: corr.empty}
			return &expr.Compare{Op: expr.Eq, L: sub.test, R: val}, nil
		}
	case subScalar:
		if pl.schema.NumFields()-len(corr.innerKeys) != 1 {
			return nil, invalid("a subquery used as a value must return one column, it returns %d", pl.schema.NumFields()-len(corr.innerKeys))
		}
		sub.typ = pl.schema.Field(0).Type
		if !correlated {
			if err := b.st.finish(pl, nil); err != nil {
				return nil, err
			}
			// The text names the subquery in EXPLAIN and tells it apart
			// from others in exprKey (which compares expressions by text).
			return &executor.ScalarSubquery{Build: func() executor.Operator { return pl.build(0, 1) }, Type: sub.typ, Text: sub.sql}, nil
		}
		if corr.residual != nil {
			return nil, unsupported("a correlated scalar subquery whose correlation is not equalities")
		}
		sub.text = "correlated scalar subquery"
	}
	return sub, nil
}

// subquerySQL is the text of a subquery, as PostgreSQL deparses it:
// the same for two subqueries written alike, different otherwise.
func subquerySQL(sl *pg.SubLink) string {
	text, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: sl.GetSubselect()}}})
	if err != nil {
		return fmt.Sprintf("subquery at %d", sl.GetLocation())
	}
	return text
}

// parseTreeVersion is the version pg_query stamps on its parse trees,
// which Deparse checks.
var parseTreeVersion = sync.OnceValue(func() int32 {
	tree, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return tree.GetVersion()
})

// hasSub reports whether e holds a subquery or an outer reference, which
// keeps it from being pushed below joins.
func hasSub(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *subqueryExpr, *outerRef:
			found = true
		}
		return !found
	})
	return found
}

// isOuterOnly reports whether e references only outer columns (and at
// least one).
func isOuterOnly(e expr.Expr) bool {
	outer, inner := false, false
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *outerRef:
			outer = true
			return false
		case *expr.Column:
			inner = true
		}
		return true
	})
	return outer && !inner
}

// unOuter turns outer references into plain columns of the outer scope.
func unOuter(e expr.Expr) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if o, ok := x.(*outerRef); ok {
			return o.col
		}
		return x
	})
}

// joinScope rewrites a correlated condition into one over the outer scope
// (width outerWidth) followed by the subquery's columns.
func joinScope(e expr.Expr, outerWidth int) expr.Expr {
	shifted := expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.Column); ok {
			n := *c
			n.Index += outerWidth
			return &n
		}
		return x
	})
	return unOuter(shifted)
}

func (p *Planner) planSubquery(outer *binder, node *pg.Node, mode subKind, corr *corrInfo) (*planned, error) {
	sel := node.GetSelectStmt()
	if sel == nil {
		return nil, unsupported("statement %s in a subquery", stmtName(node))
	}
	saved := outer.st.corr
	outer.st.corr = &corrRequest{mode: mode, info: corr, outerWidth: len(outer.sc.cols)}
	defer func() { outer.st.corr = saved }()
	return p.planSelect(outer.st.ctx, outer.st, sel, outer)
}

// corrRequest tells planSelect that it plans a subquery, and how its
// correlation is used.
type corrRequest struct {
	mode       subKind
	info       *corrInfo
	outerWidth int
}
