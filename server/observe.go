package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/scan"
)

var tracer = otel.Tracer("github.com/lakeflight/lakeflight/server")

// Metrics are the server's OpenTelemetry instruments.
type Metrics struct {
	rpcs      metric.Int64Counter
	queries   metric.Int64Counter
	rows      metric.Int64Counter
	bytes     metric.Int64Counter
	errors    metric.Int64Counter
	authFails metric.Int64Counter
	latency   metric.Float64Histogram
	scans     scanMetrics

	// lookups is the manager whose tables the lookup gauges report.
	lookups atomic.Pointer[lookup.Manager]
}

// scanMetrics count what the scans of queries pruned and read.
type scanMetrics struct {
	// files counts data files by outcome: read (planned) or skipped (by
	// partitions and file statistics).
	files metric.Int64Counter
	// rowGroups counts row groups by outcome: read, skipped_stats,
	// skipped_dictionary, skipped_bloom or skipped_page_index.
	rowGroups metric.Int64Counter
	// pages counts the data pages of row groups tested page by page, by
	// outcome: read or skipped.
	pages metric.Int64Counter
	// bytesRead and bytesSkipped are the compressed column bytes read and
	// skipped; tableBytes the bytes of the tables' data files, once per
	// query (its first part).
	bytesRead, bytesSkipped, tableBytes metric.Int64Counter
}

func newScanMetrics(meter metric.Meter) (scanMetrics, error) {
	var m scanMetrics
	var err error
	if m.files, err = meter.Int64Counter("lakeflight.scan.files", metric.WithDescription("data files of the snapshots queried, by outcome: read (planned) or skipped (pruned by partitions and file statistics)")); err != nil {
		return m, err
	}
	if m.rowGroups, err = meter.Int64Counter("lakeflight.scan.row_groups", metric.WithDescription("row groups of the files read, by outcome: read, skipped_stats, skipped_dictionary, skipped_bloom, skipped_page_index")); err != nil {
		return m, err
	}
	if m.pages, err = meter.Int64Counter("lakeflight.scan.pages", metric.WithDescription("data pages of the row groups tested through page indexes, by outcome: read or skipped")); err != nil {
		return m, err
	}
	if m.bytesRead, err = meter.Int64Counter("lakeflight.scan.read", metric.WithUnit("By"), metric.WithDescription("compressed bytes of column chunks read by scans (with dictionaries, bloom filters and page indexes read to prune)")); err != nil {
		return m, err
	}
	if m.bytesSkipped, err = meter.Int64Counter("lakeflight.scan.skipped", metric.WithUnit("By"), metric.WithDescription("compressed bytes of column chunks scans skipped")); err != nil {
		return m, err
	}
	if m.tableBytes, err = meter.Int64Counter("lakeflight.scan.table", metric.WithUnit("By"), metric.WithDescription("bytes of all data files of the snapshots queried, counted once per query")); err != nil {
		return m, err
	}
	return m, nil
}

// scanned records the pruning figures of a query stream's scans: as
// attributes of its span and in the scan counters. Planning figures
// (files, table bytes) describe the whole query, so only its first part
// (first) adds them to the counters.
func (m *Metrics) scanned(ctx context.Context, span trace.Span, totals *scan.Totals, first bool) {
	pl, rd := totals.Plans(), totals.Read()
	if pl.Scans == 0 {
		return
	}
	filesSkipped := max(pl.TableDataFiles-pl.DataFiles, 0)
	span.SetAttributes(
		attribute.Int64("lakeflight.scan.scans", pl.Scans),
		attribute.Int64("lakeflight.scan.files.table", pl.TableDataFiles),
		attribute.Int64("lakeflight.scan.files.planned", pl.DataFiles),
		attribute.Int64("lakeflight.scan.files.skipped", filesSkipped),
		attribute.Int64("lakeflight.scan.files.read", rd.Files),
		attribute.Int64("lakeflight.scan.files.iceberg", rd.FallbackFiles),
		attribute.Int64("lakeflight.scan.row_groups.total", rd.RowGroups+rd.RowGroupsSkipped),
		attribute.Int64("lakeflight.scan.row_groups.read", rd.RowGroups),
		attribute.Int64("lakeflight.scan.row_groups.skipped_stats", rd.SkippedByStats),
		attribute.Int64("lakeflight.scan.row_groups.skipped_dictionary", rd.SkippedByDictionary),
		attribute.Int64("lakeflight.scan.row_groups.skipped_bloom", rd.SkippedByBloomFilter),
		attribute.Int64("lakeflight.scan.row_groups.skipped_page_index", rd.SkippedByPageIndex),
		attribute.Int64("lakeflight.scan.pages.total", rd.Pages),
		attribute.Int64("lakeflight.scan.pages.skipped", rd.PagesSkipped),
		attribute.Int64("lakeflight.scan.rows.read", rd.RowsRead),
		attribute.Int64("lakeflight.scan.rows.skipped", rd.RowsSkipped+rd.LateRowsSkipped),
		attribute.Int64("lakeflight.scan.bytes.read", rd.BytesRead),
		attribute.Int64("lakeflight.scan.bytes.skipped", rd.BytesSkipped),
		attribute.Int64("lakeflight.scan.bytes.table", pl.TableBytes),
	)
	sm := m.scans
	outcome := func(o string) metric.AddOption { return metric.WithAttributes(attribute.String("outcome", o)) }
	if first {
		sm.files.Add(ctx, pl.DataFiles, outcome("read"))
		sm.files.Add(ctx, filesSkipped, outcome("skipped"))
		sm.tableBytes.Add(ctx, pl.TableBytes)
	}
	sm.rowGroups.Add(ctx, rd.RowGroups, outcome("read"))
	sm.rowGroups.Add(ctx, rd.SkippedByStats, outcome("skipped_stats"))
	sm.rowGroups.Add(ctx, rd.SkippedByDictionary, outcome("skipped_dictionary"))
	sm.rowGroups.Add(ctx, rd.SkippedByBloomFilter, outcome("skipped_bloom"))
	sm.rowGroups.Add(ctx, rd.SkippedByPageIndex, outcome("skipped_page_index"))
	sm.pages.Add(ctx, rd.Pages-rd.PagesSkipped, outcome("read"))
	sm.pages.Add(ctx, rd.PagesSkipped, outcome("skipped"))
	sm.bytesRead.Add(ctx, rd.BytesRead)
	sm.bytesSkipped.Add(ctx, rd.BytesSkipped)
}

// NewMetrics creates the instruments on meter.
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{}
	var err error
	if m.rpcs, err = meter.Int64Counter("lakeflight.rpcs", metric.WithDescription("Flight RPCs served")); err != nil {
		return nil, err
	}
	if m.queries, err = meter.Int64Counter("lakeflight.queries", metric.WithDescription("query streams executed (one per endpoint read)")); err != nil {
		return nil, err
	}
	if m.rows, err = meter.Int64Counter("lakeflight.rows", metric.WithDescription("rows streamed to clients")); err != nil {
		return nil, err
	}
	if m.bytes, err = meter.Int64Counter("lakeflight.bytes", metric.WithUnit("By"), metric.WithDescription("Arrow buffer bytes streamed to clients")); err != nil {
		return nil, err
	}
	if m.errors, err = meter.Int64Counter("lakeflight.errors", metric.WithDescription("RPCs that ended in an error, by gRPC code")); err != nil {
		return nil, err
	}
	if m.authFails, err = meter.Int64Counter("lakeflight.auth.failures", metric.WithDescription("rejected credentials")); err != nil {
		return nil, err
	}
	if m.latency, err = meter.Float64Histogram("lakeflight.rpc.duration", metric.WithUnit("s"), metric.WithDescription("RPC latency"),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, err
	}
	if m.scans, err = newScanMetrics(meter); err != nil {
		return nil, err
	}
	if err := cacheMetrics(meter); err != nil {
		return nil, err
	}
	if err := m.lookupMetrics(meter); err != nil {
		return nil, err
	}
	return m, nil
}

// observeLookups makes the lookup metrics report mgr's tables.
func (m *Metrics) observeLookups(mgr *lookup.Manager) { m.lookups.Store(mgr) }

// lookupMetrics reports the lookup manager's figures at each collection:
// per kept table (labels table and mode) the bytes held, keys held or
// cached, the snapshot held and how many snapshots the table is ahead of
// it, PARTIAL cache hits and misses and refreshes applied; and the bytes
// held by all tables against the lookup memory budget.
func (m *Metrics) lookupMetrics(meter metric.Meter) error {
	size, err := meter.Int64ObservableGauge("lakeflight.lookup.size", metric.WithUnit("By"), metric.WithDescription("bytes a lookup table holds in memory"))
	if err != nil {
		return err
	}
	keys, err := meter.Int64ObservableGauge("lakeflight.lookup.keys", metric.WithDescription("keys a lookup table holds (full) or caches (partial)"))
	if err != nil {
		return err
	}
	snapshot, err := meter.Int64ObservableGauge("lakeflight.lookup.snapshot", metric.WithDescription("snapshot id a lookup table answers from"))
	if err != nil {
		return err
	}
	behind, err := meter.Int64ObservableGauge("lakeflight.lookup.snapshots_behind", metric.WithDescription("snapshots the table had committed past the one held, at the last check"))
	if err != nil {
		return err
	}
	hits, err := meter.Int64ObservableCounter("lakeflight.lookup.hits", metric.WithDescription("keys a partial lookup cache answered"))
	if err != nil {
		return err
	}
	misses, err := meter.Int64ObservableCounter("lakeflight.lookup.misses", metric.WithDescription("keys a partial lookup cache read from the table"))
	if err != nil {
		return err
	}
	refreshes, err := meter.Int64ObservableCounter("lakeflight.lookup.refreshes", metric.WithDescription("new snapshots applied to a lookup table"))
	if err != nil {
		return err
	}
	used, err := meter.Int64ObservableGauge("lakeflight.lookup.memory.used", metric.WithUnit("By"), metric.WithDescription("bytes reserved by all lookup tables"))
	if err != nil {
		return err
	}
	budget, err := meter.Int64ObservableGauge("lakeflight.lookup.memory.budget", metric.WithUnit("By"), metric.WithDescription("bytes all lookup tables may reserve (--lookup-memory)"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mgr := m.lookups.Load()
		if mgr == nil {
			return nil
		}
		u, b := mgr.Used()
		o.ObserveInt64(used, u)
		o.ObserveInt64(budget, b)
		for _, st := range mgr.Stats() {
			set := metric.WithAttributes(attribute.String("table", st.Table), attribute.String("mode", st.Mode.String()))
			o.ObserveInt64(size, st.Bytes, set)
			o.ObserveInt64(keys, st.Keys, set)
			o.ObserveInt64(snapshot, st.Snapshot, set)
			o.ObserveInt64(behind, int64(st.Behind), set)
			o.ObserveInt64(hits, st.Hits, set)
			o.ObserveInt64(misses, st.Misses, set)
			o.ObserveInt64(refreshes, st.Refreshes, set)
		}
		return nil
	}, size, keys, snapshot, behind, hits, misses, refreshes, used, budget)
	return err
}

// cacheMetrics reports the metadata caches' figures at each collection:
// hits and misses (counters), bytes held and the bound (gauges), labelled
// by cache (manifests: manifest lists and manifests; footers: Parquet
// footers).
func cacheMetrics(meter metric.Meter) error {
	hits, err := meter.Int64ObservableCounter("lakeflight.cache.hits", metric.WithDescription("metadata cache lookups answered from the cache"))
	if err != nil {
		return err
	}
	misses, err := meter.Int64ObservableCounter("lakeflight.cache.misses", metric.WithDescription("metadata cache lookups that read the file"))
	if err != nil {
		return err
	}
	size, err := meter.Int64ObservableGauge("lakeflight.cache.size", metric.WithUnit("By"), metric.WithDescription("bytes a metadata cache holds"))
	if err != nil {
		return err
	}
	capacity, err := meter.Int64ObservableGauge("lakeflight.cache.capacity", metric.WithUnit("By"), metric.WithDescription("bytes a metadata cache may hold"))
	if err != nil {
		return err
	}
	reads, err := meter.Int64ObservableCounter("lakeflight.storage.reads", metric.WithDescription("read calls on table files (object storage: one request each), cached manifests not counted"))
	if err != nil {
		return err
	}
	readBytes, err := meter.Int64ObservableCounter("lakeflight.storage.read", metric.WithUnit("By"), metric.WithDescription("bytes read from table files"))
	if err != nil {
		return err
	}
	requests, err := meter.Int64ObservableCounter("lakeflight.storage.requests", metric.WithDescription("requests to table files' storage: opens, ranged reads and whole-file reads (object storage: one GET each), cached manifests not counted"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := catalog.Storage()
		o.ObserveInt64(reads, st.Reads)
		o.ObserveInt64(readBytes, st.Bytes)
		o.ObserveInt64(requests, st.Requests)
		for _, c := range []struct {
			name  string
			stats catalog.CacheStats
		}{{"manifests", catalog.Manifests.Stats()}, {"footers", scan.Footers.Stats()}} {
			set := metric.WithAttributes(attribute.String("cache", c.name))
			o.ObserveInt64(hits, c.stats.Hits, set)
			o.ObserveInt64(misses, c.stats.Misses, set)
			o.ObserveInt64(size, c.stats.Bytes, set)
			o.ObserveInt64(capacity, c.stats.Capacity, set)
		}
		return nil
	}, hits, misses, size, capacity, reads, readBytes, requests)
	return err
}

// NoopMetrics records nothing.
func NoopMetrics() *Metrics {
	m, _ := NewMetrics(noop.NewMeterProvider().Meter(""))
	return m
}

// PrometheusMetrics creates metrics exported in the Prometheus text format by
// the returned handler (serve it at /metrics).
func PrometheusMetrics() (*Metrics, http.Handler, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	m, err := NewMetrics(mp.Meter("lakeflight"))
	if err != nil {
		return nil, nil, err
	}
	return m, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

func (m *Metrics) authFailure(ctx context.Context) { m.authFails.Add(ctx, 1) }

func (m *Metrics) streamed(ctx context.Context, rows, bytes int64) {
	m.rows.Add(ctx, rows)
	m.bytes.Add(ctx, bytes)
}

func shortMethod(full string) string {
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[i+1:]
	}
	return full
}

func skipAuth(method string) bool {
	return strings.HasSuffix(method, "/Handshake") || strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

func (s *Server) finish(ctx context.Context, span trace.Span, method string, start time.Time, err error) error {
	err = toStatus(err)
	code := status.Code(err)
	attrs := metric.WithAttributes(attribute.String("method", method), attribute.String("code", code.String()))
	s.metrics.rpcs.Add(ctx, 1, attrs)
	s.metrics.latency.Record(ctx, time.Since(start).Seconds(), attrs)
	if err != nil {
		s.metrics.errors.Add(ctx, 1, attrs)
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, code.String())
		s.log.LogAttrs(ctx, slog.LevelInfo, "rpc failed", slog.String("method", method), slog.String("code", code.String()), slog.String("error", status.Convert(err).Message()))
	} else {
		s.log.LogAttrs(ctx, slog.LevelDebug, "rpc", slog.String("method", method), slog.Duration("took", time.Since(start)))
	}
	span.End()
	return err
}

// recovered turns a panic in a handler into an Internal error, so one bad
// request cannot take the server down.
func (s *Server) recovered(ctx context.Context, method string, err *error) {
	if r := recover(); r != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "panic in handler", slog.String("method", method),
			slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		*err = fmt.Errorf("%w: internal error in %s: %v (this is a bug; the server keeps serving)", errInternal, method, r)
	}
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	method := shortMethod(info.FullMethod)
	ctx, span := tracer.Start(ctx, "flight."+method, trace.WithSpanKind(trace.SpanKindServer))
	defer func() { err = s.finish(ctx, span, method, start, err) }()
	defer s.recovered(ctx, method, &err)
	if !skipAuth(info.FullMethod) {
		if ctx, err = s.auth.check(ctx); err != nil {
			s.metrics.authFailure(ctx)
			return nil, err
		}
	}
	return handler(ctx, req)
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	method := shortMethod(info.FullMethod)
	ctx, span := tracer.Start(ss.Context(), "flight."+method, trace.WithSpanKind(trace.SpanKindServer))
	defer func() { err = s.finish(ctx, span, method, start, err) }()
	defer s.recovered(ctx, method, &err)
	if !skipAuth(info.FullMethod) {
		if ctx, err = s.auth.check(ctx); err != nil {
			s.metrics.authFailure(ctx)
			return err
		}
	}
	return handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}
