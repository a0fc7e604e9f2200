package server_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-adbc/go/adbc/sqldriver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/planner"
	"github.com/lakeflight/lakeflight/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql opens this once per process for the ADBC driver
		// registration; it is not per test.
		goleak.IgnoreAnyFunction("database/sql.(*DB).connectionOpener"),
	)
}

var driverRegistered = false

// fixture is a running server over a small demo warehouse.
type fixture struct {
	addr string
	cat  *catalog.Catalog
	mem  *memory.CheckedAllocator
}

func startServer(t *testing.T, mutate func(*server.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + dir + "/catalog.db", Warehouse: "file://" + dir + "/warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	opts := datagen.DefaultDemoOptions()
	opts.Events, opts.Days, opts.Devices, opts.Shops = 30_000, 3, 400, 20
	if err := datagen.WriteDemo(ctx, cat.Iceberg(), opts); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	sopts := server.DefaultOptions()
	sopts.Allocator = mem
	sopts.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(&sopts)
	}
	srv, err := server.New(cat, planner.New(cat, planner.DefaultOptions()), sopts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := cat.Close(); err != nil {
			t.Error(err)
		}
		// Scan workers of a cancelled stream may still be unwinding.
		for i := 0; i < 300 && mem.CurrentAlloc() != 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		mem.AssertSize(t, 0)
	})
	return &fixture{addr: lis.Addr().String(), cat: cat, mem: mem}
}

func (f *fixture) client(t *testing.T, mw ...flight.ClientMiddleware) *fsql.Client {
	t.Helper()
	c, err := fsql.NewClient(f.addr, nil, mw, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c.Alloc = f.mem
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads every endpoint of info and returns the total rows and the
// rows of the named int64 column.
func readAll(t *testing.T, ctx context.Context, c *fsql.Client, info *flight.FlightInfo, col string) (int64, []int64) {
	t.Helper()
	var n int64
	var vals []int64
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			n += rec.NumRows()
			if col != "" {
				idx := rec.Schema().FieldIndices(col)
				if len(idx) == 0 {
					t.Fatalf("no column %s in %s", col, rec.Schema())
				}
				a := rec.Column(idx[0]).(*array.Int64)
				for i := 0; i < a.Len(); i++ {
					vals = append(vals, a.Value(i))
				}
			}
		}
		if err := rdr.Err(); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
	}
	return n, vals
}

// icebergCount counts rows of a table with iceberg-go directly, applying
// pred row by row to the chosen int32 column (pred nil counts all rows).
func icebergRows(t *testing.T, cat *catalog.Catalog, id table.Identifier) arrow.Table {
	t.Helper()
	tbl, err := cat.LoadTable(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan().ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestStatementsAndEndpoints(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)

	ref := icebergRows(t, f.cat, table.Identifier{"mall", "probe_events"})
	defer ref.Release()
	var want int64
	rssiIdx := ref.Schema().FieldIndices("rssi")[0]
	for _, chunk := range ref.Column(rssiIdx).Data().Chunks() {
		a := chunk.(*array.Int32)
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) && a.Value(i) > -60 {
				want++
			}
		}
	}

	info, err := c.Execute(ctx, "SELECT id, rssi FROM mall.probe_events WHERE rssi > -60")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) < 2 {
		t.Errorf("a plain scan over %d files should use several endpoints, got %d", 6, len(info.Endpoint))
	}
	sc, err := flight.DeserializeSchema(info.Schema, f.mem)
	if err != nil {
		t.Fatal(err)
	}
	if sc.NumFields() != 2 || sc.Field(0).Type.ID() != arrow.INT64 || sc.Field(1).Type.ID() != arrow.INT32 {
		t.Errorf("schema %s", sc)
	}
	if tn, ok := sc.Field(0).Metadata.GetValue("ARROW:FLIGHT:SQL:TYPE_NAME"); !ok || tn != "BIGINT" {
		t.Errorf("column metadata TYPE_NAME = %q, %v", tn, ok)
	}
	n, ids := readAll(t, ctx, c, info, "id")
	if n != want {
		t.Errorf("rows = %d, want %d (iceberg-go scan)", n, want)
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %d returned by two endpoints", id)
		}
		seen[id] = true
	}

	info, err = c.Execute(ctx, "SELECT id FROM mall.probe_events LIMIT 7")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) != 1 {
		t.Errorf("LIMIT must use one endpoint, got %d", len(info.Endpoint))
	}
	if n, _ := readAll(t, ctx, c, info, "id"); n != 7 {
		t.Errorf("LIMIT 7 gave %d rows", n)
	}
}

func TestErrorsKeepServing(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	cases := []struct {
		sql  string
		code codes.Code
		want string
	}{
		{"SELEC 1", codes.InvalidArgument, "position 1"},
		{"SELECT * FROM mall.nope", codes.NotFound, "mall.nope"},
		{"SELECT * FROM nowhere.shops", codes.NotFound, "nowhere"},
		{"SELECT nope FROM mall.shops", codes.NotFound, `"nope"`},
		{"SELECT rank() OVER w FROM mall.shops WINDOW w AS (ORDER BY floor)", codes.Unimplemented, "WINDOW"},
		{"WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", codes.Unimplemented, "WITH RECURSIVE"},
		{"SELECT shop_code FROM mall.shops UNION SELECT shop_code, floor FROM mall.shops", codes.InvalidArgument, "same number of columns"},
		{"SELECT count(*) FROM mall.shops WHERE count(*) > 1", codes.InvalidArgument, "not allowed in WHERE"},
		{"SELECT shop_name, count(*) FROM mall.shops GROUP BY category", codes.InvalidArgument, "shop_name must appear in the GROUP BY"},
		{"SELECT shop_nme FROM mall.shops", codes.NotFound, `did you mean "shop_name"`},
		{"SELECT floor / 0 FROM mall.shops", codes.InvalidArgument, "division by zero"},
		{"INSERT INTO mall.shops VALUES ('x')", codes.Unimplemented, "INSERT"},
		{"SELECT * FROM mall.shops WHERE floor > ALL (SELECT floor FROM mall.shops)", codes.Unimplemented, "ALL (subquery)"},
		{"SELECT * FROM mall.shops WHERE floor = 'high'", codes.InvalidArgument, "high"},
	}
	for _, tc := range cases {
		info, err := c.Execute(ctx, tc.sql)
		if err == nil {
			// Errors found while executing arrive on DoGet.
			for _, ep := range info.Endpoint {
				rdr, derr := c.DoGet(ctx, ep.Ticket)
				if derr == nil {
					for rdr.Next() {
					}
					derr = rdr.Err()
					rdr.Release()
				}
				if derr != nil {
					err = derr
					break
				}
			}
		}
		st, _ := status.FromError(err)
		if st.Code() != tc.code || !strings.Contains(st.Message(), tc.want) {
			t.Errorf("%s: got %v %q, want %v containing %q", tc.sql, st.Code(), st.Message(), tc.code, tc.want)
		}
		info, err = c.Execute(ctx, "SELECT shop_code FROM mall.shops")
		if err != nil {
			t.Fatalf("after %q: %v", tc.sql, err)
		}
		if n, _ := readAll(t, ctx, c, info, ""); n != 20 {
			t.Fatalf("after %q: %d shops", tc.sql, n)
		}
	}
}

func TestTamperedTicketRefused(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	info, err := c.Execute(ctx, "SELECT shop_code FROM mall.shops")
	if err != nil {
		t.Fatal(err)
	}
	tkt := append([]byte(nil), info.Endpoint[0].Ticket.Ticket...)
	tkt[len(tkt)-5] ^= 0x01
	rdr, err := c.DoGet(ctx, &flight.Ticket{Ticket: tkt})
	if err == nil {
		for rdr.Next() {
		}
		err = rdr.Err()
		rdr.Release()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("tampered ticket: %v", err)
	}
	if n, _ := readAll(t, ctx, c, info, ""); n != 20 {
		t.Fatalf("original ticket gave %d rows", n)
	}
}

func TestPreparedStatementWithParameters(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	prep, err := c.Prepare(ctx, "SELECT shop_code, floor FROM mall.shops WHERE floor >= ? AND shop_code <> ?")
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Close(ctx)
	ps := prep.ParameterSchema()
	if ps.NumFields() != 2 || ps.Field(0).Type.ID() != arrow.INT32 || ps.Field(1).Type.ID() != arrow.STRING {
		t.Fatalf("parameter schema %s", ps)
	}
	if ds := prep.DatasetSchema(); ds.NumFields() != 2 {
		t.Fatalf("dataset schema %s", ds)
	}
	b := array.NewRecordBuilder(f.mem, ps)
	b.Field(0).(*array.Int32Builder).Append(3)
	b.Field(1).(*array.StringBuilder).Append("S0001")
	params := b.NewRecordBatch()
	b.Release()
	prep.SetParameters(params)
	params.Release()
	info, err := prep.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, ctx, c, info, "")

	ref := icebergRows(t, f.cat, table.Identifier{"mall", "shops"})
	defer ref.Release()
	var want int64
	floors := ref.Column(ref.Schema().FieldIndices("floor")[0]).Data().Chunks()
	codesCol := ref.Column(ref.Schema().FieldIndices("shop_code")[0]).Data().Chunks()
	for ci := range floors {
		fl, sc := floors[ci].(*array.Int32), codesCol[ci].(*array.String)
		for i := 0; i < fl.Len(); i++ {
			if fl.IsValid(i) && fl.Value(i) >= 3 && sc.Value(i) != "S0001" {
				want++
			}
		}
	}
	if got != want || want == 0 {
		t.Fatalf("prepared query gave %d rows, want %d", got, want)
	}
}

func TestMetadataCommands(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)

	read := func(info *flight.FlightInfo, err error) arrow.RecordBatch {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		var out arrow.RecordBatch
		for rdr.Next() {
			if out != nil {
				t.Fatal("more than one batch")
			}
			out = rdr.RecordBatch()
			out.Retain()
		}
		if out == nil {
			t.Fatal("no batch")
		}
		return out
	}
	cats := read(c.GetCatalogs(ctx))
	defer cats.Release()
	if cats.NumRows() != 1 || cats.Column(0).(*array.String).Value(0) != "default" {
		t.Errorf("catalogs: %v", cats)
	}
	schemas := read(c.GetDBSchemas(ctx, &fsql.GetDBSchemasOpts{}))
	defer schemas.Release()
	if schemas.NumRows() != 1 || schemas.Column(1).(*array.String).Value(0) != "mall" {
		t.Errorf("schemas: %v", schemas)
	}
	pattern := "device%"
	tables := read(c.GetTables(ctx, &fsql.GetTablesOpts{TableNameFilterPattern: &pattern, IncludeSchema: true}))
	defer tables.Release()
	if tables.NumRows() != 2 {
		t.Fatalf("tables like device%%: %d rows", tables.NumRows())
	}
	names := tables.Column(2).(*array.String)
	if names.Value(0) != "device_places" || names.Value(1) != "devices" {
		t.Errorf("tables: %v", names)
	}
	sc, err := flight.DeserializeSchema(tables.Column(4).(*array.Binary).Value(0), f.mem)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Field(0).Name != "user_device_mac" {
		t.Errorf("table schema: %s", sc)
	}
	for _, key := range []string{"ARROW:FLIGHT:SQL:TYPE_NAME", "ARROW:FLIGHT:SQL:TABLE_NAME", "ARROW:FLIGHT:SQL:IS_READ_ONLY"} {
		if _, ok := sc.Field(0).Metadata.GetValue(key); !ok {
			t.Errorf("column metadata lacks %s: %v", key, sc.Field(0).Metadata)
		}
	}
	ns := "mall"
	pks := read(c.GetPrimaryKeys(ctx, fsql.TableRef{DBSchema: &ns, Table: "shops"}))
	defer pks.Release()
	if pks.NumRows() != 1 || pks.Column(3).(*array.String).Value(0) != "shop_code" || pks.Column(4).(*array.Int32).Value(0) != 1 {
		t.Errorf("primary keys: %v", pks)
	}
	exp := read(c.GetExportedKeys(ctx, fsql.TableRef{DBSchema: &ns, Table: "shops"}))
	defer exp.Release()
	if exp.NumRows() != 0 || exp.NumCols() != 13 {
		t.Errorf("exported keys: %v", exp)
	}
	types := read(c.GetTableTypes(ctx))
	defer types.Release()
	if types.NumRows() != 1 {
		t.Errorf("table types: %v", types)
	}
	xdbc := read(c.GetXdbcTypeInfo(ctx, nil))
	defer xdbc.Release()
	if xdbc.NumRows() < 10 {
		t.Errorf("xdbc type info: %d rows", xdbc.NumRows())
	}
	info := read(c.GetSqlInfo(ctx, []fsql.SqlInfo{fsql.SqlInfoFlightSqlServerName, fsql.SqlInfoFlightSqlServerReadOnly}))
	defer info.Release()
	if info.NumRows() != 2 {
		t.Errorf("sql info: %v", info)
	}
}

func TestSessionOptions(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t, flight.NewClientCookieMiddleware())
	opts, err := flight.NewSessionOptionValues(map[string]any{"schema": "mall", "bogus": "x"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors["bogus"] == nil {
		t.Errorf("errors: %v", res.Errors)
	}
	info, err := c.Execute(ctx, "SELECT shop_code FROM shops")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := readAll(t, ctx, c, info, ""); n != 20 {
		t.Errorf("unqualified table in session schema: %d rows", n)
	}
	got, err := c.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.SessionOptions["schema"].GetStringValue() != "mall" {
		t.Errorf("session options: %v", got.SessionOptions)
	}
	// A forged session cookie is refused with Unauthenticated.
	bad := metadata.AppendToOutgoingContext(ctx, "cookie", "lakeflight_session=AAAA")
	raw := f.client(t)
	if _, err := raw.Execute(bad, "SELECT 1"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("forged session: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	f := startServer(t, func(o *server.Options) {
		o.Users = map[string]string{"alice": "s3cret"}
		o.Tokens = []string{"static-token-123"}
	})
	ctx := context.Background()
	c := f.client(t)
	if _, err := c.Execute(ctx, "SELECT 1"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no credentials: %v", err)
	}
	if _, err := c.Client.AuthenticateBasicToken(ctx, "alice", "wrong"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	authCtx, err := c.Client.AuthenticateBasicToken(ctx, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Execute(authCtx, "SELECT shop_code FROM mall.shops")
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(authCtx, ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
		}
		rdr.Release()
	}
	tokCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer static-token-123")
	if _, err := c.Execute(tokCtx, "SELECT 1"); err != nil {
		t.Fatalf("static token: %v", err)
	}
	badCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer nope-nope-nope")
	if _, err := c.Execute(badCtx, "SELECT 1"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("bad token: %v", err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if _, err := c.Execute(metadata.AppendToOutgoingContext(ctx, "authorization", basic), "SELECT 1"); err != nil {
		t.Fatalf("basic on a call: %v", err)
	}
}

func TestADBCDatabaseSQL(t *testing.T) {
	f := startServer(t, nil)
	if !driverRegistered {
		sql.Register("adbc-flightsql", sqldriver.Driver{Driver: flightsql.NewDriver(memory.DefaultAllocator)})
		driverRegistered = true
	}
	db, err := sql.Open("adbc-flightsql", "uri=grpc://"+f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// ADBC binds parameters to prepared statements only.
	stmt, err := db.Prepare("SELECT shop_code, shop_name, floor FROM mall.shops WHERE floor BETWEEN $1 AND $2 AND shop_name IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	rows, err := stmt.Query(int32(1), int32(2))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var code, name string
		var floor int32
		if err := rows.Scan(&code, &name, &floor); err != nil {
			t.Fatal(err)
		}
		if floor < 1 || floor > 2 || !strings.HasPrefix(code, "S") {
			t.Errorf("row %s %s %d", code, name, floor)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if n == 0 {
		t.Error("no shops on floors 1-2")
	}
	var one int64
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %v %v", one, err)
	}
	_, err = db.Query("SELECT * FROM mall.missing")
	if err == nil || !strings.Contains(err.Error(), "mall.missing") {
		t.Fatalf("missing table: %v", err)
	}
}

func TestClientGoesAwayMidStream(t *testing.T) {
	f := startServer(t, nil)
	c := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	info, err := c.Execute(ctx, "SELECT * FROM mall.probe_events")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() {
		t.Fatalf("no first batch: %v", rdr.Err())
	}
	cancel()
	for rdr.Next() {
	}
	rdr.Release()
	// The server's stream goroutine must end and free its batches; the
	// fixture's cleanup asserts the allocator is empty and goleak checks
	// that no goroutine is left.
	if _, err := c.Execute(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestCancelFlightInfo(t *testing.T) {
	f := startServer(t, nil)
	c := f.client(t)
	ctx := context.Background()
	info, err := c.Execute(ctx, "SELECT * FROM mall.probe_events")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != flight.CancelStatusCancelled {
		t.Fatalf("status %v", res.Status)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err == nil {
		for rdr.Next() {
		}
		err = rdr.Err()
		rdr.Release()
	}
	if status.Code(err) != codes.Canceled {
		t.Fatalf("DoGet of a cancelled query: %v", err)
	}
}

// TestFilesystemCatalog serves a Hadoop-layout filesystem catalog, written by
// iceberg-go, through the file:// URI.
func TestFilesystemCatalog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "file://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := datagen.DefaultDemoOptions()
	opts.Events, opts.Days, opts.Devices, opts.Shops = 5_000, 2, 100, 10
	if err := datagen.WriteDemo(ctx, cat.Iceberg(), opts); err != nil {
		t.Fatal(err)
	}
	if err := cat.Close(); err != nil {
		t.Fatal(err)
	}
	cat2, err := catalog.Open(ctx, catalog.Options{URI: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer cat2.Close()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	sopts := server.DefaultOptions()
	sopts.Allocator = mem
	sopts.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cat2, planner.New(cat2, planner.DefaultOptions()), sopts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	f := &fixture{addr: lis.Addr().String(), cat: cat2, mem: mem}
	c := f.client(t)
	info, err := c.Execute(ctx, "SELECT shop_code FROM mall.shops WHERE shop_code LIKE 'S000%'")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := readAll(t, ctx, c, info, ""); n != 9 {
		t.Fatalf("shops S0001..S0009: %d rows", n)
	}
}

func TestQueryMemoryLimit(t *testing.T) {
	f := startServer(t, func(o *server.Options) { o.QueryMemoryLimit = 256 << 10 })
	ctx := context.Background()
	c := f.client(t)
	info, err := c.Execute(ctx, "SELECT * FROM mall.probe_events ORDER BY occur_time DESC")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err == nil {
		for rdr.Next() {
		}
		err = rdr.Err()
		rdr.Release()
	}
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "query-memory-limit") {
		t.Fatalf("sort over the limit: %v", err)
	}
	info, err = c.Execute(ctx, "SELECT shop_code FROM mall.shops ORDER BY shop_code LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := readAll(t, ctx, c, info, ""); n != 3 {
		t.Fatalf("small query after the limit: %d rows", n)
	}
}
