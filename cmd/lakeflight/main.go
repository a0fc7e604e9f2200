// Command lakeflight serves SQL over Apache Iceberg tables through Arrow
// Flight SQL.
//
//	lakeflight                      serve a generated demo warehouse in ./lakeflight-demo
//	lakeflight serve [flags]        serve a catalog (see lakeflight serve -h)
//	lakeflight demo --warehouse DIR write the demo warehouse and exit
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	icecat "github.com/apache/iceberg-go/catalog"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/planner"
	"github.com/lakeflight/lakeflight/scan"
	"github.com/lakeflight/lakeflight/server"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "lakeflight:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return serve(ctx, []string{"--demo", "--warehouse", "lakeflight-demo"})
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "demo":
		return demo(ctx, args[1:])
	case "version", "--version":
		fmt.Println("lakeflight", version)
		return nil
	case "help", "-h", "--help":
		fmt.Println("usage: lakeflight [serve|demo|version] [flags]\n\nWith no arguments, serves a generated demo warehouse in ./lakeflight-demo.\nRun 'lakeflight serve -h' for the server's flags.")
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		return serve(ctx, args)
	}
	return fmt.Errorf("unknown command %q (want serve, demo or version)", args[0])
}

// demoPaths maps a demo folder to its catalog URI and warehouse location.
func demoPaths(dir string) (uri, warehouse string, err error) {
	dir = strings.TrimPrefix(dir, "file://")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(abs, "warehouse"), 0o755); err != nil {
		return "", "", fmt.Errorf("demo folder: %w", err)
	}
	return "sqlite://" + filepath.Join(abs, "catalog.db"), "file://" + filepath.Join(abs, "warehouse"), nil
}

// ensureDemo writes the demo warehouse into cat unless it is there already.
func ensureDemo(ctx context.Context, cat *catalog.Catalog, events int64, log *slog.Logger) error {
	opts := datagen.DefaultDemoOptions()
	opts.Events = events
	start := time.Now()
	err := datagen.WriteDemo(ctx, cat.Iceberg(), opts)
	if errors.Is(err, icecat.ErrTableAlreadyExists) {
		log.Info("demo warehouse already present; serving it as it is")
		return nil
	}
	if err != nil {
		return fmt.Errorf("write demo warehouse: %w", err)
	}
	log.Info("demo warehouse written", slog.Int64("events", events), slog.Duration("took", time.Since(start)))
	return nil
}

func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("warehouse", "lakeflight-demo", "folder to write the demo warehouse into")
	events := fs.Int64("events", datagen.DefaultDemoOptions().Events, "probe events to generate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	uri, wh, err := demoPaths(*dir)
	if err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, catalog.Options{Name: "default", URI: uri, Warehouse: wh})
	if err != nil {
		return err
	}
	defer cat.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := ensureDemo(ctx, cat, *events, log); err != nil {
		return err
	}
	fmt.Printf("demo warehouse: catalog %s, warehouse %s\n", uri, wh)
	return nil
}

func newLogger(cfg config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	ho := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, ho))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, ho))
}

func serve(ctx context.Context, args []string) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	slog.SetDefault(log)

	opts := server.DefaultOptions()
	opts.Logger = log
	opts.Version = version
	opts.Tokens = cfg.Tokens
	if opts.QueryMemoryLimit, err = parseBytes(cfg.QueryMemoryLimit); err != nil {
		return err
	}
	if opts.QueryMemoryLimit == 0 {
		opts.QueryMemoryLimit = -1
	}
	manifests, _ := parseBytes(cfg.ManifestCache)
	footers, _ := parseBytes(cfg.FooterCache)
	catalog.Manifests.SetCapacity(manifests)
	scan.Footers.SetCapacity(footers)
	if cfg.UsersFile != "" {
		if opts.Users, err = readUsers(cfg.UsersFile); err != nil {
			return err
		}
	}
	if !opts.AuthEnabled() && !isLoopback(cfg.Listen) && !cfg.AllowUnauthenticatedRemote {
		return fmt.Errorf("refusing to serve %s without authentication: give --users-file or --token, listen on 127.0.0.1, or pass --allow-unauthenticated-remote", cfg.Listen)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.TicketKeyFile != "" {
		if opts.TicketKey, err = os.ReadFile(cfg.TicketKeyFile); err != nil {
			return fmt.Errorf("ticket key: %w", err)
		}
	}

	uri, warehouse := cfg.CatalogURI, cfg.Warehouse
	if cfg.Demo {
		if warehouse == "" {
			warehouse = "lakeflight-demo"
		}
		if uri, warehouse, err = demoPaths(warehouse); err != nil {
			return err
		}
	}
	if uri == "" {
		return errors.New("no catalog: give --catalog-uri (or --demo for the demo warehouse)")
	}
	cat, err := catalog.Open(ctx, catalog.Options{Name: cfg.CatalogName, URI: uri, Warehouse: warehouse, Properties: cfg.CatalogProperties})
	if err != nil {
		return err
	}
	defer cat.Close()
	if cfg.Demo {
		if err := ensureDemo(ctx, cat, cfg.DemoEvents, log); err != nil {
			return err
		}
	}

	var metricsSrv *http.Server
	if cfg.MetricsListen != "" {
		m, handler, err := server.PrometheusMetrics()
		if err != nil {
			return err
		}
		opts.Metrics = m
		mux := http.NewServeMux()
		mux.Handle("/metrics", handler)
		if cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		ml, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = metricsSrv.Serve(ml) }()
		fmt.Printf("metrics on http://%s/metrics\n", ml.Addr())
	}

	lopts, err := cfg.Lookup.options()
	if err != nil {
		return err
	}
	lopts.Catalog = cat
	lopts.Logger = log
	lookups := lookup.NewManager(lopts)
	defer lookups.Close() // after the server has stopped
	opts.Lookups = lookups

	popts := planner.DefaultOptions()
	popts.MaxParts = cfg.MaxEndpoints
	popts.Lookups = lookups
	srv, err := server.New(cat, planner.New(cat, popts), opts)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "grpc"
	if opts.TLS != nil {
		scheme = "grpc+tls"
	}
	addr := lis.Addr().String()
	fmt.Printf("lakeflight %s listening on %s://%s (catalog %q at %s)\n", version, scheme, addr, cat.Name(), catalog.Redact(uri))
	fmt.Print(connectHints(addr, opts.TLS != nil, opts.AuthEnabled()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		log.Info("shutting down")
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Stop()
		}
		if metricsSrv != nil {
			_ = metricsSrv.Close()
		}
		return nil
	}
}

func connectHints(addr string, tlsOn, auth bool) string {
	enc := "false"
	scheme := "grpc"
	if tlsOn {
		enc, scheme = "true", "grpc+tls"
	}
	cred := ""
	if auth {
		cred = "&user=USER&password=PASSWORD"
	}
	return fmt.Sprintf(`connect with:
  JDBC:    jdbc:arrow-flight-sql://%[1]s/?useEncryption=%[2]s%[3]s
  Python:  adbc_driver_flightsql.dbapi.connect("%[4]s://%[1]s")
  example: SELECT shop_code, occur_time, rssi FROM mall.probe_events WHERE pt = '2026-11-02' AND rssi > -60 LIMIT 10
`, addr, enc, cred, scheme)
}
