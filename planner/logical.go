package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// lnode is a node of a logical plan: what a query computes, before the
// rewrite rules (rules.go) move filters, projections and limits and before
// lowering (lower.go) picks operators, join order and parallelism.
// Expressions of a node refer to the columns of its inputs by index; a
// join's to its left input's columns followed by its right input's.
type lnode interface {
	schema() *arrow.Schema
	inputs() []lnode
	// withInputs returns a copy of the node over new inputs.
	withInputs(in []lnode) lnode
	// describe is the node's line in EXPLAIN (LOGICAL).
	describe() string
}

// lScan reads one Iceberg table: the fields the query needs, the rows its
// filters keep (the filters also prune files and row groups), at most limit
// rows when limit >= 0.
type lScan struct {
	src     *source
	out     *arrow.Schema
	filters []expr.Expr
	limit   int64
	// keys, when set, keeps only rows whose keys an enclosing join looks
	// up (a correlated scalar subquery's KeyFilter).
	keys     []expr.Expr
	keySlot  *keySlot
	pruned   bool // push_projections chose the fields
	estimate float64
}

// lLeaf is a relation planned on its own: a WITH query, VALUES, a set
// operation, a SELECT without FROM. Rules do not look inside it.
type lLeaf struct {
	pl    *planned
	label string
}

type lFilter struct {
	in    lnode
	conds []expr.Expr
}

// lKeyFilter keeps the rows whose keys are in the key set the enclosing
// join of a correlated scalar subquery publishes.
type lKeyFilter struct {
	in   lnode
	keys []expr.Expr
	slot *keySlot
}

type lProject struct {
	in    lnode
	exprs []expr.Expr
	out   *arrow.Schema
}

// lJoin joins two inputs on conds (over the left columns followed by the
// right ones). Semi and anti joins yield the left columns only.
type lJoin struct {
	left, right lnode
	jt          executor.JoinType
	// lkeys[i] (over the left columns) = rkeys[i] (over the right ones),
	// besides conds (over both).
	lkeys, rkeys []expr.Expr
	conds        []expr.Expr
	// buildLeft hashes the left side (a correlated EXISTS); nullAware
	// gives NOT IN its answer when NULLs are involved; publish hands the
	// key set of the left side to a KeyFilter inside the right side.
	buildLeft, nullAware bool
	publish              *keySlot
	out                  *arrow.Schema
}

type lAggregate struct {
	in     lnode
	groups []expr.Expr
	aggs   []executor.Agg
	out    *arrow.Schema
}

type lWindow struct {
	in    lnode
	calls []executor.WindowCall
	out   *arrow.Schema
}

// lSort orders its input; with limit >= 0 it keeps the first limit rows
// after offset (top-N).
type lSort struct {
	in            lnode
	keys          []executor.SortKey
	limit, offset int64
}

type lLimit struct {
	in        lnode
	n, offset int64
}

type lDistinct struct{ in lnode }

func (n *lScan) schema() *arrow.Schema      { return n.out }
func (n *lLeaf) schema() *arrow.Schema      { return n.pl.schema }
func (n *lFilter) schema() *arrow.Schema    { return n.in.schema() }
func (n *lKeyFilter) schema() *arrow.Schema { return n.in.schema() }
func (n *lProject) schema() *arrow.Schema   { return n.out }
func (n *lJoin) schema() *arrow.Schema      { return n.out }
func (n *lAggregate) schema() *arrow.Schema { return n.out }
func (n *lWindow) schema() *arrow.Schema    { return n.out }
func (n *lSort) schema() *arrow.Schema      { return n.in.schema() }
func (n *lLimit) schema() *arrow.Schema     { return n.in.schema() }
func (n *lDistinct) schema() *arrow.Schema  { return n.in.schema() }

func (n *lScan) inputs() []lnode      { return nil }
func (n *lLeaf) inputs() []lnode      { return nil }
func (n *lFilter) inputs() []lnode    { return []lnode{n.in} }
func (n *lKeyFilter) inputs() []lnode { return []lnode{n.in} }
func (n *lProject) inputs() []lnode   { return []lnode{n.in} }
func (n *lJoin) inputs() []lnode      { return []lnode{n.left, n.right} }
func (n *lAggregate) inputs() []lnode { return []lnode{n.in} }
func (n *lWindow) inputs() []lnode    { return []lnode{n.in} }
func (n *lSort) inputs() []lnode      { return []lnode{n.in} }
func (n *lLimit) inputs() []lnode     { return []lnode{n.in} }
func (n *lDistinct) inputs() []lnode  { return []lnode{n.in} }

func (n *lScan) withInputs([]lnode) lnode { c := *n; return &c }
func (n *lLeaf) withInputs([]lnode) lnode { return n }
func (n *lFilter) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lKeyFilter) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lProject) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lJoin) withInputs(in []lnode) lnode {
	c := *n
	c.left, c.right = in[0], in[1]
	return &c
}
func (n *lAggregate) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lWindow) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lSort) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lLimit) withInputs(in []lnode) lnode {
	c := *n
	c.in = in[0]
	return &c
}
func (n *lDistinct) withInputs(in []lnode) lnode { return &lDistinct{in: in[0]} }

func (n *lScan) describe() string {
	s := "Scan " + n.src.key
	if n.src.asOf {
		s += fmt.Sprintf(" snapshot=%d", n.src.snap)
	}
	if n.pruned {
		s += " fields=[" + strings.Join(n.src.fields, ", ") + "]"
	}
	if len(n.filters) > 0 {
		s += " filter=" + show(expr.AndOf(n.filters))
	}
	if len(n.keys) > 0 {
		s += " keys=" + exprList(n.keys)
	}
	if n.limit >= 0 {
		s += fmt.Sprintf(" limit=%d", n.limit)
	}
	return s
}

func (n *lLeaf) describe() string { return "Relation " + n.label }
func (n *lFilter) describe() string {
	return "Filter " + show(expr.AndOf(n.conds))
}
func (n *lKeyFilter) describe() string { return "KeyFilter " + exprList(n.keys) }
func (n *lProject) describe() string {
	parts := make([]string, len(n.exprs))
	for i, e := range n.exprs {
		parts[i] = show(e)
		if name := n.out.Field(i).Name; name != e.String() {
			parts[i] += " AS " + name
		}
	}
	return "Project " + strings.Join(parts, ", ")
}
func (n *lJoin) describe() string {
	s := "Join " + strings.ToLower(n.jt.String())
	if len(n.lkeys) > 0 {
		s += " keys " + exprList(n.lkeys) + " = " + exprList(n.rkeys)
	}
	if len(n.conds) > 0 {
		s += " on " + show(expr.AndOf(n.conds))
	}
	if n.nullAware {
		s += " null-aware"
	}
	if n.publish != nil {
		s += " publishes keys"
	}
	return s
}
func (n *lAggregate) describe() string {
	parts := make([]string, len(n.aggs))
	for i := range n.aggs {
		parts[i] = n.out.Field(len(n.groups) + i).Name
	}
	return "Aggregate groups=" + exprList(n.groups) + " aggs=[" + strings.Join(parts, ", ") + "]"
}
func (n *lWindow) describe() string {
	parts := make([]string, len(n.calls))
	for i, c := range n.calls {
		parts[i] = c.String()
	}
	return "Window " + strings.Join(parts, ", ")
}
func (n *lSort) describe() string {
	parts := make([]string, len(n.keys))
	for i, k := range n.keys {
		parts[i] = showKey(k)
	}
	s := "Sort " + strings.Join(parts, ", ")
	if n.limit >= 0 {
		s = fmt.Sprintf("TopN %d %s", n.limit, strings.TrimPrefix(s, "Sort "))
	}
	if n.offset > 0 {
		s += fmt.Sprintf(" offset=%d", n.offset)
	}
	return s
}
func (n *lLimit) describe() string {
	s := fmt.Sprintf("Limit %d", n.n)
	if n.n == noLimit {
		s = "Limit all"
	}
	if n.offset > 0 {
		s += fmt.Sprintf(" offset=%d", n.offset)
	}
	return s
}
func (n *lDistinct) describe() string { return "Distinct" }

const noLimit = 1<<63 - 1

// show renders an expression for EXPLAIN (LOGICAL) with each column's
// input position (name#index, and .i for each struct level below it), so
// that a plan shows which of two same-named columns a node reads.
func show(e expr.Expr) string {
	if e == nil {
		return ""
	}
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		c, ok := x.(*expr.Column)
		if !ok {
			return x
		}
		n := *c
		n.Name = fmt.Sprintf("%s#%d", c.Name, c.Index)
		for _, p := range c.Path {
			n.Name += fmt.Sprintf(".%d", p)
		}
		return &n
	}).String()
}

func showKey(k executor.SortKey) string {
	k.Expr = &expr.Column{Name: show(k.Expr)}
	return k.String()
}

func exprList(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = show(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// explainLogical renders a logical plan, one node per line, inputs
// indented under their node.
func explainLogical(n lnode) string {
	var sb strings.Builder
	var walk func(n lnode, depth int)
	walk = func(n lnode, depth int) {
		sb.WriteString(strings.Repeat("  ", depth))
		sb.WriteString(n.describe())
		sb.WriteByte('\n')
		for _, in := range n.inputs() {
			walk(in, depth+1)
		}
	}
	walk(n, 0)
	return sb.String()
}

// joinSchema is the row type of a join of l and r: both sides' columns,
// made nullable on the side an outer join pads; a semi or anti join's is
// the left side's.
func joinSchema(jt executor.JoinType, l, r *arrow.Schema) *arrow.Schema {
	if jt == executor.SemiJoin || jt == executor.AntiJoin {
		return l
	}
	fields := make([]arrow.Field, 0, l.NumFields()+r.NumFields())
	for _, f := range l.Fields() {
		if jt == executor.RightJoin || jt == executor.FullJoin {
			f.Nullable = true
		}
		fields = append(fields, f)
	}
	for _, f := range r.Fields() {
		if jt == executor.LeftJoin || jt == executor.FullJoin {
			f.Nullable = true
		}
		fields = append(fields, f)
	}
	return arrow.NewSchema(fields, nil)
}
