package planner

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
)

// lChanges reads the row changes of a table between two snapshots
// (table_changes in FROM).
type lChanges struct {
	req   changes.Request
	label string
	out   *arrow.Schema
	// pushable marks the columns a filter may read to be pushed into the
	// read: the table's identifier columns when it has some (so that both
	// rows of an update agree), else all of its own columns.
	pushable []bool
	filters  []expr.Expr
}

func (n *lChanges) schema() *arrow.Schema    { return n.out }
func (n *lChanges) inputs() []lnode          { return nil }
func (n *lChanges) withInputs([]lnode) lnode { return n }
func (n *lChanges) describe() string {
	if len(n.filters) == 0 {
		return n.label
	}
	return n.label + " filter=" + show(expr.AndOf(n.filters))
}

// push takes the conditions it may prune with and returns the rest.
func (n *lChanges) push(conds []expr.Expr) (*lChanges, []expr.Expr) {
	var take, rest []expr.Expr
	for _, c := range conds {
		ok := len(expr.Columns(c)) > 0 && !hasSub(c)
		for _, col := range expr.Columns(c) {
			ok = ok && col < len(n.pushable) && n.pushable[col]
		}
		if ok {
			take = append(take, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(take) == 0 {
		return n, conds
	}
	c := *n
	c.filters = append(append([]expr.Expr{}, n.filters...), take...)
	return &c, rest
}

func (n *lChanges) lower(st *stmt) *lowered {
	req, out, label := n.req, n.out, n.label
	filter := expr.AndOf(n.filters)
	if filter != nil {
		// A pruning hint: the Filter above decides.
		if f := pruning.Translate(filter).Filter; !f.Equals(iceberg.AlwaysTrue{}) {
			req.Filter = f
		}
	}
	return &lowered{parts: 1, build: func(int, int) executor.Operator {
		var op executor.Operator = st.m(&executor.Source{Output: out, Label: label, Read: func(ctx context.Context) (iter.Seq2[arrow.RecordBatch, error], error) {
			_, seq, err := changes.Read(ctx, req)
			return seq, err
		}})
		if filter != nil {
			op = st.m(&executor.Filter{Input: op, Predicate: filter})
		}
		return op
	}}
}

// tableChanges plans table_changes('ns.table', from, to [, 'net']): the
// changes of the snapshots after from up to to. from and to are snapshot
// ids, timestamps (the last snapshot at or before them), or tag and branch
// names; a NULL from starts at the table's first snapshot, a NULL or
// missing to ends at its current one.
func (p *Planner) tableChanges(ctx context.Context, st *stmt, fc *pg.FuncCall) (*planned, catalog.ColumnSource, error) {
	var none catalog.ColumnSource
	args := fc.GetArgs()
	if len(args) < 2 || len(args) > 4 {
		return nil, none, invalid("table_changes takes ('namespace.table', from, to [, 'net']), got %d arguments", len(args))
	}
	b := newBinder(&scope{}, st)
	b.where = "table_changes"
	vals := make([]scalar.Scalar, len(args))
	for i, a := range args {
		e, err := b.valueExpr(a)
		if err != nil {
			return nil, none, err
		}
		v, ok := evalConst(foldExpr(e))
		if !ok {
			return nil, none, invalid("table_changes argument %d (%s) must be a constant", i+1, e)
		}
		vals[i] = v
	}
	name, ok := vals[0].(*scalar.String)
	if !ok || !name.IsValid() {
		return nil, none, invalid("table_changes: the first argument must name a table as a string ('namespace.table')")
	}
	rv := &pg.RangeVar{Relname: name.String()}
	if dot := strings.LastIndex(name.String(), "."); dot > 0 {
		rv.Schemaname, rv.Relname = name.String()[:dot], name.String()[dot+1:]
	}
	tbl, ident, err := p.resolveTable(ctx, rv, st.req.Session)
	if err != nil {
		return nil, none, err
	}
	key := strings.Join(ident, ".")
	snapshotOf := func(v scalar.Scalar, what string) (int64, error) {
		if !v.IsValid() {
			return 0, nil
		}
		c := asOfClause{text: "table_changes " + what}
		switch x := v.(type) {
		case *scalar.String:
			c.value, c.quoted = x.String(), true
			if _, err := parseAsOfTime(c.value, time.UTC); err == nil {
				c.byTime = true
			}
		case *scalar.Timestamp:
			t := x.Value.ToTime(x.Type.(*arrow.TimestampType).Unit)
			c.value, c.byTime = strconv.FormatInt(t.UnixMilli(), 10), true
		default:
			i, ok := icebergInt(v)
			if !ok {
				return 0, invalid("table_changes %s must be a snapshot id, a timestamp or a tag or branch name, not %s", what, v.DataType())
			}
			c.value = strconv.FormatInt(i, 10)
		}
		return asOfSnapshot(tbl, key, c, time.UTC)
	}
	req := changes.Request{Table: tbl}
	if req.From, err = snapshotOf(vals[1], "start"); err != nil {
		return nil, none, err
	}
	if len(vals) > 2 {
		if req.To, err = snapshotOf(vals[2], "end"); err != nil {
			return nil, none, err
		}
	}
	if req.To == 0 {
		// Pinned, so that a statement planned again reads the same range.
		if pinned, ok := st.req.Snapshots[key+"#changes"]; ok {
			req.To = pinned
		} else if cur := tbl.CurrentSnapshot(); cur != nil {
			req.To = cur.SnapshotID
		}
		st.snapshots[key+"#changes"] = req.To
	}
	if len(vals) == 4 {
		mode, ok := vals[3].(*scalar.String)
		if !ok || !strings.EqualFold(mode.String(), "net") {
			return nil, none, invalid("table_changes: the fourth argument may only be 'net', got %s", vals[3])
		}
		req.Net = true
	}
	if _, err := changes.Snapshots(req); err != nil {
		return nil, none, err
	}
	// The rows come in the schema at the end of the range, and updates are
	// paired by its identifier fields.
	sch := tbl.Schema()
	if req.To != 0 {
		if s := tbl.SnapshotByID(req.To); s != nil && s.SchemaID != nil {
			if sc, ok := tbl.Schemas()[*s.SchemaID]; ok {
				sch = sc
			}
		}
	}
	rowSchema, err := catalog.ArrowSchema(sch)
	if err != nil {
		return nil, none, err
	}
	out := changes.Schema(rowSchema)
	pushable := make([]bool, rowSchema.NumFields())
	var ids []string
	for _, id := range sch.IdentifierFieldIDs {
		if f, ok := sch.FindFieldByID(id); ok {
			ids = append(ids, f.Name)
		}
	}
	for i, f := range rowSchema.Fields() {
		pushable[i] = len(ids) == 0 || slices.Contains(ids, f.Name)
	}
	label := fmt.Sprintf("Changes %s (%d, %d]", key, req.From, req.To)
	if req.Net {
		label += " net"
	}
	pl := &planned{schema: out, node: &lChanges{req: req, label: label, out: out, pushable: pushable}, parts: 1}
	return pl, catalog.ColumnSource{Catalog: p.cat.Name(), Schema: catalog.JoinNamespace(ident[:len(ident)-1]), Table: ident[len(ident)-1]}, nil
}
