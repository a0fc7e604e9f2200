// Package server implements the Arrow Flight SQL service: authentication,
// sessions, metadata commands, statements and prepared statements with
// stateless signed handles and tickets, DoGet streaming and the DoExchange
// lookup service. It is the one place that maps errors to gRPC codes.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pbflight "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/planner"
)

// Options configure a Server. The zero value of a field means its default.
type Options struct {
	// Users maps user names to passwords (plain text, or a bcrypt hash
	// starting with $2). Default none.
	Users map[string]string
	// Tokens are static bearer tokens that are always accepted. Default none.
	Tokens []string
	// TicketKey signs tickets, handles, session cookies and issued tokens.
	// Nodes that share it can execute each other's tickets. Default: a
	// random key per process.
	TicketKey []byte
	// TicketTTL is how long a ticket or issued bearer token stays valid.
	// Default 1h.
	TicketTTL time.Duration
	// TLS, when set, serves TLS. Default plaintext.
	TLS *tls.Config
	// KeepaliveInterval is how often the server pings idle connections.
	// Default 30s.
	KeepaliveInterval time.Duration
	// MaxHeaderListSize bounds the size of request headers. JDBC sends its
	// URL properties as headers. Default 1 MiB.
	MaxHeaderListSize uint32
	// Allocator is used for all Arrow memory. Default memory.DefaultAllocator.
	Allocator memory.Allocator
	// QueryMemoryLimit bounds the memory one query stream may hold in
	// operators that keep rows (sort, aggregate, join, window); past it the
	// query fails with ResourceExhausted. Default 2 GiB; negative for none.
	QueryMemoryLimit int64
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics receives query metrics. Default: a no-op meter.
	Metrics *Metrics
	// Version is reported through GetSqlInfo. Default "dev".
	Version string
	// Lookups keeps dimension tables for the DoExchange lookup service.
	// The caller owns it and closes it after the server stops. Default: a
	// manager over the server's catalog with lookup's defaults (1 GiB,
	// FULL, refreshed every 10s), closed by Stop and GracefulStop.
	Lookups *lookup.Manager
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		TicketTTL:         time.Hour,
		KeepaliveInterval: 30 * time.Second,
		MaxHeaderListSize: 1 << 20,
		Allocator:         memory.DefaultAllocator,
		QueryMemoryLimit:  2 << 30,
		Logger:            slog.Default(),
		Version:           "dev",
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.TicketTTL <= 0 {
		o.TicketTTL = d.TicketTTL
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = d.KeepaliveInterval
	}
	if o.MaxHeaderListSize == 0 {
		o.MaxHeaderListSize = d.MaxHeaderListSize
	}
	if o.Allocator == nil {
		o.Allocator = d.Allocator
	}
	if o.QueryMemoryLimit == 0 {
		o.QueryMemoryLimit = d.QueryMemoryLimit
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.Version == "" {
		o.Version = d.Version
	}
	if o.Metrics == nil {
		o.Metrics = NoopMetrics()
	}
}

// AuthEnabled reports whether the options require clients to authenticate.
func (o Options) AuthEnabled() bool { return len(o.Users) > 0 || len(o.Tokens) > 0 }

// Server is a Flight SQL server over one catalog.
type Server struct {
	flightsql.BaseServer

	opts    Options
	cat     *catalog.Catalog
	planner *planner.Planner
	sign    *signer
	auth    *authenticator
	log     *slog.Logger
	metrics *Metrics
	mem     memory.Allocator

	// boundParams keeps parameters bound to a prepared handle for clients
	// that keep using the handle they had before binding.
	boundParams *lru.Cache[string, []byte]
	cancels     *cancelRegistry

	lookups     *lookup.Manager
	ownsLookups bool // made by New: closed by Stop and GracefulStop

	grpc   *grpc.Server
	health *health.Server
}

// New builds a server. Call Serve to accept connections.
func New(cat *catalog.Catalog, pl *planner.Planner, opts Options) (*Server, error) {
	opts.fill()
	sg, err := newSigner(opts.TicketKey)
	if err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(opts, sg)
	if err != nil {
		return nil, err
	}
	bound, err := lru.New[string, []byte](10000)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:        opts,
		cat:         cat,
		planner:     pl,
		sign:        sg,
		auth:        auth,
		log:         opts.Logger,
		metrics:     opts.Metrics,
		mem:         opts.Allocator,
		boundParams: bound,
		cancels:     newCancelRegistry(),
		lookups:     opts.Lookups,
	}
	if s.lookups == nil {
		s.lookups = lookup.NewManager(lookup.Options{Catalog: cat, Logger: opts.Logger})
		s.ownsLookups = true
	}
	s.metrics.observeLookups(s.lookups)
	s.BaseServer.Alloc = opts.Allocator
	if err := s.registerSqlInfo(); err != nil {
		return nil, err
	}

	gopts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: opts.KeepaliveInterval, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.MaxHeaderListSize(opts.MaxHeaderListSize),
	}
	if opts.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	s.grpc = grpc.NewServer(gopts...)
	fs := &flightService{FlightServer: flightsql.NewFlightServerWithAllocator(s, opts.Allocator), s: s}
	flight.RegisterFlightServiceServer(s.grpc, fs)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pbflight.FlightService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s, nil
}

// Serve accepts connections on lis until Stop or GracefulStop.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// GracefulStop stops accepting connections and waits for running calls.
func (s *Server) GracefulStop() {
	s.health.Shutdown()
	s.grpc.GracefulStop()
	s.closeLookups()
}

// Stop closes all connections at once.
func (s *Server) Stop() {
	s.health.Shutdown()
	s.grpc.Stop()
	s.closeLookups()
}

func (s *Server) closeLookups() {
	if s.ownsLookups {
		s.lookups.Close()
	}
}

// flightService overrides Handshake and DoGet of the Flight SQL router,
// and serves DoExchange (lookups).
type flightService struct {
	flight.FlightServer
	s *Server
}

func (f *flightService) Handshake(stream flight.FlightService_HandshakeServer) error {
	return f.s.handshake(stream)
}

// DoExchange serves keyed lookups in dimension tables (LookupRequest).
func (f *flightService) DoExchange(stream flight.FlightService_DoExchangeServer) error {
	return toStatus(f.s.exchange(stream))
}

// DoGet serves subscriptions (JSON tickets) and statement tickets itself,
// and the other Flight SQL tickets through the router. A statement's
// batches are released whatever happens to the stream: the router's loop
// keeps the batch it failed to write to a client that went away.
func (f *flightService) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	if isSubscription(tkt.GetTicket()) {
		var sub Subscription
		if err := json.Unmarshal(tkt.GetTicket(), &sub); err != nil {
			return toStatus(badRequest("subscription ticket: %v", err))
		}
		return toStatus(f.s.follow(stream.Context(), sub, stream))
	}
	var anycmd anypb.Any
	var q pbflight.TicketStatementQuery
	if proto.Unmarshal(tkt.GetTicket(), &anycmd) != nil || !anycmd.MessageIs(&q) || anycmd.UnmarshalTo(&q) != nil {
		return f.FlightServer.DoGet(tkt, stream)
	}
	sc, ch, err := f.s.DoGetStatement(stream.Context(), &q)
	if err != nil {
		return err
	}
	defer func() {
		for c := range ch {
			if c.Data != nil {
				c.Data.Release()
			}
		}
	}()
	wr := flight.NewRecordWriter(stream, ipc.WithSchema(sc))
	defer wr.Close()
	for {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case c, ok := <-ch:
			if !ok {
				return nil
			}
			if c.Err != nil {
				if c.Data != nil {
					c.Data.Release()
				}
				return c.Err
			}
			err := wr.WriteWithAppMetadata(c.Data, c.AppMetadata)
			c.Data.Release()
			if err != nil {
				return err
			}
		}
	}
}

var _ flightsql.Server = (*Server)(nil)

func (s *Server) logErr(ctx context.Context, what string, err error) {
	s.log.LogAttrs(ctx, slog.LevelWarn, what, slog.String("error", err.Error()))
}
