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

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
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
