package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/server"
)

var shopsIdent = table.Identifier{"mall", "shops"}

// shopRow is a row of mall.shops as the tests compare it.
type shopRow struct {
	name  string
	floor int32
}

// shopsOf reads mall.shops with iceberg-go directly.
func shopsOf(t *testing.T, cat *catalog.Catalog) map[string]shopRow {
	t.Helper()
	at := icebergRows(t, cat, shopsIdent)
	defer at.Release()
	out := map[string]shopRow{}
	tr := array.NewTableReader(at, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		sc := rec.Schema()
		code := rec.Column(sc.FieldIndices("shop_code")[0]).(*array.String)
		name := rec.Column(sc.FieldIndices("shop_name")[0]).(*array.String)
		floor := rec.Column(sc.FieldIndices("floor")[0]).(*array.Int32)
		for i := range code.Len() {
			out[code.Value(i)] = shopRow{name: name.Value(i), floor: floor.Value(i)}
		}
	}
	return out
}

// probeBatch is an input batch: id (carried through) and shop_code.
func probeBatch(mem memory.Allocator, first int64, codes []*string) arrow.RecordBatch {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "shop_code", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	ids := array.NewInt64Builder(mem)
	defer ids.Release()
	cs := array.NewStringBuilder(mem)
	defer cs.Release()
	for i, c := range codes {
		ids.Append(first + int64(i))
		if c == nil {
			cs.AppendNull()
		} else {
			cs.Append(*c)
		}
	}
	a, b := ids.NewArray(), cs.NewArray()
	defer a.Release()
	defer b.Release()
	return array.NewRecordBatch(sc, []arrow.Array{a, b}, int64(len(codes)))
}

func str(s string) *string { return &s }

// exchanged is what one exchange answered.
type exchanged struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	answers []server.LookupAnswer
}

func (e *exchanged) release() {
	for _, b := range e.batches {
		b.Release()
	}
}

// lookupExchange sends req and the batches (from another goroutine, as a
// streaming client would) and reads every answer.
func lookupExchange(ctx context.Context, c flight.Client, mem memory.Allocator, req string, batches []arrow.RecordBatch) (*exchanged, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.DoExchange(ctx)
	if err != nil {
		return nil, err
	}
	sent := make(chan error, 1)
	go func() {
		var sc *arrow.Schema
		if len(batches) > 0 {
			sc = batches[0].Schema()
		} else {
			sc = arrow.NewSchema([]arrow.Field{{Name: "shop_code", Type: arrow.BinaryTypes.String}}, nil)
		}
		wr := flight.NewRecordWriter(stream, ipc.WithSchema(sc), ipc.WithAllocator(mem))
		wr.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(req)})
		var err error
		for _, b := range batches {
			if err = wr.Write(b); err != nil {
				break
			}
		}
		if err == nil && len(batches) == 0 {
			// Send the schema alone.
			err = wr.Close()
		} else {
			wr.Close()
		}
		stream.CloseSend()
		sent <- err
	}()
	out := &exchanged{}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		<-sent
		return nil, err
	}
	defer rdr.Release()
	out.schema = rdr.Schema()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		out.batches = append(out.batches, rec)
		var a server.LookupAnswer
		if err := json.Unmarshal(rdr.LatestAppMetadata(), &a); err != nil {
			out.release()
			<-sent
			return nil, fmt.Errorf("app_metadata %q: %w", rdr.LatestAppMetadata(), err)
		}
		out.answers = append(out.answers, a)
	}
	err = rdr.Err()
	<-sent
	if err != nil {
		out.release()
		return nil, err
	}
	return out, nil
}

// checkShops checks that the answers enrich the input with the shops in
// want: the input's id and shop_code, then shop_name and floor (NULL for
// an unknown or NULL code), found, and the misses of each batch.
func checkShops(t *testing.T, in []arrow.RecordBatch, got *exchanged, want map[string]shopRow) {
	t.Helper()
	if len(got.batches) != len(in) {
		t.Fatalf("%d answers to %d batches", len(got.batches), len(in))
	}
	if s := got.schema.String(); !strings.Contains(s, "id: type=int64") || got.schema.NumFields() != 5 ||
		got.schema.Field(2).Name != "shop_name" || got.schema.Field(3).Name != "floor" || got.schema.Field(4).Name != "found" {
		t.Fatalf("answer schema %s", s)
	}
	for b, rec := range got.batches {
		if rec.NumRows() != in[b].NumRows() {
			t.Fatalf("answer %d has %d rows, its batch %d", b, rec.NumRows(), in[b].NumRows())
		}
		inIDs := in[b].Column(0).(*array.Int64)
		inCodes := in[b].Column(1).(*array.String)
		ids := rec.Column(0).(*array.Int64)
		codes := rec.Column(1).(*array.String)
		names := rec.Column(2).(*array.String)
		floors := rec.Column(3).(*array.Int32)
		found := rec.Column(4).(*array.Boolean)
		var misses int64
		for i := range int(rec.NumRows()) {
			if ids.Value(i) != inIDs.Value(i) || codes.IsNull(i) != inCodes.IsNull(i) || codes.Value(i) != inCodes.Value(i) {
				t.Fatalf("answer %d row %d: input columns not carried through", b, i)
			}
			w, ok := want[codes.Value(i)]
			ok = ok && codes.IsValid(i)
			if !ok {
				misses++
				if names.IsValid(i) || floors.IsValid(i) || found.Value(i) {
					t.Fatalf("answer %d row %d (%s): a miss answered %s/%d/%v", b, i, codes.ValueStr(i), names.ValueStr(i), floors.Value(i), found.Value(i))
				}
				continue
			}
			if !found.Value(i) || names.Value(i) != w.name || floors.Value(i) != w.floor {
				t.Fatalf("answer %d row %d (%s): got %s/%d, want %s/%d", b, i, codes.Value(i), names.ValueStr(i), floors.Value(i), w.name, w.floor)
			}
		}
		if got.answers[b].Misses != misses {
			t.Fatalf("answer %d reports %d misses, has %d", b, got.answers[b].Misses, misses)
		}
	}
}

// testBatches are input batches of known codes, unknown codes and NULLs,
// an empty batch among them.
func testBatches(mem memory.Allocator, want map[string]shopRow) []arrow.RecordBatch {
	var known []string
	for c := range want {
		known = append(known, c)
	}
	var out []arrow.RecordBatch
	var id int64
	for b, n := range []int{5, 0, 1, 300, 40} {
		codes := make([]*string, n)
		for i := range codes {
			switch (i + b) % 7 {
			case 3:
				codes[i] = str("NOPE" + fmt.Sprint(i))
			case 5:
				codes[i] = nil
			default:
				codes[i] = str(known[(i*31+b)%len(known)])
			}
		}
		out = append(out, probeBatch(mem, id, codes))
		id += int64(n)
	}
	return out
}

func releaseAll(bs []arrow.RecordBatch) {
	for _, b := range bs {
		b.Release()
	}
}

func TestLookupExchangeModes(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	want := shopsOf(t, f.cat)
	tbl, err := f.cat.LoadTable(ctx, shopsIdent)
	if err != nil {
		t.Fatal(err)
	}
	snap := tbl.CurrentSnapshot().SnapshotID
	in := testBatches(f.mem, want)
	defer releaseAll(in)
	for _, mode := range []string{"", "full", "partial", "none"} {
		t.Run("mode="+mode, func(t *testing.T) {
			req := `{"lookup": "mall.shops", "keys": ["shop_code"], "columns": ["shop_name", "floor"], "found": "found"`
			if mode != "" {
				req += `, "mode": "` + mode + `"`
			}
			// Twice: the second exchange finds the table kept (and a
			// PARTIAL cache warm).
			for range 2 {
				got, err := lookupExchange(ctx, c.Client, f.mem, req+"}", in)
				if err != nil {
					t.Fatal(err)
				}
				checkShops(t, in, got, want)
				for i, a := range got.answers {
					if a.Snapshot != snap {
						t.Fatalf("answer %d from snapshot %d, the table's is %d", i, a.Snapshot, snap)
					}
				}
				got.release()
			}
		})
	}
}

func TestLookupExchangeDefaults(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	in := probeBatch(f.mem, 0, []*string{str("S0001"), str("nope")})
	defer in.Release()
	// No keys and no columns: the identifier fields and every other column.
	got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops"}`, []arrow.RecordBatch{in})
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	var names []string
	for _, fl := range got.schema.Fields() {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "id,shop_code,shop_name,category,floor,opened" {
		t.Fatalf("columns %v", names)
	}
	if got.answers[0].Misses != 1 || got.batches[0].Column(2).IsNull(0) || got.batches[0].Column(2).IsValid(1) {
		t.Fatalf("answer %v: %v", got.answers[0], got.batches[0])
	}
	// An input without batches gets the answer schema and no batch.
	empty, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "columns": []}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.release()
	if len(empty.batches) != 0 || empty.schema.NumFields() != 1 {
		t.Fatalf("empty input answered %d batches of %s", len(empty.batches), empty.schema)
	}
}

func TestLookupExchangeKeyTypes(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	// A large_string key column is looked up as the table's string key.
	sc := arrow.NewSchema([]arrow.Field{{Name: "shop_code", Type: arrow.BinaryTypes.LargeString}}, nil)
	b := array.NewLargeStringBuilder(f.mem)
	b.AppendValues([]string{"S0002", "S0001", "x"}, nil)
	a := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(sc, []arrow.Array{a}, 3)
	a.Release()
	defer rec.Release()
	got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "columns": ["shop_name"]}`, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	want := shopsOf(t, f.cat)
	names := got.batches[0].Column(1).(*array.String)
	if names.Value(0) != want["S0002"].name || names.Value(1) != want["S0001"].name || names.IsValid(2) {
		t.Fatalf("got %v", got.batches[0])
	}
}

func TestLookupExchangeErrors(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	good := probeBatch(f.mem, 0, []*string{str("S0001")})
	defer good.Release()
	intKey := func() arrow.RecordBatch {
		sc := arrow.NewSchema([]arrow.Field{{Name: "shop_code", Type: arrow.PrimitiveTypes.Int64}}, nil)
		b := array.NewInt64Builder(f.mem)
		b.Append(1)
		a := b.NewArray()
		b.Release()
		defer a.Release()
		return array.NewRecordBatch(sc, []arrow.Array{a}, 1)
	}()
	defer intKey.Release()
	noKey := func() arrow.RecordBatch {
		sc := arrow.NewSchema([]arrow.Field{{Name: "code", Type: arrow.BinaryTypes.String}}, nil)
		b := array.NewStringBuilder(f.mem)
		b.Append("S0001")
		a := b.NewArray()
		b.Release()
		defer a.Release()
		return array.NewRecordBatch(sc, []arrow.Array{a}, 1)
	}()
	defer noKey.Release()
	for _, tc := range []struct {
		name, req string
		in        arrow.RecordBatch
		code      codes.Code
		mentions  string
	}{
		{"not json", `lookup mall.shops`, good, codes.InvalidArgument, "JSON"},
		{"unknown field", `{"lookup": "mall.shops", "colums": ["x"]}`, good, codes.InvalidArgument, "colums"},
		{"no table", `{"keys": ["shop_code"]}`, good, codes.InvalidArgument, "names no table"},
		{"unqualified", `{"lookup": "shops"}`, good, codes.InvalidArgument, "namespace.table"},
		{"unknown table", `{"lookup": "mall.nope"}`, good, codes.NotFound, "mall.nope"},
		{"unknown namespace", `{"lookup": "nope.shops"}`, good, codes.NotFound, "nope.shops"},
		{"no identifier fields", `{"lookup": "mall.probe_events", "mode": "none"}`, good, codes.InvalidArgument, "identifier fields"},
		{"wrong keys", `{"lookup": "mall.shops", "keys": ["shop_name"]}`, good, codes.InvalidArgument, `"shop_code"`},
		{"extra key", `{"lookup": "mall.shops", "keys": ["shop_code", "floor"]}`, good, codes.InvalidArgument, `"floor"`},
		{"unknown column", `{"lookup": "mall.shops", "columns": ["shop_nam"]}`, good, codes.InvalidArgument, `"shop_nam"`},
		{"column twice", `{"lookup": "mall.shops", "columns": ["floor", "floor"]}`, good, codes.InvalidArgument, `"floor"`},
		{"bad mode", `{"lookup": "mall.shops", "mode": "fast"}`, good, codes.InvalidArgument, "fast"},
		{"unknown snapshot", `{"lookup": "mall.shops", "snapshot": 12345}`, good, codes.NotFound, "12345"},
		{"missing key column", `{"lookup": "mall.shops"}`, noKey, codes.InvalidArgument, `no key column "shop_code"`},
		{"key type", `{"lookup": "mall.shops"}`, intKey, codes.InvalidArgument, `key column "shop_code" is int64`},
		{"name clash", `{"lookup": "mall.shops", "columns": ["shop_code"]}`, good, codes.InvalidArgument, `"shop_code" is both`},
		{"found clash", `{"lookup": "mall.shops", "found": "id"}`, good, codes.InvalidArgument, `"id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookupExchange(ctx, c.Client, f.mem, tc.req, []arrow.RecordBatch{tc.in})
			if err == nil {
				got.release()
				t.Fatal("no error")
			}
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.mentions) {
				t.Fatalf("got %v, want %s mentioning %s", err, tc.code, tc.mentions)
			}
		})
	}

	// A descriptor that is not a command.
	stream, err := c.Client.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"mall", "shops"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "CMD") {
		t.Fatalf("path descriptor: %v", err)
	}

	// The server keeps answering.
	got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "columns": ["floor"]}`, []arrow.RecordBatch{good})
	if err != nil {
		t.Fatal(err)
	}
	got.release()
}

// TestLookupExchangeCoalesces sends many small batches at once: they are
// looked up in groups, each still answered alone and in order.
func TestLookupExchangeCoalesces(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	want := shopsOf(t, f.cat)
	var in []arrow.RecordBatch
	var id int64
	for b := range 500 {
		n := 1 + b%9
		codes := make([]*string, n)
		for i := range codes {
			codes[i] = str(fmt.Sprintf("S%04d", 1+(b*7+i)%25))
		}
		in = append(in, probeBatch(f.mem, id, codes))
		id += int64(n)
	}
	defer releaseAll(in)
	for _, mode := range []string{"full", "none"} {
		got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "columns": ["shop_name", "floor"], "found": "found", "mode": "`+mode+`"}`, in)
		if err != nil {
			t.Fatal(err)
		}
		checkShops(t, in, got, want)
		got.release()
	}
}

func TestLookupExchangeConcurrent(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	want := shopsOf(t, f.cat)
	in := testBatches(f.mem, want)
	defer releaseAll(in)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		c := f.client(t)
		wg.Go(func() {
			mode := []string{"full", "partial", "none"}[g%3]
			for range 3 {
				got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "columns": ["shop_name", "floor"], "found": "found", "mode": "`+mode+`"}`, in)
				if err != nil {
					errs <- err
					return
				}
				checkShops(t, in, got, want)
				got.release()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// lazyCatalog lets a lookup manager be made before the test server's
// catalog exists.
type lazyCatalog struct {
	cat atomic.Pointer[catalog.Catalog]
}

func (l *lazyCatalog) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	return l.cat.Load().LoadTable(ctx, id)
}

// TestLookupExchangeFreshAndPinned commits a new shop: an exchange that
// runs on sees it within the refresh interval, answered from the new
// snapshot; one pinned to the old snapshot never does.
func TestLookupExchangeFreshAndPinned(t *testing.T) {
	lc := &lazyCatalog{}
	mgr := lookup.NewManager(lookup.Options{Catalog: lc, Default: lookup.TableConfig{Refresh: 20 * time.Millisecond}})
	f := startServer(t, func(o *server.Options) { o.Lookups = mgr })
	lc.cat.Store(f.cat)
	t.Cleanup(mgr.Close) // before the server's cleanup checks its memory
	ctx := context.Background()
	c := f.client(t)
	tbl, err := f.cat.LoadTable(ctx, shopsIdent)
	if err != nil {
		t.Fatal(err)
	}
	old := tbl.CurrentSnapshot().SnapshotID
	in := probeBatch(f.mem, 0, []*string{str("S0001"), str("NEW1")})
	defer in.Release()
	for _, mode := range []string{"full", "partial"} {
		got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "mode": "`+mode+`"}`, []arrow.RecordBatch{in})
		if err != nil {
			t.Fatal(err)
		}
		if got.answers[0].Misses != 1 || got.answers[0].Snapshot != old {
			t.Fatalf("%s before the commit: %+v", mode, got.answers[0])
		}
		got.release()
	}

	sc, err := catalog.ArrowSchema(tbl.Schema())
	if err != nil {
		t.Fatal(err)
	}
	appendJSON(t, ctx, tbl, sc, []string{`{"shop_code": "NEW1", "shop_name": "New Shop", "category": "food", "floor": 9, "opened": "2026-11-20"}`}, 10)
	tbl, err = f.cat.LoadTable(ctx, shopsIdent)
	if err != nil {
		t.Fatal(err)
	}
	next := tbl.CurrentSnapshot().SnapshotID

	for _, mode := range []string{"full", "partial", "none"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := lookupExchange(ctx, c.Client, f.mem, `{"lookup": "mall.shops", "mode": "`+mode+`"}`, []arrow.RecordBatch{in})
			if err != nil {
				t.Fatal(err)
			}
			a := got.answers[0]
			name := got.batches[0].Column(2).(*array.String)
			// Every answer is consistent with the snapshot it names.
			switch a.Snapshot {
			case old:
				if a.Misses != 1 || name.IsValid(1) {
					t.Fatalf("%s: answer from %d found NEW1", mode, old)
				}
			case next:
				if a.Misses != 0 || name.Value(1) != "New Shop" {
					t.Fatalf("%s: answer from %d misses NEW1: %v", mode, next, got.batches[0])
				}
			default:
				t.Fatalf("%s: answer from snapshot %d", mode, a.Snapshot)
			}
			got.release()
			if a.Snapshot == next {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the new snapshot is not seen", mode)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Pinned to either snapshot, each mode answers from it.
	for _, mode := range []string{"full", "partial", "none"} {
		for _, pin := range []int64{old, next} {
			got, err := lookupExchange(ctx, c.Client, f.mem, fmt.Sprintf(`{"lookup": "mall.shops", "mode": %q, "snapshot": %d}`, mode, pin), []arrow.RecordBatch{in})
			if err != nil {
				t.Fatal(err)
			}
			a := got.answers[0]
			got.release()
			wantMisses := int64(1)
			if pin == next {
				wantMisses = 0
			}
			if a.Snapshot != pin || a.Misses != wantMisses {
				t.Fatalf("%s pinned to %d: %+v", mode, pin, a)
			}
		}
	}
	var kept int
	for _, st := range mgr.Stats() {
		if st.Table == "mall.shops" && st.Snapshot == next {
			kept++
		}
	}
	if kept != 2 {
		t.Fatalf("stats %+v", mgr.Stats())
	}
}

func TestLookupExchangeAuthenticated(t *testing.T) {
	f := startServer(t, func(o *server.Options) { o.Tokens = []string{"static-token-123"} })
	ctx := context.Background()
	c := f.client(t)
	in := probeBatch(f.mem, 0, []*string{str("S0001")})
	defer in.Release()
	req := `{"lookup": "mall.shops", "columns": ["shop_name"]}`
	if _, err := lookupExchange(ctx, c.Client, f.mem, req, []arrow.RecordBatch{in}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer nope-nope-nope")
	if _, err := lookupExchange(bad, c.Client, f.mem, req, []arrow.RecordBatch{in}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("bad token: %v", err)
	}
	good := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer static-token-123")
	got, err := lookupExchange(good, c.Client, f.mem, req, []arrow.RecordBatch{in})
	if err != nil {
		t.Fatal(err)
	}
	got.release()
}

// TestLookupExchangeClientGoesAway cancels an exchange with batches still
// queued: the server releases them and its goroutines end.
func TestLookupExchangeClientGoesAway(t *testing.T) {
	f := startServer(t, nil)
	c := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Client.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := probeBatch(f.mem, 0, []*string{str("S0001"), str("S0002")})
	defer in.Release()
	wr := flight.NewRecordWriter(stream, ipc.WithSchema(in.Schema()))
	wr.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"lookup": "mall.shops"}`)})
	for range 200 {
		if err := wr.Write(in); err != nil {
			break
		}
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	wr.Close()
}
