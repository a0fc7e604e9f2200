package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/lookup"
)

// Lookup joins. A join whose equalities give every key column (identifier
// field) of a table a value from the other side can look the table's rows
// up by key instead of reading and hashing the whole table: the table is
// a dimension kept by the lookup manager (Options.Lookups). Lowering
// decides, join by join:
//
//   - a hint in the statement forces it, /*+ LOOKUP(s) */, or forbids it,
//     /*+ NO_LOOKUP(s) */, naming tables by alias or name (pg_query drops
//     comments, so hints are read from the text; unknown hints are
//     ignored);
//   - FOR SYSTEM_TIME AS OF <column> on the table asks for it (processing
//     time: the latest snapshot the manager holds);
//   - the session can prefer lookup joins or turn them off
//     (Session.LookupJoins), and choose the mode (Session.LookupMode);
//   - otherwise estimates decide: a hash join reads the dimension's
//     planned rows and hashes them; a lookup join costs per probe row, a
//     little for a FULL index or PARTIAL cache the manager holds (or that
//     is configured and loads on first use), a pruned point read of the
//     table per batch otherwise, which only pays with few probe rows
//     against a large table.
//
// Inner joins: the dimensions joined by lookups are taken out of the join
// order and joined last, one after the other, onto the result of the
// other tables (only when the others stay connected without them). Left
// joins: a dimension on the right side. The dimension's own filters and
// the join's other conditions turn a found row into a miss.

// LookupJoins says when equality joins on a dimension's key become lookup
// joins.
type LookupJoins uint8

const (
	// LookupJoinsAuto decides by estimates (and hints).
	LookupJoinsAuto LookupJoins = iota
	// LookupJoinsPrefer makes every join that can be one a lookup join.
	LookupJoinsPrefer
	// LookupJoinsOff makes none, except those a hint or FOR SYSTEM_TIME
	// AS OF <column> asks for.
	LookupJoinsOff
)

// ParseLookupJoins reads auto, prefer or off.
func ParseLookupJoins(s string) (LookupJoins, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return LookupJoinsAuto, nil
	case "prefer", "on":
		return LookupJoinsPrefer, nil
	case "off":
		return LookupJoinsOff, nil
	}
	return LookupJoinsAuto, fmt.Errorf("lookup joins %q: want auto, prefer or off", s)
}

// Thresholds of the estimates.
const (
	// fullRatio: looking a key up in a held index costs about a quarter
	// of reading and hashing a dimension row.
	fullRatio = 4.0
	// A PARTIAL cache answers hits from memory and misses by point reads.
	partialMaxProbe = 100_000
	partialRatio    = 10.0
	// Point reads: at most this many probe rows, a hundredth of the
	// dimension's.
	pointMaxProbe = 1_000
	pointRatio    = 100.0
	// unknownRows is the probe estimate of an input without one.
	unknownRows = 1e5
)

// readHints finds the LOOKUP and NO_LOOKUP hints of /*+ ... */ comments.
func readHints(sql string) map[string]bool {
	var out map[string]bool
	lexSQL(sql, func(text string) {
		toks := tokenize(text)
		for i := 0; i+1 < len(toks); i++ {
			var on bool
			switch {
			case toks[i].is("lookup"), toks[i].is("lookup_join"):
				on = true
			case toks[i].is("no_lookup"), toks[i].is("hash_join"):
			default:
				continue
			}
			if toks[i+1].text != "(" {
				continue
			}
			j := i + 2
			for ; j < len(toks) && toks[j].text != ")"; j++ {
				if !toks[j].ident() {
					continue
				}
				name := toks[j].text
				for j+2 < len(toks) && toks[j+1].text == "." && toks[j+2].ident() {
					name += "." + toks[j+2].text
					j += 2
				}
				if out == nil {
					out = map[string]bool{}
				}
				out[strings.ToLower(strings.ReplaceAll(name, `"`, ""))] = on
			}
			i = j
		}
	})
	return out
}

// hintFor is +1 when a LOOKUP hint names the table, -1 for NO_LOOKUP.
func (st *stmt) hintFor(src *source) int {
	for _, name := range []string{src.alias, src.key, src.ident[len(src.ident)-1]} {
		if on, ok := st.hints[strings.ToLower(name)]; ok {
			if on {
				return 1
			}
			return -1
		}
	}
	return 0
}

// dimension is a table read that a lookup join can stand for: a scan of a
// keyed table, each of whose output fields is a whole column.
type dimension struct {
	scan    *lScan
	low     *lowered
	keyCols []int // the key columns, by position in the table's schema, in key order
	outCols []int // each output field's position in the table's schema
}

func (st *stmt) asDimension(n lnode, low *lowered) *dimension {
	x, ok := n.(*lScan)
	if !ok || st.p.opts.Lookups == nil || low == nil || low.scan == nil || x.src == nil || x.src.tbl == nil ||
		x.limit >= 0 || x.keySlot != nil || len(x.keys) > 0 {
		return nil
	}
	sch, full := x.src.tbl.Schema(), x.src.full
	if len(sch.IdentifierFieldIDs) == 0 {
		return nil
	}
	d := &dimension{scan: x, low: low}
	for _, id := range sch.IdentifierFieldIDs {
		f, ok := sch.FindFieldByID(id)
		if !ok {
			return nil
		}
		idx := full.FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil
		}
		d.keyCols = append(d.keyCols, idx[0])
	}
	for _, f := range x.out.Fields() {
		idx := full.FieldIndices(f.Name)
		if len(idx) != 1 || !arrow.TypeEqual(full.Field(idx[0]).Type, f.Type) {
			return nil
		}
		d.outCols = append(d.outCols, idx[0])
	}
	return d
}

// cover finds, among conds, an equality of each key column of the
// dimension (its output columns at [lo, hi) of the conditions' row) with
// an expression of other columns that usable accepts. It returns those
// expressions in key order and the indexes of the conditions used.
func (d *dimension) cover(lo, hi int, conds []expr.Expr, usable func(expr.Expr) bool) ([]expr.Expr, []int, bool) {
	keys := make([]expr.Expr, len(d.keyCols))
	var used []int
	for i, c := range conds {
		cmp, ok := c.(*expr.Compare)
		if !ok || cmp.Op != expr.Eq {
			continue
		}
		for _, pair := range [2][2]expr.Expr{{cmp.L, cmp.R}, {cmp.R, cmp.L}} {
			col, ok := pair[0].(*expr.Column)
			other := pair[1]
			if !ok || len(col.Path) > 0 || col.Index < lo || col.Index >= hi ||
				len(expr.Columns(other)) == 0 || anyWithin(other, lo, hi) || !usable(other) {
				continue
			}
			k := -1
			for ki, kc := range d.keyCols {
				if d.outCols[col.Index-lo] == kc {
					k = ki
				}
			}
			if k >= 0 && keys[k] == nil {
				keys[k] = other
				used = append(used, i)
				break
			}
		}
	}
	for _, k := range keys {
		if k == nil {
			return nil, nil, false
		}
	}
	return keys, used, true
}

// lookupChoice is the decision for one dimension.
type lookupChoice struct {
	use bool
	// mode opens the reader; pin is the snapshot to read (0: the latest
	// the manager holds, at processing time).
	mode lookup.Mode
	pin  int64
	// shown is the snapshot EXPLAIN shows (0: the latest at run time).
	shown  int64
	reason string
}

// chooseLookup decides between a lookup join with d and a hash join,
// given the estimated rows of the probe side.
func (st *stmt) chooseLookup(d *dimension, probe float64) lookupChoice {
	m := st.p.opts.Lookups
	src := d.scan.src
	sess := st.req.Session
	hint := st.hintFor(src)
	mode := sess.LookupMode
	if mode == lookup.Configured {
		mode = m.Config(src.ident, lookup.Configured).Mode
	}
	explicit := sess.LookupMode != lookup.Configured || m.Configured(src.ident)
	held, isHeld := lookup.TableStats{}, false
	if mode != lookup.None {
		held, isHeld = m.Kept(src.ident, mode)
	}
	current := d.low.scan.SnapshotID()
	var ch lookupChoice
	switch {
	case src.procTime:
	case src.asOf || st.req.Snapshots[src.key] != 0:
		ch.pin = src.snap
	case isHeld:
		ch.pin = held.Snapshot
	default:
		ch.pin = current
	}
	ch.shown = ch.pin
	if ch.pin == 0 && isHeld {
		ch.shown = held.Snapshot
	}
	var how string
	fast := false
	loadable := mode != lookup.None && (ch.pin == 0 || ch.pin == current)
	switch {
	case mode == lookup.None:
		how = "point reads (mode none)"
	case isHeld && (ch.pin == 0 || held.Snapshot == ch.pin):
		fast = true
		how = fmt.Sprintf("%s %s held", strings.ToUpper(mode.String()), map[lookup.Mode]string{lookup.Full: "index", lookup.Partial: "cache"}[mode])
	case !isHeld && explicit && loadable:
		fast = true
		how = fmt.Sprintf("%s mode configured, loads on first use", strings.ToUpper(mode.String()))
	case isHeld:
		how = fmt.Sprintf("point reads (the %s copy is at snapshot %d)", mode, held.Snapshot)
	default:
		how = "point reads (not held by the lookup manager)"
	}
	ch.mode = lookup.None
	if fast {
		ch.mode = mode
	}
	dimRows := float64(d.low.scan.Stats.RecordCount)
	sizes := fmt.Sprintf("probe rows ~%s vs dimension rows %s", approx(probe), approx(dimRows))
	if forced := hint > 0 || src.procTime || sess.LookupJoins == LookupJoinsPrefer; forced && !fast && loadable && !isHeld {
		// Asked for, the table is kept as configured from now on.
		ch.mode = mode
		how = fmt.Sprintf("%s mode, loads on first use", strings.ToUpper(mode.String()))
	}
	switch {
	case hint < 0:
		ch.reason = "hint NO_LOOKUP"
		return ch
	case hint > 0:
		ch.use, ch.reason = true, "hint LOOKUP; "+how
		return ch
	case src.procTime:
		ch.use, ch.reason = true, "FOR SYSTEM_TIME AS OF, processing time; "+how
		return ch
	case sess.LookupJoins == LookupJoinsPrefer:
		ch.use, ch.reason = true, "session prefers lookup joins; "+how
		return ch
	case sess.LookupJoins == LookupJoinsOff:
		ch.reason = "lookup joins are off for the session"
		return ch
	}
	switch {
	case fast && mode == lookup.Full:
		ch.use = probe <= fullRatio*dimRows
	case fast && mode == lookup.Partial:
		ch.use = probe <= partialMaxProbe && probe*partialRatio <= dimRows
	default:
		ch.use = probe <= pointMaxProbe && probe*pointRatio <= dimRows
	}
	ch.reason = how + "; " + sizes
	if !ch.use {
		ch.reason = "lookup join not chosen: " + ch.reason
	}
	return ch
}

// approx renders an estimate with thousands separators.
func approx(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lookupOp builds the lookup join of input with d: keys over input's
// columns, residual over input's columns followed by d's.
func (st *stmt) lookupOp(d *dimension, ch lookupChoice, input executor.Operator, jt executor.JoinType, keys []expr.Expr, residual expr.Expr, out *arrow.Schema) executor.Operator {
	src := d.scan.src
	full := src.full
	types := make([]arrow.DataType, len(d.keyCols))
	names := make([]string, len(d.keyCols))
	for i, kc := range d.keyCols {
		types[i] = full.Field(kc).Type
		names[i] = src.alias + "." + full.Field(kc).Name
	}
	snap := "latest"
	if ch.shown != 0 {
		snap = fmt.Sprint(ch.shown)
	}
	m, ident, mode, pin := st.p.opts.Lookups, src.ident, ch.mode, ch.pin
	open := func(ctx context.Context) (executor.KeyLookup, error) {
		if mode != lookup.None {
			r, err := m.Reader(ctx, ident, mode)
			if err != nil {
				return nil, err
			}
			if pin == 0 || r.Snapshot() == pin {
				return r, nil
			}
			// The held copy moved on since planning: read the planned
			// snapshot.
			r.Release()
		}
		var r lookup.Reader
		var err error
		if pin == 0 {
			r, err = m.Reader(ctx, ident, lookup.None)
		} else {
			r, err = m.ReaderAt(ctx, ident, pin)
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return st.m(&executor.LookupJoin{
		Input: input, Type: jt, Dimension: open, Keys: keys, KeyTypes: types,
		Columns: d.outCols, Present: d.keyCols[0], Filter: expr.AndOf(d.scan.filters), Residual: residual,
		Output: out, Workers: st.p.opts.Parallelism,
		Label:    fmt.Sprintf("%s mode=%s snapshot=%s", src.key, mode, snap),
		KeyNames: names, Reason: ch.reason,
	})
}

// pinLookup records the snapshot a lookup join reads, so that the plan
// made again for execution reads it too.
func (st *stmt) pinLookup(d *dimension, ch lookupChoice) {
	if ch.pin != 0 && !d.scan.src.asOf {
		st.snapshots[d.scan.src.key] = ch.pin
	}
}

// lookupStep is a table of an inner-join tree joined by a lookup join
// after the others: its key values and the other conditions that wait
// for it (over the scope's columns).
type lookupStep struct {
	leaf   *rel
	dim    *dimension
	keys   []expr.Expr
	used   []int // the conditions that gave the keys
	conds  []expr.Expr
	choice lookupChoice
}

// planLookups picks the tables of an inner-join tree to join by lookups.
// It returns them, the other tables and their conditions, and why each
// dimension left to hash joins was not looked up.
func (st *stmt) planLookups(leaves []*rel, conds []expr.Expr, nodes []lnode, low []*lowered, rows []float64, ndv func(int) float64) ([]lookupStep, []*rel, []expr.Expr, map[*rel]string) {
	var chosen []lookupStep
	isChosen := func(l *rel) bool {
		for _, c := range chosen {
			if c.leaf == l {
				return true
			}
		}
		return false
	}
	for _, l := range leaves {
		d := st.asDimension(nodes[l.src], low[l.src])
		if d == nil {
			continue
		}
		usable := func(e expr.Expr) bool {
			for _, c := range chosen {
				if anyWithin(e, c.leaf.lo, c.leaf.hi) {
					return false
				}
			}
			return true
		}
		keys, used, ok := d.cover(l.lo, l.hi, conds, usable)
		if !ok {
			continue
		}
		readsIt := false
		for _, c := range chosen {
			for _, k := range c.keys {
				readsIt = readsIt || anyWithin(k, l.lo, l.hi)
			}
		}
		var rest []*rel
		for _, o := range leaves {
			if o != l && !isChosen(o) {
				rest = append(rest, o)
			}
		}
		if readsIt || len(rest) == 0 || components(rest, conds) != components(append(rest, l), conds) {
			continue
		}
		chosen = append(chosen, lookupStep{leaf: l, dim: d, keys: keys, used: used})
	}
	if len(chosen) == 0 {
		return nil, leaves, conds, nil
	}
	split := func() ([]*rel, []expr.Expr) {
		var rest []*rel
		for _, l := range leaves {
			if !isChosen(l) {
				rest = append(rest, l)
			}
		}
		var rc []expr.Expr
		for _, c := range conds {
			mentions := false
			for _, s := range chosen {
				mentions = mentions || anyWithin(c, s.leaf.lo, s.leaf.hi)
			}
			if !mentions {
				rc = append(rc, c)
			}
		}
		return rest, rc
	}
	rest, rc := split()
	order := orderLeaves(rest, rc, rows, ndv)
	probe := order[len(order)-1].rows
	notes := map[*rel]string{}
	kept := chosen[:0]
	for _, c := range chosen {
		c.choice = st.chooseLookup(c.dim, probe)
		if c.choice.use {
			kept = append(kept, c)
		} else {
			notes[c.leaf] = c.choice.reason
		}
	}
	chosen = kept
	rest, rc = split()
	// Each other condition on a looked-up table waits for the last
	// lookup whose table it reads.
	for i, c := range conds {
		last := -1
		for k, s := range chosen {
			if anyWithin(c, s.leaf.lo, s.leaf.hi) {
				last = k
			}
		}
		if last < 0 {
			continue
		}
		key := false
		for _, s := range chosen {
			for _, u := range s.used {
				key = key || u == i
			}
		}
		if !key {
			chosen[last].conds = append(chosen[last].conds, c)
		}
	}
	return chosen, rest, rc, notes
}

// components counts the groups of tables that equalities among them
// connect.
func components(leaves []*rel, conds []expr.Expr) int {
	parent := make([]int, len(leaves))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	n := len(leaves)
	for _, c := range conds {
		cmp, ok := c.(*expr.Compare)
		if !ok || cmp.Op != expr.Eq {
			continue
		}
		var at []int
		all := true
		for _, col := range expr.Columns(c) {
			found := -1
			for i, l := range leaves {
				if col >= l.lo && col < l.hi {
					found = i
				}
			}
			if found < 0 {
				all = false
			}
			at = append(at, found)
		}
		if !all {
			continue
		}
		for _, i := range at[1:] {
			if a, b := find(at[0]), find(i); a != b {
				parent[a] = b
				n--
			}
		}
	}
	return n
}

// probeRows is a lowered input's estimated rows.
func probeRows(l *lowered) float64 {
	if l.rows > 0 {
		return l.rows
	}
	return unknownRows
}

// lookupRight makes an inner or left join whose right side is a dimension
// a lookup join when chooseLookup says so; otherwise it returns why not
// (empty when the join cannot be one). lk[i] = rk[i] are the join's keys
// (rk over the right side's columns), resid the rest over both sides.
func (st *stmt) lookupRight(x *lJoin, l, r *lowered, lk, rk []expr.Expr, resid expr.Expr) (*lowered, string) {
	if st.p.opts.Lookups == nil || x.publish != nil || x.nullAware || x.buildLeft ||
		(x.jt != executor.InnerJoin && x.jt != executor.LeftJoin) {
		return nil, ""
	}
	d := st.asDimension(x.right, r)
	if d == nil {
		return nil, ""
	}
	lw := x.left.schema().NumFields()
	rw := x.right.schema().NumFields()
	conds := make([]expr.Expr, 0, len(lk)+1)
	for i := range lk {
		conds = append(conds, &expr.Compare{Op: expr.Eq, L: lk[i], R: expr.Shift(rk[i], lw)})
	}
	if resid != nil {
		conds = append(conds, expr.Conjuncts(resid)...)
	}
	keys, used, ok := d.cover(lw, lw+rw, conds, func(expr.Expr) bool { return true })
	if !ok {
		return nil, ""
	}
	ch := st.chooseLookup(d, probeRows(l))
	if !ch.use {
		return nil, ch.reason
	}
	st.pinLookup(d, ch)
	var rest []expr.Expr
	for i, c := range conds {
		isKey := false
		for _, u := range used {
			isKey = isKey || u == i
		}
		if !isKey {
			rest = append(rest, c)
		}
	}
	residual, jt, out := expr.AndOf(rest), x.jt, x.out
	return &lowered{parts: l.parts, rows: l.rows, build: func(part, parts int) executor.Operator {
		return st.lookupOp(d, ch, l.build(part, parts), jt, keys, residual, out)
	}}, ""
}
