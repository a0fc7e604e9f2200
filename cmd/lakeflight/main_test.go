package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lakeflight/lakeflight/lookup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	addr, maddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--warehouse", dir, "--demo-events", "20000",
			"--listen", addr, "--metrics-listen", maddr, "--log-level", "warn"})
	}()

	waitServing(t, ctx, addr, done)

	c, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Execute(ctx, "SELECT id, shop_code FROM mall.probe_events WHERE rssi > -70 LIMIT 5")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	rdr.Release()
	if rows != 5 {
		t.Fatalf("rows = %d", rows)
	}
	if n := exchangeShops(t, ctx, c.Client); n != 1 {
		t.Fatalf("lookup exchange answered %d shop names, want 1", n)
	}
	c.Close()

	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"lakeflight_rows", "lakeflight_rpc_duration_seconds_bucket", `method="DoGet"`,
		`lakeflight_cache_misses_total{cache="manifests"`, `lakeflight_cache_hits_total{cache="footers"`, `lakeflight_cache_size_bytes{cache="footers"`,
		`lakeflight_cache_capacity_bytes{cache="manifests"`, `method="DoExchange"`,
		`lakeflight_lookup_size_bytes{mode="full"`, `lakeflight_lookup_keys{mode="full"`, `table="mall.shops"} 200`,
		`lakeflight_lookup_refreshes_total{`, `lakeflight_lookup_snapshots_behind{`, `lakeflight_lookup_snapshot{`,
		`lakeflight_lookup_memory_used_bytes{`, `lakeflight_lookup_memory_budget_bytes{`, `} 1.073741824e+09`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
	// A second start reuses the demo warehouse instead of failing.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		done <- run(ctx2, []string{"serve", "--demo", "--warehouse", dir, "--listen", freeAddr(t), "--log-level", "warn"})
	}()
	time.Sleep(2 * time.Second)
	cancel2()
	if err := <-done; err != nil {
		t.Fatalf("restart on an existing demo warehouse: %v", err)
	}
}

// exchangeShops looks up a known and an unknown shop code through
// DoExchange and returns how many names came back.
func exchangeShops(t *testing.T, ctx context.Context, c flight.Client) int {
	t.Helper()
	stream, err := c.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: "shop_code", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	b.AppendValues([]string{"S0001", "nope"}, nil)
	col := b.NewArray()
	rec := array.NewRecordBatch(sc, []arrow.Array{col}, 2)
	wr := flight.NewRecordWriter(stream, ipc.WithSchema(sc))
	wr.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"lookup": "mall.shops", "columns": ["shop_name"]}`)})
	if err := wr.Write(rec); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	stream.CloseSend()
	rec.Release()
	col.Release()
	b.Release()
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	n := 0
	for rdr.Next() {
		names := rdr.RecordBatch().Column(1)
		n += names.Len() - names.NullN()
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRefusesRemoteWithoutAuth(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--catalog-uri", "sqlite:///nonexistent/x.db", "--listen", "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "without authentication") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lakeflight.yaml")
	if err := os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:9999\ncatalog_uri: sqlite:///x.db\nmax_endpoints: 8\ntokens: [abcdefgh1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServe([]string{"--config", cfgPath, "--max-endpoints", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.CatalogURI != "sqlite:///x.db" || cfg.MaxEndpoints != 2 || len(cfg.Tokens) != 1 {
		t.Errorf("config %+v", cfg)
	}
	if err := os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:9999\nlisten_port: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseServe([]string{"--config", cfgPath}); err == nil || !strings.Contains(err.Error(), "listen_port") {
		t.Errorf("unknown config key: %v", err)
	}
	for _, bad := range [][]string{
		{"--listen", "nope"},
		{"--tls-cert", "a.pem"},
		{"--max-endpoints", "0"},
		{"--log-format", "xml"},
		{"--demo", "--catalog-uri", "sqlite:///x.db"},
	} {
		if _, err := parseServe(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestLookupConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lakeflight.yaml")
	yml := `catalog_uri: sqlite:///x.db
lookup:
  memory: 2GiB
  mode: partial
  refresh: 30s
  cache_bytes: 32MiB
  ttl: 5m
  tables:
    mall.shops: {mode: full, refresh: 1s}
    mall.device_places: {mode: PARTIAL, cache_bytes: 1000000, ttl: 1m}
`
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServe([]string{"--config", cfgPath, "--lookup-refresh", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := cfg.Lookup.options()
	if err != nil {
		t.Fatal(err)
	}
	want := lookup.Options{Memory: 2 << 30,
		Default: lookup.TableConfig{Mode: lookup.Partial, Refresh: 2 * time.Second, CacheBytes: 32 << 20, TTL: 5 * time.Minute},
		Tables: map[string]lookup.TableConfig{
			"mall.shops":         {Mode: lookup.Full, Refresh: time.Second},
			"mall.device_places": {Mode: lookup.Partial, CacheBytes: 1000000, TTL: time.Minute},
		}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("lookup options %+v, want %+v", o, want)
	}
	cfg, err = parseServe([]string{"--catalog-uri", "sqlite:///x.db"})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := cfg.Lookup.options(); o.Memory != 1<<30 || o.Default.Mode != lookup.Full || o.Default.Refresh != 10*time.Second {
		t.Errorf("default lookup options %+v", o)
	}
	for _, bad := range [][]string{
		{"--lookup-mode", "fast"},
		{"--lookup-memory", "lots"},
		{"--lookup-memory", "0"},
		{"--lookup-refresh", "0s"},
	} {
		if _, err := parseServe(append([]string{"--catalog-uri", "sqlite:///x.db"}, bad...)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	for _, bad := range []string{"lookup: {mode: fast}", "lookup: {tables: {shops: {mode: full}}}", "lookup: {tables: {mall.shops: {cache_bytes: lots}}}", "lookup: {tables: {mall.shops: {moed: full}}}"} {
		if err := os.WriteFile(cfgPath, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := parseServe([]string{"--config", cfgPath}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestReadUsers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "users")
	os.WriteFile(p, []byte("# team\nalice:pw1\n\nbob:$2a$10$abcdefghijklmnopqrstuv\n"), 0o600)
	users, err := readUsers(p)
	if err != nil || users["alice"] != "pw1" || !strings.HasPrefix(users["bob"], "$2a$") {
		t.Fatalf("%v %v", users, err)
	}
	os.WriteFile(p, []byte("alice\n"), 0o600)
	if _, err := readUsers(p); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("malformed line: %v", err)
	}
}
