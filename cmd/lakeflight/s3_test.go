package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/scan"
)

// versitygw finds the S3-compatible server the tests run
// (scripts/setup-test-env.sh builds it into .tools/bin). Without it the
// test is skipped, unless LAKEFLIGHT_REQUIRE_S3=1 (the suite sets it).
func versitygw(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LAKEFLIGHT_VERSITYGW"); p != "" {
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", "versitygw"))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("LAKEFLIGHT_REQUIRE_S3") == "1" {
		t.Fatalf("versitygw not found at %s: run scripts/setup-test-env.sh", p)
	}
	t.Skip("versitygw not installed (scripts/setup-test-env.sh builds it)")
	return ""
}

// startS3 runs versitygw over a fresh folder with one bucket and returns
// its endpoint.
func startS3(t *testing.T, bucket, access, secret string) string {
	t.Helper()
	bin := versitygw(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "posix", "--nometa", root)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	endpoint := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := client.Get(endpoint); err == nil {
			resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatal("versitygw did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeTablesOnS3 writes the demo tables to an S3-compatible server
// and the same tables (byte for byte the same data) to a local folder,
// serves each with lakeflight, and checks that queries answer the same
// over both, and that reads from object storage are counted.
func TestServeTablesOnS3(t *testing.T) {
	const bucket, access, secret = "lake", "lakeflight-test", "lakeflight-test-secret"
	endpoint := startS3(t, bucket, access, secret)
	props := map[string]string{
		"s3.endpoint": endpoint, "s3.access-key-id": access, "s3.secret-access-key": secret, "s3.region": "us-east-1",
	}
	ctx := context.Background()
	opts := datagen.DefaultDemoOptions()
	opts.Events, opts.Days = 20000, 3
	dir := t.TempDir()
	write := func(name, warehouse string, props map[string]string) string {
		db := filepath.Join(dir, name+".db")
		cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + db, Warehouse: warehouse, Properties: props})
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		if err := datagen.WriteDemo(ctx, cat.Iceberg(), opts); err != nil {
			t.Fatalf("write demo to %s: %v", warehouse, err)
		}
		return db
	}
	s3db := write("s3", "s3://"+bucket+"/wh", props)
	localdb := write("local", "file://"+filepath.Join(dir, "wh"), nil)

	serve := func(args ...string) (addr, maddr string) {
		addr, maddr = freeAddr(t), freeAddr(t)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- run(sctx, append([]string{"serve", "--listen", addr, "--metrics-listen", maddr, "--log-level", "warn"}, args...))
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve %v: %v", args, err)
			}
		})
		waitServing(t, ctx, addr, done)
		return addr, maddr
	}
	var s3args []string
	for k, v := range props {
		s3args = append(s3args, "--catalog-property", k+"="+v)
	}
	s3addr, s3metrics := serve(append([]string{"--catalog-uri", "sqlite://" + s3db, "--warehouse", "s3://" + bucket + "/wh"}, s3args...)...)
	localaddr, _ := serve("--catalog-uri", "sqlite://"+localdb, "--warehouse", "file://"+filepath.Join(dir, "wh"))

	queries := []string{
		"SELECT count(*), sum(rssi), min(occur_time), max(pt) FROM mall.probe_events",
		"SELECT id, shop_code, rssi FROM mall.probe_events WHERE pt = '2026-11-02' AND rssi > -50",
		"SELECT s.category, count(*) AS n FROM mall.probe_events e JOIN mall.shops s ON e.shop_code = s.shop_code GROUP BY s.category",
		"SELECT info.vendor, geo.lat, tags FROM mall.devices WHERE geo.lat > 31.2",
	}
	before := metric(t, s3metrics, "lakeflight_storage_reads_total")
	for _, q := range queries {
		got := queryRows(t, ctx, s3addr, q)
		want := queryRows(t, ctx, localaddr, q)
		if len(want) == 0 {
			t.Fatalf("%s: no rows from the local tables", q)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\nS3:    %d rows %v\nlocal: %d rows %v", q, len(got), head(got), len(want), head(want))
		}
	}
	if after := metric(t, s3metrics, "lakeflight_storage_reads_total"); after <= before {
		t.Errorf("storage reads did not grow over the queries: %v then %v", before, after)
	}
	if b := metric(t, s3metrics, "lakeflight_storage_read_bytes_total"); b <= 0 {
		t.Errorf("no bytes read from storage counted: %v", b)
	}
}

// waitServing waits until the server at addr reports SERVING.
func waitServing(t *testing.T, ctx context.Context, addr string, done <-chan error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for deadline := time.Now().Add(60 * time.Second); ; {
		res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && res.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("server ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not serving: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func head(rows []string) []string { return rows[:min(len(rows), 5)] }

// queryRows runs q over Flight SQL and returns its rows rendered, sorted.
func queryRows(t *testing.T, ctx context.Context, addr, q string) []string {
	t.Helper()
	c, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Execute(ctx, q)
	if err != nil {
		t.Fatalf("%s on %s: %v", q, addr, err)
	}
	var rows []string
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			for i := range int(rec.NumRows()) {
				var sb strings.Builder
				for _, col := range rec.Columns() {
					sb.WriteString(col.ValueStr(i))
					sb.WriteByte('|')
				}
				rows = append(rows, sb.String())
			}
		}
		if err := rdr.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rdr.Release()
	}
	slices.Sort(rows)
	return rows
}

// metric reads one unlabelled value from a /metrics endpoint.
func metric(t *testing.T, maddr, name string) float64 {
	t.Helper()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", name, err))
	}
	return v
}

// TestCoalescedReadsOnS3 reads a file of 20 columns in 4 row groups from
// an S3-compatible server, with the chunks of each row group fetched in
// coalesced ranged requests and with one request per chunk, and checks
// that the rows are the same and the requests far fewer; then queries the
// table through the server and checks the requests it counts.
func TestCoalescedReadsOnS3(t *testing.T) {
	const bucket, access, secret = "lake", "lakeflight-test", "lakeflight-test-secret"
	endpoint := startS3(t, bucket, access, secret)
	props := map[string]string{
		"s3.endpoint": endpoint, "s3.access-key-id": access, "s3.secret-access-key": secret, "s3.region": "us-east-1",
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "catalog.db")
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + db, Warehouse: "s3://" + bucket + "/wh", Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	const columns, rows, groupRows = 20, 20_000, 5000
	ident := writeWideTable(t, ctx, cat, columns, rows, groupRows)
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}

	read := func(fetch scan.FetchOptions) (out []string, requests, bytes int64, st scan.ReadStats) {
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fetch: fetch, Concurrency: 1})
		if err != nil {
			t.Fatal(err)
		}
		before := catalog.Storage()
		r, err := p.Open(ctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range int(rec.NumRows()) {
				var sb strings.Builder
				for _, col := range rec.Columns() {
					sb.WriteString(col.ValueStr(i))
					sb.WriteByte('|')
				}
				out = append(out, sb.String())
			}
			rec.Release()
		}
		after := catalog.Storage()
		return out, after.Requests - before.Requests, after.Bytes - before.Bytes, r.Stats()
	}
	// A first read caches the footer for both.
	read(scan.FetchOptions{})
	got, reqs, nbytes, st := read(scan.FetchOptions{})
	want, reqsOff, bytesOff, _ := read(scan.FetchOptions{ObjectGapBytes: -1})
	t.Logf("%d row groups of %d columns: %d requests, %d bytes coalesced; %d requests, %d bytes one per chunk", st.RowGroups, columns, reqs, nbytes, reqsOff, bytesOff)
	if len(got) != rows || !slices.Equal(got, want) {
		t.Fatalf("%d rows coalesced, %d not; they differ", len(got), len(want))
	}
	if st.RowGroups != rows/groupRows {
		t.Fatalf("%d row groups, want %d", st.RowGroups, rows/groupRows)
	}
	// Opening the object is one request, each row group one more.
	if reqs > 1+st.RowGroups {
		t.Errorf("%d requests coalesced, want at most %d", reqs, 1+st.RowGroups)
	}
	if reqsOff < st.RowGroups*columns {
		t.Errorf("%d requests one per chunk, want at least %d", reqsOff, st.RowGroups*columns)
	}

	// Through the server.
	addr, maddr := freeAddr(t), freeAddr(t)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	args := []string{"serve", "--listen", addr, "--metrics-listen", maddr, "--log-level", "warn",
		"--catalog-uri", "sqlite://" + db, "--warehouse", "s3://" + bucket + "/wh"}
	for k, v := range props {
		args = append(args, "--catalog-property", k+"="+v)
	}
	go func() { done <- run(sctx, args) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	waitServing(t, ctx, addr, done)
	q := "SELECT * FROM " + strings.Join(ident, ".")
	queryRows(t, ctx, addr, q) // footers cached
	before := metric(t, maddr, "lakeflight_storage_requests_total")
	served := queryRows(t, ctx, addr, q)
	n := metric(t, maddr, "lakeflight_storage_requests_total") - before
	t.Logf("the server's scan of %d rows: %v requests", len(served), n)
	if len(served) != rows {
		t.Errorf("the server returned %d rows, want %d", len(served), rows)
	}
	if n > float64(1+st.RowGroups) {
		t.Errorf("the server made %v requests, want at most %d", n, 1+st.RowGroups)
	}
}

// writeWideTable writes a table of columns columns (int64 and string in
// turn) holding rows rows in row groups of groupRows rows, in one file.
func writeWideTable(t *testing.T, ctx context.Context, cat *catalog.Catalog, columns, rows, groupRows int) table.Identifier {
	t.Helper()
	fields := make([]iceberg.NestedField, columns)
	for i := range fields {
		fields[i] = iceberg.NestedField{ID: i + 1, Name: fmt.Sprintf("c%02d", i), Type: iceberg.PrimitiveTypes.Int64, Required: true}
		if i%2 == 1 {
			fields[i].Type = iceberg.PrimitiveTypes.String
		}
	}
	ident := table.Identifier{"wide", "t"}
	if err := cat.Iceberg().CreateNamespace(ctx, table.Identifier{"wide"}, nil); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.Iceberg().CreateTable(ctx, ident, iceberg.NewSchema(0, fields...), icecat.WithProperties(iceberg.Properties{
		table.PropertyFormatVersion:   "2",
		table.ParquetRowGroupLimitKey: strconv.Itoa(groupRows),
	}))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, asc)
	defer b.Release()
	for r := range rows {
		for c := range columns {
			v := int64(r*(c+3)) % 100_003
			if c%2 == 0 {
				b.Field(c).(*array.Int64Builder).Append(v)
			} else {
				b.Field(c).(*array.StringBuilder).Append("v" + strconv.FormatInt(v, 36))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	at := array.NewTableFromRecords(asc, []arrow.RecordBatch{rec})
	defer at.Release()
	txn := tbl.NewTransaction()
	if err := txn.AppendTable(ctx, at, int64(rows), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return ident
}
