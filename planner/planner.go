// Package planner turns SQL text into physical plans: it parses with the
// PostgreSQL grammar, resolves tables and columns against the catalog, types
// expressions, pushes filters, projections and limits into Iceberg scans and
// builds the executor's operator tree.
package planner

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go/table"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/lookup"
)

// Options tune planning.
type Options struct {
	// MaxParts bounds how many independent parts (Flight endpoints) a plain
	// scan is split into. Default 4; 1 disables splitting.
	MaxParts int
	// BatchSize is the Arrow batch size scans produce. Default 0: iceberg-go's
	// default (currently 128Ki rows... or per row group).
	BatchSize int
	// ScanConcurrency is how many files one scan part decodes at once.
	// Default 2.
	ScanConcurrency int
	// Parallelism is how many parts a scan inside a single-stream plan
	// (joins, aggregates, sorts) is read in at once, through an Exchange.
	// Default GOMAXPROCS; 1 reads serially.
	Parallelism int
	// Lookups keeps dimension tables for lookup joins. Default nil: every
	// join is a hash join.
	Lookups *lookup.Manager
}

// DefaultOptions returns the default planning options.
func DefaultOptions() Options {
	return Options{MaxParts: 4, ScanConcurrency: 2, Parallelism: runtime.GOMAXPROCS(0)}
}

// Planner plans queries against one catalog. It is safe for concurrent use.
type Planner struct {
	cat  *catalog.Catalog
	opts Options
}

// New returns a planner over cat.
func New(cat *catalog.Catalog, opts Options) *Planner {
	if opts.MaxParts <= 0 {
		opts.MaxParts = 1
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 1
	}
	return &Planner{cat: cat, opts: opts}
}

// Session carries the defaults a client set for name resolution.
type Session struct {
	// Catalog is the current catalog name; empty for the server's catalog.
	Catalog string
	// Schema is the current namespace (dotted); empty to search all.
	Schema string
	// LookupMode is how lookup joins read dimension tables; Configured
	// (the default) takes each table's mode from the lookup manager.
	LookupMode lookup.Mode
	// LookupJoins says when equality joins on a dimension's key become
	// lookup joins. Default LookupJoinsAuto: by estimates.
	LookupJoins LookupJoins
}

// Request is one statement to plan.
type Request struct {
	SQL     string
	Session Session
	// Params are the values of $1, $2, ...; nil plans with placeholders
	// (enough for the result and parameter schemas, not for execution).
	Params []scalar.Scalar
	// Snapshots pins table snapshots (by Query.Snapshots keys) so that a plan
	// made again for execution reads what the first plan read.
	Snapshots map[string]int64
	// Now is the statement time for now() and current_date; zero for the
	// current time. Plans made again for execution pass the first one's.
	Now time.Time
}

// Query is a planned statement.
type Query struct {
	// Schema is the result schema.
	Schema *arrow.Schema
	// ParamTypes are the expected types of $1, $2, ... (NULL type when
	// nothing constrains one).
	ParamTypes []arrow.DataType
	// Parts is how many independent parts the query can be executed in.
	Parts int
	// Snapshots maps each scanned table to the snapshot it reads.
	Snapshots map[string]int64
	// Source names the single table a result comes from, for column metadata.
	Source catalog.ColumnSource

	build func(part, parts int) executor.Operator
	root  func() executor.Operator
}

// Operator builds the operator tree that runs part of parts of the query.
// Every call returns a new tree; the caller opens and closes it.
func (q *Query) Operator(part, parts int) executor.Operator {
	if parts <= 1 || q.build == nil {
		return q.root()
	}
	return q.build(part, parts)
}

// Explain renders the plan of the whole query.
func (q *Query) Explain() string { return executor.Explain(q.root()) }

// stmt is the state of planning one statement, shared by its subqueries.
type stmt struct {
	p          *Planner
	ctx        context.Context
	corr       *corrRequest // set while planning a subquery's top SELECT
	req        Request
	now        time.Time
	params     []scalar.Scalar
	paramTypes map[int]arrow.DataType
	maxParam   int
	snapshots  map[string]int64
	// ctes is a stack of WITH scopes, innermost last.
	ctes []map[string]*planned
	// measure wraps every operator to count its output (EXPLAIN ANALYZE).
	measure bool
	// asOf are the FOR ... AS OF clauses by the offset of their table name;
	// asOfUsed marks those a table took.
	asOf     map[int]asOfClause
	asOfUsed map[int]bool
	// hints are the /*+ LOOKUP(...) NO_LOOKUP(...) */ hints by the table
	// name or alias they name (lowercase): true for LOOKUP.
	hints map[string]bool
}

// m wraps an operator for EXPLAIN ANALYZE when the statement asks for it.
func (st *stmt) m(op executor.Operator) executor.Operator {
	if !st.measure {
		return op
	}
	if _, ok := op.(*executor.Measured); ok {
		return op
	}
	return &executor.Measured{Op: op}
}

// planned is a planned relation: its schema and a builder of the operator
// tree that produces it (part of parts, when it can be split).
type planned struct {
	schema *arrow.Schema
	// node is the logical plan; build is nil until it is optimized and
	// lowered (stmt.finish).
	node   lnode
	build  func(part, parts int) executor.Operator
	parts  int
	source catalog.ColumnSource
	// refs counts a WITH query's references; one read more than once is
	// computed once (executor.Materialized).
	refs *int
}

// explainFlags are the EXPLAIN options of a statement.
type explainFlags struct{ on, logical, rules bool }

// build parses a statement and builds its logical plan, not yet optimized.
func (p *Planner) build(ctx context.Context, req Request) (*stmt, *planned, explainFlags, error) {
	var ex explainFlags
	sqlText, asOf, err := stripAsOf(numberParams(req.SQL))
	if err != nil {
		return nil, nil, ex, err
	}
	tree, err := pg.Parse(sqlText)
	if err != nil {
		return nil, nil, ex, syntaxError(err)
	}
	stmts := tree.GetStmts()
	if len(stmts) == 0 {
		return nil, nil, ex, &SyntaxError{Msg: "empty statement"}
	}
	if len(stmts) > 1 {
		return nil, nil, ex, unsupported("more than one statement in a request")
	}
	st := &stmt{p: p, ctx: ctx, req: req, now: req.Now, params: req.Params, snapshots: map[string]int64{},
		asOf: asOf, asOfUsed: map[int]bool{}, hints: readHints(req.SQL)}
	if st.now.IsZero() {
		st.now = time.Now().UTC()
	}
	node := stmts[0].GetStmt()
	if es := node.GetExplainStmt(); es != nil {
		node, ex.on = es.GetQuery(), true
		for _, o := range es.GetOptions() {
			d := o.GetDefElem()
			switch strings.ToLower(d.GetDefname()) {
			case "analyze":
				st.measure = explainMode(d)
			case "logical":
				ex.logical = explainMode(d)
			case "rules":
				ex.rules = explainMode(d)
			case "verbose", "costs", "format":
			default:
				return nil, nil, ex, unsupported("EXPLAIN option %s (lakeflight knows ANALYZE, LOGICAL and RULES)", d.GetDefname())
			}
		}
	}
	pl, err := p.planNode(ctx, st, node, nil)
	if err != nil {
		return nil, nil, ex, err
	}
	return st, pl, ex, nil
}

// Plan parses and plans one statement.
func (p *Planner) Plan(ctx context.Context, req Request) (*Query, error) {
	st, pl, ex, err := p.build(ctx, req)
	if err != nil {
		return nil, err
	}
	explain, logical, traced := ex.on, ex.logical, ex.rules
	asOf := st.asOf
	var trace func(string, lnode)
	var steps strings.Builder
	if traced {
		trace = func(rule string, n lnode) {
			if rule == "" {
				steps.WriteString("-- as written\n")
			} else {
				steps.WriteString("-- after " + rule + "\n")
			}
			steps.WriteString(explainLogical(n))
		}
	}
	if err := st.finish(pl, trace); err != nil {
		return nil, err
	}
	for at, c := range asOf {
		if !st.asOfUsed[at] {
			return nil, &SyntaxError{Msg: c.text + " must follow the name of a table (not a WITH query or subquery)", Pos: c.pos}
		}
	}
	if err := st.checkParams(); err != nil {
		return nil, err
	}
	q := &Query{
		Schema:     pl.schema,
		ParamTypes: st.paramTypeList(),
		Parts:      max(pl.parts, 1),
		Snapshots:  st.snapshots,
		Source:     pl.source,
		build:      pl.build,
		root:       func() executor.Operator { return pl.build(0, 1) },
	}
	switch {
	case traced:
		return textQuery(q, steps.String()), nil
	case logical:
		text := "(no logical plan)\n"
		if pl.node != nil {
			text = explainLogical(pl.node)
		}
		return textQuery(q, text), nil
	}
	if explain && st.measure {
		return explainAnalyzeQuery(q), nil
	}
	if explain {
		return explainQuery(q), nil
	}
	return q, nil
}

func (p *Planner) planNode(ctx context.Context, st *stmt, node *pg.Node, outer *binder) (*planned, error) {
	sel := node.GetSelectStmt()
	if sel == nil {
		return nil, unsupported("statement %s (lakeflight serves read-only SELECT queries)", stmtName(node))
	}
	return p.planSelect(ctx, st, sel, outer)
}

func stmtName(n *pg.Node) string {
	switch {
	case n.GetInsertStmt() != nil:
		return "INSERT"
	case n.GetUpdateStmt() != nil:
		return "UPDATE"
	case n.GetDeleteStmt() != nil:
		return "DELETE"
	case n.GetCreateStmt() != nil, n.GetCreateTableAsStmt() != nil:
		return "CREATE TABLE"
	case n.GetDropStmt() != nil:
		return "DROP"
	case n.GetVariableSetStmt() != nil:
		return "SET"
	case n.GetVariableShowStmt() != nil:
		return "SHOW"
	case n.GetTransactionStmt() != nil:
		return "transaction control"
	}
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

func syntaxError(err error) error {
	msg := err.Error()
	pos := 0
	if e, ok := asParserError(err); ok {
		msg, pos = e.Message, e.Cursorpos
	}
	return &SyntaxError{Msg: msg, Pos: pos}
}

// identity reports whether the projection passes the input through as is.
func identity(exprs []expr.Expr, in, out *arrow.Schema) bool {
	if len(exprs) != in.NumFields() {
		return false
	}
	for i, e := range exprs {
		c, ok := e.(*expr.Column)
		if !ok || c.Index != i || len(c.Path) > 0 || out.Field(i).Name != in.Field(i).Name {
			return false
		}
	}
	return true
}

func outputSchema(items []selectItem, in *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, len(items))
	for i, it := range items {
		fields[i] = arrow.Field{Name: it.name, Type: it.e.DataType(), Nullable: nullable(it.e, in)}
	}
	return arrow.NewSchema(fields, nil)
}

// nullable reports whether e may yield NULL over rows of in: a column keeps
// the nullability of its field (and of every struct on its path), a
// constant is nullable only when it is NULL, anything else may be NULL.
func nullable(e expr.Expr, in *arrow.Schema) bool {
	switch x := e.(type) {
	case *expr.Column:
		f := in.Field(x.Index)
		if f.Nullable {
			return true
		}
		for _, idx := range x.Path {
			f = f.Type.(*arrow.StructType).Field(idx)
			if f.Nullable {
				return true
			}
		}
		return false
	case *expr.Literal:
		return !x.Value.IsValid()
	}
	return true
}

// resolveTable finds the table a FROM item names.
func (p *Planner) resolveTable(ctx context.Context, rv *pg.RangeVar, sess Session) (*table.Table, table.Identifier, error) {
	if c := rv.GetCatalogname(); c != "" && !strings.EqualFold(c, p.cat.Name()) {
		return nil, nil, fmt.Errorf("%w: catalog %q (this server serves catalog %q)", catalog.ErrNoSuchNamespace, c, p.cat.Name())
	}
	if sess.Catalog != "" && !strings.EqualFold(sess.Catalog, p.cat.Name()) && rv.GetCatalogname() == "" {
		return nil, nil, fmt.Errorf("%w: catalog %q (this server serves catalog %q)", catalog.ErrNoSuchNamespace, sess.Catalog, p.cat.Name())
	}
	name := rv.GetRelname()
	if ns := rv.GetSchemaname(); ns != "" {
		return p.loadIn(ctx, catalog.SplitNamespace(ns), name)
	}
	if sess.Schema != "" {
		return p.loadIn(ctx, catalog.SplitNamespace(sess.Schema), name)
	}
	nss, err := p.cat.Namespaces(ctx)
	if err != nil {
		return nil, nil, err
	}
	var found []table.Identifier
	for _, ns := range nss {
		ids, err := p.cat.Tables(ctx, ns)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			if strings.EqualFold(id[len(id)-1], name) {
				found = append(found, id)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, nil, fmt.Errorf("%w: %s (qualify it as namespace.table, or set a default schema)", catalog.ErrNoSuchTable, name)
	case 1:
		t, err := p.cat.LoadTable(ctx, found[0])
		return t, found[0], err
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = strings.Join(f, ".")
	}
	return nil, nil, invalid("table name %q is ambiguous: %s", name, strings.Join(names, ", "))
}

func (p *Planner) loadIn(ctx context.Context, ns table.Identifier, name string) (*table.Table, table.Identifier, error) {
	id := append(append(table.Identifier{}, ns...), name)
	t, err := p.cat.LoadTable(ctx, id)
	if err == nil {
		return t, id, nil
	}
	// Unquoted names arrive lowercased; fall back to a case-insensitive match.
	ids, lerr := p.cat.Tables(ctx, ns)
	if lerr != nil {
		return nil, nil, lerr
	}
	for _, cand := range ids {
		if strings.EqualFold(cand[len(cand)-1], name) {
			t, err := p.cat.LoadTable(ctx, cand)
			return t, cand, err
		}
	}
	if ok, nerr := p.cat.NamespaceExists(ctx, ns); nerr == nil && !ok {
		return nil, nil, fmt.Errorf("%w: %s", catalog.ErrNoSuchNamespace, catalog.JoinNamespace(ns))
	}
	return nil, nil, err
}

// explainMode reads an EXPLAIN option that is on when given alone or
// with a true value.
func explainMode(d *pg.DefElem) bool {
	return d.GetArg() == nil || !strings.EqualFold(defString(d.GetArg()), "false")
}

func defString(n *pg.Node) string {
	if s := n.GetString_(); s != nil {
		return s.GetSval()
	}
	if b := n.GetBoolean(); b != nil {
		if b.GetBoolval() {
			return "true"
		}
		return "false"
	}
	return ""
}

// explainAnalyzeQuery answers EXPLAIN ANALYZE: at execution it runs the
// plan and returns it annotated with rows, batches, bytes and time.
func explainAnalyzeQuery(q *Query) *Query {
	out := arrow.NewSchema([]arrow.Field{{Name: "plan", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return &Query{
		Schema:     out,
		ParamTypes: q.ParamTypes,
		Parts:      1,
		Snapshots:  q.Snapshots,
		root: func() executor.Operator {
			return &executor.ExplainAnalyze{Plan: q.root(), Output: out}
		},
	}
}
