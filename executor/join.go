package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/lakeflight/lakeflight/expr"
)

// JoinType is the kind of a join.
type JoinType int

// Join types.
const (
	InnerJoin JoinType = iota
	LeftJoin
	RightJoin
	FullJoin
	SemiJoin // left rows with a match, left columns only
	AntiJoin // left rows without a match, left columns only
)

var joinNames = [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}

func (t JoinType) String() string { return joinNames[t] }

// HashJoin joins Left and Right on equal keys (LeftKeys[i] = RightKeys[i],
// NULL never equal) and an optional Residual over the joined row (left
// columns, then right columns). It builds a hash table of the right input
// and streams the left one. With no keys it is a nested-loop (cross) join.
type HashJoin struct {
	Left, Right         Operator
	Type                JoinType
	LeftKeys, RightKeys []expr.Expr
	Residual            expr.Expr
	Output              *arrow.Schema
	// BuildLeft, for semi and anti joins, hashes the left input and streams
	// the right one (when the left side is the smaller).
	BuildLeft bool
	// Workers is how many goroutines probe the table with left batches at
	// once, for inner, left, semi and anti joins with keys; 0 or 1 probes
	// in the calling goroutine. Output order then varies from run to run.
	Workers int
	// NullAware makes an anti join follow NOT IN. The first key is the
	// value tested, any others correlate the subquery: within the right
	// rows of a left row's correlation keys (all right rows when there are
	// none), a NULL tested value keeps no left row, and a left row whose
	// tested value is NULL is dropped unless those right rows are none.
	NullAware bool
	// Publish, when set, makes the join read its whole left input first
	// and publish the left keys to that set, which a KeyFilter in the right
	// input waits for. Only for inner, left, semi and anti joins, where
	// right rows that match no left row do not count.
	Publish *KeySet
	// Note, when set, is shown in EXPLAIN after the join (why the planner
	// did not make it a lookup join).
	Note string

	ctx          context.Context
	build        arrow.RecordBatch
	table        *joinTable
	rightMatched []bool
	joined       *arrow.Schema // left + right, for the residual
	reserved     int64
	leftDone     bool
	tailDone     bool
	pending      []arrow.RecordBatch
	par          *parallelProbe
	buffered     []arrow.RecordBatch // the left input, read ahead to publish its keys
	rightNull    bool                // NullAware, uncorrelated: some right key is NULL
	// NullAware, correlated: the correlation keys of the right rows, and
	// of those whose tested value is NULL.
	groups, nullGroups *joinTable
	heldMemory
}

var _ Operator = (*HashJoin)(nil)

func (j *HashJoin) Schema() *arrow.Schema { return j.Output }
func (j *HashJoin) Children() []Operator  { return []Operator{j.Left, j.Right} }
func (j *HashJoin) String() string {
	var on []string
	for i := range j.LeftKeys {
		on = append(on, fmt.Sprintf("%s = %s", j.LeftKeys[i], j.RightKeys[i]))
	}
	if j.Residual != nil {
		on = append(on, j.Residual.String())
	}
	var s string
	switch {
	case len(j.LeftKeys) == 0:
		s = fmt.Sprintf("NestedLoopJoin %s on %s", j.Type, strings.Join(on, " AND "))
	case j.BuildLeft:
		s = fmt.Sprintf("HashJoin %s (build left) on %s", j.Type, strings.Join(on, " AND "))
	default:
		s = fmt.Sprintf("HashJoin %s on %s", j.Type, strings.Join(on, " AND "))
	}
	if j.Note != "" {
		s += " (" + j.Note + ")"
	}
	return s
}

func (j *HashJoin) Open(ctx context.Context) error {
	if j.ctx != nil {
		return nil
	}
	j.ctx = ctx
	if err := j.Left.Open(ctx); err != nil {
		return err
	}
	return j.Right.Open(ctx)
}

func (j *HashJoin) buildSide() error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for {
		b, err := j.Right.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		batches = append(batches, b)
		if err := checkMemory(j.ctx, "the build side of a join"); err != nil {
			return err
		}
	}
	rs := j.Right.Schema()
	for _, b := range batches {
		j.add(recordBytes(b))
	}
	if len(batches) == 0 {
		cols := emptyColumns(j.ctx, rs)
		j.build = array.NewRecordBatch(rs, cols, 0)
		releaseAll(cols)
	} else {
		var err error
		if j.build, err = concatBatches(j.ctx, rs, batches); err != nil {
			return err
		}
	}
	if j.Type == RightJoin || j.Type == FullJoin {
		j.rightMatched = make([]bool, j.build.NumRows())
	}
	fields := append(append([]arrow.Field{}, j.Left.Schema().Fields()...), rs.Fields()...)
	j.joined = arrow.NewSchema(fields, nil)
	if len(j.RightKeys) == 0 {
		return nil
	}
	var err error
	if j.table, err = buildJoinTable(j.ctx, j.RightKeys, j.build); err != nil {
		return err
	}
	if j.NullAware && j.Type == AntiJoin {
		if err := j.nullAwareBuild(); err != nil {
			return err
		}
	}
	j.reserved = j.table.size(16)
	reserve(j.ctx, j.reserved)
	j.add(j.reserved)
	return checkMemory(j.ctx, "the hash table of a join")
}

type colWriter struct {
	col arrow.Array
	w   keyWriter
}

func keyWriters(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch) ([]colWriter, func(), error) {
	out := make([]colWriter, len(keys))
	release := func() {
		for _, c := range out {
			if c.col != nil {
				c.col.Release()
			}
		}
	}
	for i, k := range keys {
		c, err := Eval(ctx, k, rec)
		if err != nil {
			release()
			return nil, nil, err
		}
		out[i].col = c
		if out[i].w, err = newKeyWriter(c); err != nil {
			release()
			return nil, nil, err
		}
	}
	return out, release, nil
}

// encodeKey encodes row r's keys; false when any key is NULL.
func encodeKey(buf []byte, ws []colWriter, r int) ([]byte, bool) {
	for _, w := range ws {
		if w.col.IsNull(r) {
			return buf, false
		}
		buf = w.w(buf, r)
	}
	return buf, true
}

func emptyColumns(ctx context.Context, s *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		b := array.NewBuilder(allocator(ctx), f.Type)
		cols[i] = b.NewArray()
		b.Release()
	}
	return cols
}

func (j *HashJoin) Next() (arrow.RecordBatch, error) {
	if j.BuildLeft && (j.Type == SemiJoin || j.Type == AntiJoin) {
		if j.leftDone {
			return nil, io.EOF
		}
		j.leftDone = true
		return j.semiBuildLeft()
	}
	if j.build == nil {
		if j.Publish != nil {
			if err := j.publishLeft(); err != nil {
				return nil, err
			}
		}
		if err := j.buildSide(); err != nil {
			return nil, err
		}
		if j.Workers > 1 && len(j.LeftKeys) > 0 && j.rightMatched == nil {
			j.par = startParallelProbe(j)
		}
	}
	if j.par != nil {
		return j.par.next()
	}
	for {
		if len(j.pending) > 0 {
			r := j.pending[0]
			j.pending = j.pending[1:]
			return r, nil
		}
		if !j.leftDone {
			in, err := j.nextLeft()
			if err == io.EOF {
				j.leftDone = true
				continue
			}
			if err != nil {
				return nil, err
			}
			out, err := j.probe(in)
			in.Release()
			if err != nil {
				return nil, err
			}
			if out != nil && out.NumRows() > 0 {
				return out, nil
			}
			if out != nil {
				out.Release()
			}
			continue
		}
		if !j.tailDone {
			j.tailDone = true
			if j.Type == RightJoin || j.Type == FullJoin {
				var rows []int32
				for r, m := range j.rightMatched {
					if !m {
						rows = append(rows, int32(r))
					}
				}
				if len(rows) > 0 {
					lidx := make([]int32, len(rows))
					for i := range lidx {
						lidx[i] = -1
					}
					return j.assemble(nil, lidx, rows)
				}
			}
		}
		return nil, io.EOF
	}
}

// probe joins one left batch.
func (j *HashJoin) probe(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	var li, ri []int32
	if len(j.LeftKeys) == 0 {
		for l := 0; l < n; l++ {
			for r := 0; r < int(j.build.NumRows()); r++ {
				li, ri = append(li, int32(l)), append(ri, int32(r))
			}
		}
	} else {
		var err error
		if li, ri, err = j.table.probe(j.ctx, j.LeftKeys, in, li, ri); err != nil {
			return nil, err
		}
	}
	if j.Residual != nil && len(li) > 0 {
		pairs, err := j.assembleJoined(in, li, ri)
		if err != nil {
			return nil, err
		}
		mask, err := Eval(j.ctx, j.Residual, pairs)
		pairs.Release()
		if err != nil {
			return nil, err
		}
		b := mask.(*array.Boolean)
		k := 0
		for i := range li {
			if b.IsValid(i) && b.Value(i) {
				li[k], ri[k] = li[i], ri[i]
				k++
			}
		}
		li, ri = li[:k], ri[:k]
		mask.Release()
	}
	leftMatched := make([]bool, n)
	for i := range li {
		leftMatched[li[i]] = true
	}
	if j.rightMatched != nil {
		for _, r := range ri {
			j.rightMatched[r] = true
		}
	}
	switch j.Type {
	case SemiJoin, AntiJoin:
		var rows []int32
		if j.Type == AntiJoin && j.NullAware && j.build.NumRows() > 0 {
			keep, err := j.notInKeeps(in, leftMatched)
			if err != nil {
				return nil, err
			}
			for l, k := range keep {
				if k {
					rows = append(rows, int32(l))
				}
			}
			return j.takeLeft(in, rows)
		}
		for l := 0; l < n; l++ {
			if leftMatched[l] == (j.Type == SemiJoin) {
				rows = append(rows, int32(l))
			}
		}
		return j.takeLeft(in, rows)
	case LeftJoin, FullJoin:
		for l := 0; l < n; l++ {
			if !leftMatched[l] {
				li, ri = append(li, int32(l)), append(ri, -1)
			}
		}
	}
	return j.assemble(in, li, ri)
}

func (j *HashJoin) takeLeft(in arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	return takeRecordRows(j.ctx, in, j.Output, rows)
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}

// indexArray builds Int32 take indices; -1 becomes NULL (a row of NULLs).
func indexArray(ctx context.Context, rows []int32) arrow.Array {
	b := array.NewInt32Builder(allocator(ctx))
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		if r < 0 {
			b.UnsafeAppendBoolToBitmap(false)
		} else {
			b.UnsafeAppend(r)
		}
	}
	return b.NewArray()
}

func (j *HashJoin) assembleJoined(in arrow.RecordBatch, li, ri []int32) (arrow.RecordBatch, error) {
	cols, err := j.gather(in, li, ri)
	if err != nil {
		return nil, err
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(j.joined, cols, int64(len(li))), nil
}

func (j *HashJoin) assemble(in arrow.RecordBatch, li, ri []int32) (arrow.RecordBatch, error) {
	cols, err := j.gather(in, li, ri)
	if err != nil {
		return nil, err
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(j.Output, cols, int64(len(li))), nil
}

// gather takes left rows li (of in; -1 or in == nil for NULLs) and right
// rows ri (-1 for NULLs) side by side.
func (j *HashJoin) gather(in arrow.RecordBatch, li, ri []int32) ([]arrow.Array, error) {
	ls, rs := j.Left.Schema(), j.Right.Schema()
	cols := make([]arrow.Array, 0, ls.NumFields()+rs.NumFields())
	lidx := indexArray(j.ctx, li)
	defer lidx.Release()
	ridx := indexArray(j.ctx, ri)
	defer ridx.Release()
	for i, f := range ls.Fields() {
		if in == nil {
			cols = append(cols, array.MakeArrayOfNull(allocator(j.ctx), f.Type, len(li)))
			continue
		}
		c, err := compute.TakeArray(j.ctx, in.Column(i), lidx)
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
		cols = append(cols, c)
	}
	for i := range rs.Fields() {
		c, err := compute.TakeArray(j.ctx, j.build.Column(i), ridx)
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func (j *HashJoin) Close() error {
	if j.par != nil {
		j.par.stop()
		j.par = nil
	}
	for _, r := range j.buffered {
		r.Release()
	}
	j.buffered = nil
	for _, r := range j.pending {
		r.Release()
	}
	j.pending = nil
	if j.build != nil {
		j.build.Release()
		j.build = nil
	}
	if j.reserved != 0 {
		reserve(j.ctx, -j.reserved)
		j.reserved = 0
	}
	return errorsJoin(j.Left.Close(), j.Right.Close())
}

// semiBuildLeft runs a semi or anti join that hashes the left input and
// streams the right one, for when the left side is the smaller: each left
// row is kept (semi) or dropped (anti) once any right row matches it.
func (j *HashJoin) semiBuildLeft() (arrow.RecordBatch, error) {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for {
		b, err := j.Left.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		batches = append(batches, b)
		if err := checkMemory(j.ctx, "the build side of a semi join"); err != nil {
			return nil, err
		}
	}
	if len(batches) == 0 {
		// Nothing to keep; the right side need not be read.
		return nil, io.EOF
	}
	left, err := concatBatches(j.ctx, j.Left.Schema(), batches)
	if err != nil {
		return nil, err
	}
	defer left.Release()
	n := int(left.NumRows())
	table, err := buildJoinTable(j.ctx, j.LeftKeys, left)
	if err != nil {
		return nil, err
	}
	reserved := table.size(16)
	j.add(recordBytes(left) + reserved)
	reserve(j.ctx, reserved)
	defer reserve(j.ctx, -reserved)
	if err := checkMemory(j.ctx, "the hash table of a semi join"); err != nil {
		return nil, err
	}
	fields := append(append([]arrow.Field{}, j.Left.Schema().Fields()...), j.Right.Schema().Fields()...)
	joined := arrow.NewSchema(fields, nil)
	// Each worker marks the left rows its right batches match; the marks
	// are combined at the end.
	workers := max(j.Workers, 1)
	marks := make([][]bool, workers)
	errs := make([]error, workers)
	var mu sync.Mutex // guards j.Right.Next and eof
	eof := false
	var wg sync.WaitGroup
	for w := range marks {
		marks[w] = make([]bool, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if eof {
					mu.Unlock()
					return
				}
				rb, err := j.Right.Next()
				if err != nil {
					eof = true
				}
				mu.Unlock()
				if err == io.EOF {
					return
				}
				if err == nil {
					err = j.semiMark(table, left, rb, joined, marks[w])
					rb.Release()
				}
				if err != nil {
					errs[w] = err
					mu.Lock()
					eof = true
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	matched := marks[0]
	for _, m := range marks[1:] {
		for i, v := range m {
			matched[i] = matched[i] || v
		}
	}
	var rows []int32
	for l := 0; l < n; l++ {
		if matched[l] == (j.Type == SemiJoin) {
			rows = append(rows, int32(l))
		}
	}
	if len(rows) == 0 {
		return nil, io.EOF
	}
	return j.takeLeft(left, rows)
}

// publishLeft reads the whole left input into j.buffered and publishes its
// keys.
func (j *HashJoin) publishLeft() error {
	for {
		b, err := j.Left.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		j.buffered = append(j.buffered, b)
		if err := checkMemory(j.ctx, "the left side of a join"); err != nil {
			return err
		}
	}
	ls := j.Left.Schema()
	var all arrow.RecordBatch
	if len(j.buffered) == 0 {
		cols := emptyColumns(j.ctx, ls)
		all = array.NewRecordBatch(ls, cols, 0)
		releaseAll(cols)
	} else {
		var err error
		if all, err = concatBatches(j.ctx, ls, j.buffered); err != nil {
			return err
		}
	}
	for _, b := range j.buffered {
		b.Release()
	}
	j.buffered = nil
	if all.NumRows() > 0 {
		all.Retain()
		j.buffered = []arrow.RecordBatch{all}
		j.add(recordBytes(all))
	}
	defer all.Release()
	return j.Publish.publish(j.ctx, j.LeftKeys, all)
}

// nextLeft is the next left batch: from the read-ahead buffer when the join
// publishes its keys, else from the left input.
func (j *HashJoin) nextLeft() (arrow.RecordBatch, error) {
	if j.Publish == nil {
		return j.Left.Next()
	}
	if len(j.buffered) == 0 {
		return nil, io.EOF
	}
	b := j.buffered[0]
	j.buffered = j.buffered[1:]
	return b, nil
}

// semiMark marks the left rows (indexed by table) that right batch rb
// matches, on the keys and the residual.
func (j *HashJoin) semiMark(table *joinTable, left, rb arrow.RecordBatch, joined *arrow.Schema, matched []bool) error {
	// The table holds left rows: probe with the right batch.
	rr, ll, err := table.probe(j.ctx, j.RightKeys, rb, nil, nil)
	if err != nil {
		return err
	}
	var li, ri []int32
	for i, l := range ll {
		if j.Residual == nil {
			matched[l] = true
		} else if !matched[l] {
			li, ri = append(li, l), append(ri, rr[i])
		}
	}
	if len(li) == 0 {
		return nil
	}
	lidx, ridx := indexArray(j.ctx, li), indexArray(j.ctx, ri)
	defer lidx.Release()
	defer ridx.Release()
	cols := make([]arrow.Array, 0, joined.NumFields())
	defer func() { releaseAll(cols) }()
	for _, c := range left.Columns() {
		t, err := compute.TakeArray(j.ctx, c, lidx)
		if err != nil {
			return err
		}
		cols = append(cols, t)
	}
	for _, c := range rb.Columns() {
		t, err := compute.TakeArray(j.ctx, c, ridx)
		if err != nil {
			return err
		}
		cols = append(cols, t)
	}
	pairs := array.NewRecordBatch(joined, cols, int64(len(li)))
	defer pairs.Release()
	mask, err := Eval(j.ctx, j.Residual, pairs)
	if err != nil {
		return err
	}
	defer mask.Release()
	b := mask.(*array.Boolean)
	for i, l := range li {
		if b.IsValid(i) && b.Value(i) {
			matched[l] = true
		}
	}
	return nil
}

// nullAwareBuild notes where the right side's tested values are NULL: at
// all (uncorrelated), or per correlation key.
func (j *HashJoin) nullAwareBuild() error {
	k, err := Eval(j.ctx, j.RightKeys[0], j.build)
	if err != nil {
		return err
	}
	defer k.Release()
	j.rightNull = k.NullN() > 0
	if len(j.RightKeys) == 1 {
		return nil
	}
	corr := j.RightKeys[1:]
	if j.groups, err = buildJoinTable(j.ctx, corr, j.build); err != nil {
		return err
	}
	var nullRows []int32
	for r := 0; r < k.Len(); r++ {
		if k.IsNull(r) {
			nullRows = append(nullRows, int32(r))
		}
	}
	sub, err := takeRecordRows(j.ctx, j.build, j.build.Schema(), nullRows)
	if err != nil {
		return err
	}
	defer sub.Release()
	j.nullGroups, err = buildJoinTable(j.ctx, corr, sub)
	return err
}

// notInKeeps decides, for the left rows of in (leftMatched: a right row
// equals them on every key), which NOT IN keeps.
func (j *HashJoin) notInKeeps(in arrow.RecordBatch, leftMatched []bool) ([]bool, error) {
	n := int(in.NumRows())
	keep := make([]bool, n)
	key, err := Eval(j.ctx, j.LeftKeys[0], in)
	if err != nil {
		return nil, err
	}
	defer key.Release()
	if len(j.LeftKeys) == 1 {
		if j.rightNull {
			return keep, nil
		}
		for l := range keep {
			keep[l] = !leftMatched[l] && key.IsValid(l)
		}
		return keep, nil
	}
	corr := j.LeftKeys[1:]
	present, err := j.groups.contains(j.ctx, corr, in)
	if err != nil {
		return nil, err
	}
	withNull, err := j.nullGroups.contains(j.ctx, corr, in)
	if err != nil {
		return nil, err
	}
	for l := range keep {
		switch {
		case !present[l]: // no subquery rows: NOT IN holds
			keep[l] = true
		case key.IsNull(l), withNull[l], leftMatched[l]:
		default:
			keep[l] = true
		}
	}
	return keep, nil
}

// takeRecordRows copies the given rows of rec into a new batch of schema
// (rec's columns, maybe under other names).
func takeRecordRows(ctx context.Context, rec arrow.RecordBatch, schema *arrow.Schema, rows []int32) (arrow.RecordBatch, error) {
	idx := indexArray(ctx, rows)
	defer idx.Release()
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() { releaseAll(cols) }()
	for _, c := range rec.Columns() {
		t, err := compute.TakeArray(ctx, c, idx)
		if err != nil {
			return nil, err
		}
		cols = append(cols, t)
	}
	return array.NewRecordBatch(schema, cols, int64(len(rows))), nil
}
