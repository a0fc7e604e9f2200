package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/scan"
)

// LookupRequest is the command of a lookup exchange: JSON in the CMD of the
// FlightDescriptor that DoExchange's first message carries.
//
// The client then streams record batches holding the key columns (by
// name) and any other columns it wants carried through. The server answers
// each input batch, in order, with one batch: the input's columns followed
// by Columns of the row with that key (NULLs where the key is not in the
// table: left-join semantics), and Found when asked. Each answer's
// app_metadata is a LookupAnswer naming the snapshot all its rows were read
// from.
type LookupRequest struct {
	// Table is the dimension table, namespace.table. Required.
	Table string `json:"lookup"`
	// Keys names the table's key columns: exactly its identifier fields,
	// in any order. Input batches carry columns of these names. Default:
	// the identifier fields.
	Keys []string `json:"keys,omitempty"`
	// Columns are the table's columns to add to each input row, in this
	// order. Omitted: every column that is not a key; [] adds none.
	Columns []string `json:"columns"`
	// Mode is how the table is kept for this exchange: full, partial or
	// none. Default: the table's configured mode.
	Mode string `json:"mode,omitempty"`
	// Snapshot pins the snapshot every answer is read from. Default (0):
	// each input batch is answered from the newest snapshot the server
	// holds at the time, so a long exchange sees the table's updates.
	Snapshot int64 `json:"snapshot,omitempty"`
	// Found, when set, names a non-null boolean column added last: true
	// where the key was found.
	Found string `json:"found,omitempty"`
}

// LookupAnswer is the app_metadata (JSON) of each answer batch of a lookup
// exchange.
type LookupAnswer struct {
	// Snapshot is the table snapshot every row of the batch was read from.
	Snapshot int64 `json:"snapshot"`
	// Misses counts the rows whose key is not in the table (or NULL).
	Misses int64 `json:"misses"`
}

// coalesceRows bounds the rows of the input batches answered by one
// Lookup call: consecutive batches smaller than it that are already
// waiting are looked up together, and each still gets its own answer.
const coalesceRows = 8192

// parseLookupRequest reads the descriptor of a lookup exchange.
func parseLookupRequest(d *flight.FlightDescriptor) (LookupRequest, error) {
	var req LookupRequest
	if d == nil || d.GetType() != flight.DescriptorCMD {
		return req, badRequest(`lookup exchange: the first message must carry a CMD descriptor holding a JSON request such as {"lookup": "ns.table", "keys": ["id"], "columns": ["name"]}`)
	}
	dec := json.NewDecoder(bytes.NewReader(d.GetCmd()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, badRequest("lookup exchange: request is not valid JSON of the lookup form (lookup, keys, columns, mode, snapshot, found): %v", err)
	}
	if req.Table == "" {
		return req, badRequest(`lookup exchange: the request names no table ("lookup": "ns.table")`)
	}
	return req, nil
}

// tableIdent splits namespace.table.
func tableIdent(name string) (table.Identifier, error) {
	dot := strings.LastIndex(name, ".")
	if dot <= 0 || dot == len(name)-1 {
		return nil, badRequest("table %q must be namespace.table", name)
	}
	return table.Identifier(append(catalog.SplitNamespace(name[:dot]), name[dot+1:])), nil
}

// lookupPlan is what a lookup exchange reads: the table, the mode, the
// columns by name and, with a pinned snapshot, the one reader it uses.
type lookupPlan struct {
	ident   table.Identifier
	name    string
	mode    lookup.Mode
	pinned  lookup.Reader
	keys    []arrow.Field // the table's key columns, in key order
	columns []arrow.Field // the columns added, as the table has them
	found   string
}

func (lp *lookupPlan) close() {
	if lp.pinned != nil {
		lp.pinned.Release()
	}
}

// planLookup checks a request against the table: its key, its columns.
func (s *Server) planLookup(ctx context.Context, req LookupRequest) (*lookupPlan, error) {
	ident, err := tableIdent(req.Table)
	if err != nil {
		return nil, err
	}
	mode := lookup.Configured
	if req.Mode != "" {
		if mode, err = lookup.ParseMode(req.Mode); err != nil {
			return nil, badRequest("lookup exchange: %v", err)
		}
	}
	lp := &lookupPlan{ident: ident, name: req.Table, mode: mode, found: req.Found}
	var r lookup.Reader
	if req.Snapshot != 0 {
		if r, err = s.pinnedReader(ctx, ident, mode, req.Snapshot); err != nil {
			return nil, err
		}
		lp.pinned = r
	} else {
		if r, err = s.lookups.Reader(ctx, ident, mode); err != nil {
			return nil, err
		}
		defer r.Release()
	}
	sc := r.Schema()
	for _, k := range r.Key() {
		lp.keys = append(lp.keys, sc.Field(k))
	}
	keyNames := make([]string, len(lp.keys))
	for i, f := range lp.keys {
		keyNames[i] = f.Name
	}
	if req.Keys != nil {
		given := slices.Clone(req.Keys)
		slices.Sort(given)
		want := slices.Clone(keyNames)
		slices.Sort(want)
		if !slices.Equal(given, want) {
			lp.close()
			return nil, badRequest("lookup in %s: keys %s are not the table's key; its identifier fields are %s", req.Table, quoteNames(req.Keys), quoteNames(keyNames))
		}
	}
	names := req.Columns
	if names == nil {
		for _, f := range sc.Fields() {
			if !slices.Contains(keyNames, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		idx := sc.FieldIndices(n)
		if len(idx) == 0 {
			lp.close()
			return nil, badRequest("lookup in %s: no column %q (columns: %s)", req.Table, n, quoteNames(fieldNames(sc)))
		}
		if seen[n] {
			lp.close()
			return nil, badRequest("lookup in %s: column %q requested twice", req.Table, n)
		}
		seen[n] = true
		lp.columns = append(lp.columns, sc.Field(idx[0]))
	}
	if lp.found != "" && seen[lp.found] {
		lp.close()
		return nil, badRequest("lookup in %s: found column %q is also a requested column", req.Table, lp.found)
	}
	return lp, nil
}

// pinnedReader is a reader of one past or present snapshot: the kept FULL
// index when it holds that snapshot, else point reads of it.
func (s *Server) pinnedReader(ctx context.Context, ident table.Identifier, mode lookup.Mode, snap int64) (lookup.Reader, error) {
	if s.lookups.Config(ident, mode).Mode == lookup.Full {
		r, err := s.lookups.Reader(ctx, ident, mode)
		if err != nil {
			return nil, err
		}
		if r.Snapshot() == snap {
			return r, nil
		}
		r.Release()
	}
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return nil, err
	}
	if tbl.Metadata().SnapshotByID(snap) == nil {
		return nil, fmt.Errorf("%w: %d in %s", scan.ErrNoSuchSnapshot, snap, strings.Join(ident, "."))
	}
	return s.lookups.ReaderAt(ctx, ident, snap)
}

// reader is the reader one group of batches is answered from: the pinned
// one, or the newest the manager holds. The caller releases it.
func (lp *lookupPlan) reader(ctx context.Context, m *lookup.Manager) (lookup.Reader, error) {
	if lp.pinned != nil {
		return pinnedRef{lp.pinned}, nil
	}
	return m.Reader(ctx, lp.ident, lp.mode)
}

// pinnedRef lends the pinned reader without giving it away.
type pinnedRef struct{ lookup.Reader }

func (pinnedRef) Release() {}

// exchangeInput is where the input columns the lookup needs sit in the
// client's batches, and how its keys become the table's key types.
type exchangeInput struct {
	keyAt  []int            // input column of each key column, in key order
	castTo []arrow.DataType // nil where the input type is the key's own
	schema *arrow.Schema    // of the answers
}

// bindInput checks the client's schema: every key column present once and
// of a type comparable with the table's, no name clash with the columns
// added.
func (lp *lookupPlan) bindInput(in *arrow.Schema) (*exchangeInput, error) {
	ei := &exchangeInput{}
	for _, k := range lp.keys {
		idx := in.FieldIndices(k.Name)
		switch len(idx) {
		case 0:
			return nil, badRequest("lookup in %s: the input has no key column %q (input columns: %s)", lp.name, k.Name, quoteNames(fieldNames(in)))
		case 1:
		default:
			return nil, badRequest("lookup in %s: the input has key column %q more than once", lp.name, k.Name)
		}
		t := in.Field(idx[0]).Type
		if !keyComparable(t, k.Type) {
			return nil, badRequest("lookup in %s: key column %q is %s in the input but %s in the table; send it as %s", lp.name, k.Name, t, k.Type, k.Type)
		}
		var cast arrow.DataType
		if !arrow.TypeEqual(t, k.Type) {
			cast = k.Type
		}
		ei.keyAt = append(ei.keyAt, idx[0])
		ei.castTo = append(ei.castTo, cast)
	}
	fields := slices.Clone(in.Fields())
	for _, c := range lp.columns {
		if len(in.FieldIndices(c.Name)) > 0 {
			return nil, badRequest("lookup in %s: column %q is both in the input and requested from the table; rename the input column or leave it out of columns", lp.name, c.Name)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type, Nullable: true, Metadata: c.Metadata})
	}
	if lp.found != "" {
		if len(in.FieldIndices(lp.found)) > 0 {
			return nil, badRequest("lookup in %s: found column %q is already an input column", lp.name, lp.found)
		}
		fields = append(fields, arrow.Field{Name: lp.found, Type: arrow.FixedWidthTypes.Boolean})
	}
	ei.schema = arrow.NewSchema(fields, nil)
	return ei, nil
}

// keyComparable reports whether input values of type in can be looked up
// by a key of type key: the same type, integers of any width, or strings
// (binaries) of any offset width.
func keyComparable(in, key arrow.DataType) bool {
	if arrow.TypeEqual(in, key) {
		return true
	}
	family := func(t arrow.DataType) int {
		switch {
		case arrow.IsInteger(t.ID()):
			return 1
		case t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING || t.ID() == arrow.STRING_VIEW:
			return 2
		case t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY || t.ID() == arrow.BINARY_VIEW:
			return 3
		}
		return 0
	}
	f := family(in)
	return f != 0 && f == family(key)
}

// exchange serves one lookup exchange. A goroutine reads the client's
// batches into a queue; this one answers them in order, a group of small
// waiting batches with one Lookup call.
func (s *Server) exchange(stream flight.FlightService_DoExchangeServer) error {
	ctx := compute.WithAllocator(stream.Context(), s.mem)
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("lookup exchange: the client sent no request")
		}
		return err
	}
	req, err := parseLookupRequest(first.GetFlightDescriptor())
	if err != nil {
		return err
	}
	lp, err := s.planLookup(ctx, req)
	if err != nil {
		return err
	}
	defer lp.close()

	rdr, err := flight.NewRecordReader(&replayFirst{first: first, rest: stream}, ipc.WithAllocator(s.mem))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil // no input schema: nothing to answer
		}
		return badRequest("lookup exchange: read input schema: %v", err)
	}
	ei, err := lp.bindInput(rdr.Schema())
	if err != nil {
		rdr.Release()
		return err
	}

	in := make(chan arrow.RecordBatch, 16)
	done := make(chan struct{})
	var readErr error // set before in is closed
	go func() {
		defer close(in)
		defer rdr.Release()
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rec.Retain()
			select {
			case in <- rec:
			case <-done:
				rec.Release()
				return
			}
		}
		if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
			readErr = err
		}
	}()
	var pending arrow.RecordBatch
	defer func() {
		close(done)
		if pending != nil {
			pending.Release()
		}
		// The reader goroutine ends when the client stops sending or the
		// call ends; what it queued meanwhile is released then.
		go func() {
			for rec := range in {
				rec.Release()
			}
		}()
	}()

	w := flight.NewRecordWriter(stream, ipc.WithSchema(ei.schema), ipc.WithAllocator(s.mem))
	defer w.Close()
	for {
		group, closed, err := nextGroup(ctx, in, &pending)
		if err != nil {
			return err
		}
		if len(group) > 0 {
			err = s.answer(ctx, lp, ei, group, w)
			for _, rec := range group {
				rec.Release()
			}
			if err != nil {
				return err
			}
		}
		if closed {
			if readErr != nil {
				return badRequest("lookup exchange: read input: %v", readErr)
			}
			return w.Close()
		}
	}
}

// nextGroup takes the next input batch off the queue (waiting for it) and,
// while the batches are small, those already waiting behind it, up to
// coalesceRows rows. A batch that would overflow the group is kept in
// pending for the next one. closed reports the end of the input.
func nextGroup(ctx context.Context, in <-chan arrow.RecordBatch, pending *arrow.RecordBatch) (group []arrow.RecordBatch, closed bool, err error) {
	first := *pending
	*pending = nil
	if first == nil {
		select {
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		case rec, ok := <-in:
			if !ok {
				return nil, true, nil
			}
			first = rec
		}
	}
	group = append(group, first)
	rows := first.NumRows()
	for rows < coalesceRows {
		select {
		case rec, ok := <-in:
			if !ok {
				return group, true, nil
			}
			if rows+rec.NumRows() > coalesceRows {
				*pending = rec
				return group, false, nil
			}
			group = append(group, rec)
			rows += rec.NumRows()
		default:
			return group, false, nil
		}
	}
	return group, false, nil
}

// answer looks up the keys of a group of input batches with one Lookup and
// writes one answer per batch, in order.
func (s *Server) answer(ctx context.Context, lp *lookupPlan, ei *exchangeInput, group []arrow.RecordBatch, w *flight.Writer) error {
	var total int64
	for _, rec := range group {
		total += rec.NumRows()
	}
	r, err := lp.reader(ctx, s.lookups)
	if err != nil {
		return err
	}
	defer r.Release()
	var found arrow.RecordBatch
	var at []int
	snap := r.Snapshot()
	if total > 0 {
		var cols []int
		cols, at, err = lp.resolve(r.Schema())
		if err != nil {
			return err
		}
		keys, err := ei.gatherKeys(ctx, group)
		if err != nil {
			return err
		}
		found, snap, err = consistentLookup(ctx, r, keys, cols)
		for _, k := range keys {
			k.Release()
		}
		if err != nil {
			return err
		}
		defer found.Release()
	}
	var off int64
	for _, rec := range group {
		n := rec.NumRows()
		out, misses := s.answerBatch(ei, lp, rec, found, at, off)
		meta, err := json.Marshal(LookupAnswer{Snapshot: snap, Misses: misses})
		if err != nil {
			out.Release()
			return err
		}
		err = w.WriteWithAppMetadata(out, meta)
		s.metrics.streamed(ctx, n, batchBytes(out))
		out.Release()
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}

// answerBatch is rec's answer: its columns, then the looked-up columns of
// its rows (found's rows from off; column i of the added ones at at[i], the
// key last), then the found flags.
func (s *Server) answerBatch(ei *exchangeInput, lp *lookupPlan, rec, found arrow.RecordBatch, at []int, off int64) (arrow.RecordBatch, int64) {
	n := rec.NumRows()
	cols := slices.Clone(rec.Columns())
	var owned []arrow.Array
	var misses int64
	if found == nil {
		for _, c := range lp.columns {
			owned = append(owned, array.MakeArrayOfNull(s.mem, c.Type, int(n)))
		}
		if lp.found != "" {
			owned = append(owned, array.MakeArrayOfNull(s.mem, arrow.FixedWidthTypes.Boolean, int(n)))
		}
	} else {
		for i := range lp.columns {
			owned = append(owned, array.NewSlice(found.Column(at[i]), off, off+n))
		}
		key := array.NewSlice(found.Column(at[len(lp.columns)]), off, off+n)
		misses = int64(key.NullN())
		if lp.found != "" {
			b := array.NewBooleanBuilder(s.mem)
			b.Reserve(int(n))
			for i := range int(n) {
				b.UnsafeAppend(key.IsValid(i))
			}
			owned = append(owned, b.NewArray())
			b.Release()
		}
		key.Release()
	}
	cols = append(cols, owned...)
	out := array.NewRecordBatch(ei.schema, cols, n)
	for _, a := range owned {
		a.Release()
	}
	return out, misses
}

// resolve finds the columns to read in the reader's schema, by name: the
// columns added, then the first key column (whose NULLs mark misses). It
// returns them in the table's order, as Lookup is asked for them, and
// where each sits in Lookup's result: the added columns' positions, then
// the key's. The table's schema may have changed since the exchange
// began: a column gone or of another type ends the exchange.
func (lp *lookupPlan) resolve(sc *arrow.Schema) (cols, at []int, err error) {
	want := append(slices.Clone(lp.columns), lp.keys[0])
	idx := make([]int, len(want))
	for i, f := range want {
		found := sc.FieldIndices(f.Name)
		if len(found) == 0 || !arrow.TypeEqual(sc.Field(found[0]).Type, f.Type) {
			return nil, nil, fmt.Errorf("%w: lookup in %s: column %q changed in the table's schema since the exchange began; start a new exchange", errBadRequest, lp.name, f.Name)
		}
		idx[i] = found[0]
	}
	cols = slices.Clone(idx)
	slices.Sort(cols)
	at = make([]int, len(idx))
	for i, c := range idx {
		at[i], _ = slices.BinarySearch(cols, c)
	}
	return cols, at, nil
}

// gatherKeys is the key columns of a group of batches, one array per key
// column, cast to the table's key types. The caller releases them.
func (ei *exchangeInput) gatherKeys(ctx context.Context, group []arrow.RecordBatch) ([]arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	keys := make([]arrow.Array, 0, len(ei.keyAt))
	fail := func(err error) ([]arrow.Array, error) {
		for _, k := range keys {
			k.Release()
		}
		return nil, err
	}
	for i, at := range ei.keyAt {
		var k arrow.Array
		if len(group) == 1 {
			k = group[0].Column(at)
			k.Retain()
		} else {
			parts := make([]arrow.Array, len(group))
			for j, rec := range group {
				parts[j] = rec.Column(at)
			}
			var err error
			if k, err = array.Concatenate(parts, mem); err != nil {
				return fail(err)
			}
		}
		if t := ei.castTo[i]; t != nil {
			c, err := compute.CastArray(ctx, k, compute.SafeCastOptions(t))
			k.Release()
			if err != nil {
				return fail(badRequest("key column %d as %s: %v", i+1, t, err))
			}
			k = c
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// consistentLookup looks keys up and returns the snapshot the rows were
// read from. A reader of one version (FULL, point reads) never moves; a
// PARTIAL cache may move to a new snapshot between Snapshot and Lookup, so
// the lookup is repeated until the snapshot is the same before and after
// it (the cache holds one snapshot through each Lookup call).
func consistentLookup(ctx context.Context, r lookup.Reader, keys []arrow.Array, cols []int) (arrow.RecordBatch, int64, error) {
	for {
		before := r.Snapshot()
		rec, err := r.Lookup(ctx, keys, cols)
		if err != nil {
			return nil, 0, err
		}
		if r.Mode() != lookup.Partial || r.Snapshot() == before {
			return rec, before, nil
		}
		rec.Release()
		if err := ctx.Err(); err != nil {
			return nil, 0, context.Cause(ctx)
		}
	}
}

// replayFirst gives the message already read back to a record reader.
type replayFirst struct {
	first *flight.FlightData
	rest  flight.DataStreamReader
}

func (r *replayFirst) Recv() (*flight.FlightData, error) {
	if f := r.first; f != nil {
		r.first = nil
		return f, nil
	}
	return r.rest.Recv()
}

func fieldNames(sc *arrow.Schema) []string {
	out := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		out[i] = f.Name
	}
	return out
}

func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
