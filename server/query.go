package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/planner"
	"github.com/lakeflight/lakeflight/scan"
)

// statement is what a ticket or prepared handle carries: everything needed
// to plan the query again on any node.
type statement struct {
	SQL       string           `json:"q"`
	Catalog   string           `json:"c,omitempty"`
	Schema    string           `json:"s,omitempty"`
	Params    []byte           `json:"p,omitempty"` // Arrow IPC stream of one row
	Snapshots map[string]int64 `json:"n,omitempty"`
	// Session options that change plans (see sessionState).
	LookupMode  string `json:"lm,omitempty"`
	LookupJoins string `json:"lj,omitempty"`
	Part        int    `json:"i,omitempty"`
	Parts       int    `json:"k,omitempty"`
	Expires     int64  `json:"e,omitempty"`
}

func (st *statement) session() planner.Session {
	return sessionState{Catalog: st.Catalog, Schema: st.Schema, LookupMode: st.LookupMode, LookupJoins: st.LookupJoins}.planner()
}

func (s *Server) plan(ctx context.Context, st *statement, withParams bool) (q *planner.Query, err error) {
	ctx, span := tracer.Start(ctx, "query.plan", trace.WithAttributes(attribute.String("db.query.text", truncate(st.SQL, 4096))))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(otelcodes.Error, "planning failed")
		} else {
			span.SetAttributes(attribute.Int("lakeflight.parts", q.Parts))
			for t, id := range q.Snapshots {
				span.SetAttributes(attribute.Int64("lakeflight.snapshot."+t, id))
			}
		}
		span.End()
	}()
	req := planner.Request{SQL: st.SQL, Session: st.session(), Snapshots: st.Snapshots}
	if withParams {
		params, err := s.decodeParams(st.Params)
		if err != nil {
			return nil, err
		}
		if params == nil {
			params = []scalar.Scalar{}
		}
		req.Params = params
	}
	return s.planner.Plan(ctx, req)
}

// flightInfo plans st and answers with its schema and one endpoint per part.
func (s *Server) flightInfo(ctx context.Context, st *statement, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	q, err := s.plan(ctx, st, true)
	if err != nil {
		return nil, err
	}
	exp := time.Now().Add(s.opts.TicketTTL)
	info := &flight.FlightInfo{
		Schema:           flight.SerializeSchema(s.resultSchema(q), s.mem),
		FlightDescriptor: desc,
		TotalRecords:     -1,
		TotalBytes:       -1,
		Ordered:          false,
	}
	for i := 0; i < q.Parts; i++ {
		t := *st
		t.Snapshots = q.Snapshots
		t.Part, t.Parts, t.Expires = i, q.Parts, exp.Unix()
		handle, err := s.sign.seal("ticket", &t)
		if err != nil {
			return nil, err
		}
		tkt, err := flightsql.CreateStatementQueryTicket(handle)
		if err != nil {
			return nil, err
		}
		info.Endpoint = append(info.Endpoint, &flight.FlightEndpoint{
			Ticket:         &flight.Ticket{Ticket: tkt},
			ExpirationTime: timestamppb.New(exp),
		})
	}
	return info, nil
}

func (s *Server) resultSchema(q *planner.Query) *arrow.Schema {
	return catalog.WithColumnMetadata(q.Schema, q.Source)
}

func (s *Server) newStatement(ctx context.Context, sql string) (*statement, error) {
	sess, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	return &statement{SQL: sql, Catalog: sess.Catalog, Schema: sess.Schema, LookupMode: sess.LookupMode, LookupJoins: sess.LookupJoins}, nil
}

func (s *Server) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if len(cmd.GetTransactionId()) > 0 {
		return nil, fmt.Errorf("%w: transactions", errUnimplemented)
	}
	st, err := s.newStatement(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	return s.flightInfo(ctx, st, desc)
}

func (s *Server) GetSchemaStatement(ctx context.Context, cmd flightsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	st, err := s.newStatement(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	q, err := s.plan(ctx, st, false)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(s.resultSchema(q), s.mem)}, nil
}

func (s *Server) DoGetStatement(ctx context.Context, tkt flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	handle := tkt.GetStatementHandle()
	var st statement
	if err := s.sign.open("ticket", handle, &st); err != nil {
		return nil, nil, err
	}
	if st.Expires != 0 && time.Now().Unix() > st.Expires {
		return nil, nil, fmt.Errorf("%w: ticket expired; call GetFlightInfo again", errBadTicket)
	}
	key := ticketKey(handle)
	if s.cancels.cancelled(key) {
		return nil, nil, fmt.Errorf("%w: query was cancelled", context.Canceled)
	}
	q, err := s.plan(ctx, &st, true)
	if err != nil {
		return nil, nil, err
	}
	schema := s.resultSchema(q)
	op := q.Operator(st.Part, max(st.Parts, 1))
	runCtx, cancel := context.WithCancelCause(ctx)
	release := s.cancels.add(key, cancel)
	runCtx, _ = executor.WithMemoryLimit(runCtx, s.mem, max(s.opts.QueryMemoryLimit, 0))
	runCtx, scans := scan.WithTotals(runCtx)
	runCtx = scan.WithMemoryLimit(runCtx, max(s.opts.QueryMemoryLimit, 0))
	ch := make(chan flight.StreamChunk, 2)
	_, span := tracer.Start(ctx, "query.execute", trace.WithAttributes(
		attribute.String("db.query.text", truncate(st.SQL, 4096)),
		attribute.Int("lakeflight.part", st.Part), attribute.Int("lakeflight.parts", st.Parts)))
	go func() {
		defer close(ch)
		defer release()
		defer cancel(nil)
		var rows, nbytes int64
		defer func() {
			span.SetAttributes(attribute.Int64("lakeflight.rows", rows), attribute.Int64("lakeflight.bytes", nbytes))
			span.End()
		}()
		var err error
		defer func() {
			if r := recover(); r != nil {
				s.log.LogAttrs(ctx, slog.LevelError, "panic in query", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
				perr := toStatus(fmt.Errorf("%w: internal error while executing the query: %v (this is a bug; the server keeps serving)", errInternal, r))
				select {
				case ch <- flight.StreamChunk{Err: perr}:
				case <-runCtx.Done():
				}
			}
		}()
		err = executor.Drain(runCtx, op, func(rec arrow.RecordBatch) error {
			out := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
			rows += out.NumRows()
			nbytes += batchBytes(out)
			select {
			case ch <- flight.StreamChunk{Data: out}:
				return nil
			case <-runCtx.Done():
				out.Release()
				return context.Cause(runCtx)
			}
		})
		s.metrics.queries.Add(ctx, 1)
		s.metrics.streamed(ctx, rows, nbytes)
		s.metrics.scanned(ctx, span, scans, st.Part == 0)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.logErr(ctx, "query failed", err)
			select {
			case ch <- flight.StreamChunk{Err: toStatus(err)}:
			case <-runCtx.Done():
			}
		}
	}()
	return schema, ch, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func batchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

func ticketKey(handle []byte) string {
	sum := sha256.Sum256(handle)
	return hex.EncodeToString(sum[:16])
}

// Prepared statements. Handles are sealed statements: no server state, so
// any node can execute them and there is nothing to leak.

func (s *Server) CreatePreparedStatement(ctx context.Context, req flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	var res flightsql.ActionCreatePreparedStatementResult
	if len(req.GetTransactionId()) > 0 {
		return res, fmt.Errorf("%w: transactions", errUnimplemented)
	}
	st, err := s.newStatement(ctx, req.GetQuery())
	if err != nil {
		return res, err
	}
	q, err := s.plan(ctx, st, false)
	if err != nil {
		return res, err
	}
	handle, err := s.sign.seal("prepared", st)
	if err != nil {
		return res, err
	}
	isUpdate := false
	res.Handle = handle
	res.DatasetSchema = s.resultSchema(q)
	res.ParameterSchema = paramSchema(q.ParamTypes)
	res.IsUpdate = &isUpdate
	return res, nil
}

func paramSchema(types []arrow.DataType) *arrow.Schema {
	fields := make([]arrow.Field, len(types))
	for i, t := range types {
		if t.ID() == arrow.NULL {
			// Unconstrained parameters are bound as text.
			t = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: fmt.Sprintf("$%d", i+1), Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

func (s *Server) openPrepared(handle []byte) (*statement, error) {
	var st statement
	if err := s.sign.open("prepared", handle, &st); err != nil {
		return nil, err
	}
	if st.Params == nil {
		if p, ok := s.boundParams.Get(ticketKey(handle)); ok {
			st.Params = p
		}
	}
	return &st, nil
}

func (s *Server) ClosePreparedStatement(ctx context.Context, req flightsql.ActionClosePreparedStatementRequest) error {
	if _, err := s.openPrepared(req.GetPreparedStatementHandle()); err != nil {
		return err
	}
	s.boundParams.Remove(ticketKey(req.GetPreparedStatementHandle()))
	return nil
}

func (s *Server) DoPutPreparedStatementQuery(ctx context.Context, cmd flightsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	st, err := s.openPrepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	var params []byte
	rows := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		rows += int(rec.NumRows())
		if rows > 1 {
			return nil, fmt.Errorf("%w: binding more than one row of parameters to a query", errUnimplemented)
		}
		if params, err = encodeParams(rec, s.mem); err != nil {
			return nil, err
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, badRequest("read parameters: %v", err)
	}
	st.Params = params
	// Check the values against the statement now, so a bad binding fails
	// here and not at execution.
	if _, err := s.plan(ctx, st, true); err != nil {
		return nil, err
	}
	s.boundParams.Add(ticketKey(cmd.GetPreparedStatementHandle()), params)
	return s.sign.seal("prepared", st)
}

func (s *Server) GetFlightInfoPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	st, err := s.openPrepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	return s.flightInfo(ctx, st, desc)
}

func (s *Server) GetSchemaPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	st, err := s.openPrepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	q, err := s.plan(ctx, st, false)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(s.resultSchema(q), s.mem)}, nil
}

func (s *Server) DoGetPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return nil, nil, fmt.Errorf("%w: DoGet with a prepared statement command; use the tickets from GetFlightInfo", errBadRequest)
}

func encodeParams(rec arrow.RecordBatch, mem interface{}) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, badRequest("encode parameters: %v", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Server) decodeParams(b []byte) ([]scalar.Scalar, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(s.mem))
	if err != nil {
		return nil, badRequest("decode parameters: %v", err)
	}
	defer r.Release()
	if !r.Next() {
		return nil, nil
	}
	rec := r.RecordBatch()
	out := make([]scalar.Scalar, rec.NumCols())
	for i := range out {
		sc, err := scalar.GetScalar(rec.Column(i), 0)
		if err != nil {
			return nil, badRequest("parameter $%d: %v", i+1, err)
		}
		out[i] = unwrapScalar(sc)
	}
	return out, nil
}

// unwrapScalar turns the scalars of dense unions and extension types that
// some clients bind into plain ones.
func unwrapScalar(sc scalar.Scalar) scalar.Scalar {
	switch v := sc.(type) {
	case *scalar.DenseUnion:
		return unwrapScalar(v.Value)
	case *scalar.SparseUnion:
		return unwrapScalar(v.Value[v.ChildID])
	case *scalar.Extension:
		return unwrapScalar(v.Value)
	case *scalar.LargeString:
		return scalar.NewStringScalar(v.String())
	}
	return sc
}

// cancelRegistry tracks running DoGet streams by ticket so CancelFlightInfo
// can stop them, and remembers cancelled tickets for a while.
type cancelRegistry struct {
	mu      sync.Mutex
	running map[string][]*context.CancelCauseFunc
	gone    map[string]time.Time
}

func newCancelRegistry() *cancelRegistry {
	return &cancelRegistry{running: map[string][]*context.CancelCauseFunc{}, gone: map[string]time.Time{}}
}

func (c *cancelRegistry) add(key string, fn context.CancelCauseFunc) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &fn
	c.running[key] = append(c.running[key], p)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		fns := c.running[key]
		for i, f := range fns {
			if f == p {
				fns = append(fns[:i], fns[i+1:]...)
				break
			}
		}
		if len(fns) == 0 {
			delete(c.running, key)
		} else {
			c.running[key] = fns
		}
	}
}

func (c *cancelRegistry) cancel(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, t := range c.gone {
		if now.Sub(t) > 2*time.Hour {
			delete(c.gone, k)
		}
	}
	if len(c.gone) < 100000 {
		c.gone[key] = now
	}
	for _, f := range c.running[key] {
		(*f)(fmt.Errorf("%w: cancelled by the client", context.Canceled))
	}
}

func (c *cancelRegistry) cancelled(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.gone[key]
	return ok
}

func (s *Server) CancelFlightInfo(ctx context.Context, req *flight.CancelFlightInfoRequest) (flight.CancelFlightInfoResult, error) {
	info := req.GetInfo()
	if info == nil {
		return flight.CancelFlightInfoResult{}, badRequest("CancelFlightInfo without a FlightInfo")
	}
	for _, ep := range info.GetEndpoint() {
		tkt, err := flightsql.GetStatementQueryTicket(ep.GetTicket())
		if err != nil {
			continue
		}
		var st statement
		if err := s.sign.open("ticket", tkt.GetStatementHandle(), &st); err != nil {
			return flight.CancelFlightInfoResult{}, err
		}
		s.cancels.cancel(ticketKey(tkt.GetStatementHandle()))
	}
	return flight.CancelFlightInfoResult{Status: flight.CancelStatusCancelled}, nil
}
