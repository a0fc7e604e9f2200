package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
)

// Subscription is the ticket of a change subscription, JSON in a Flight
// ticket: DoGet streams the changes of every snapshot committed after
// After, as they commit, until the client goes away.
type Subscription struct {
	// Table is the table to follow, namespace.table.
	Table string `json:"subscribe"`
	// After is the last snapshot the client has: changes start with the
	// snapshot after it. 0 starts at the table's first snapshot (its whole
	// history); -1 at the next snapshot to commit.
	After int64 `json:"after"`
	// PollMillis is how often the table is checked for new snapshots
	// (default 1000, at least 10).
	PollMillis int `json:"poll_ms,omitempty"`
	// HeartbeatMillis is the longest silence while idle: a heartbeat
	// message is sent after it (default 5000).
	HeartbeatMillis int `json:"heartbeat_ms,omitempty"`
}

// SubscriptionMessage is the app_metadata of the messages of a
// subscription stream. A batch of changes carries Snapshot; after the last
// batch of a snapshot (or none, for a snapshot that changed no row) comes a
// message without data and with Done set: only then has the client all of
// that snapshot, and Snapshot is where to resume. Heartbeat messages come
// while nothing commits. SchemaChanged ends the stream: the table's schema
// changed after Snapshot; subscribe again from Snapshot to read on in the
// new schema.
type SubscriptionMessage struct {
	Snapshot      int64 `json:"snapshot"`
	TimestampMs   int64 `json:"timestamp_ms,omitempty"`
	Done          bool  `json:"done,omitempty"`
	Heartbeat     bool  `json:"heartbeat,omitempty"`
	SchemaChanged bool  `json:"schema_changed,omitempty"`
}

var subscriptionPrefix = []byte(`{"subscribe"`)

// isSubscription reports whether a ticket is a subscription.
func isSubscription(ticket []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(ticket), subscriptionPrefix)
}

// follow streams the changes of sub's table.
func (s *Server) follow(ctx context.Context, sub Subscription, stream flight.FlightService_DoGetServer) error {
	poll := time.Duration(max(sub.PollMillis, 0)) * time.Millisecond
	if poll == 0 {
		poll = time.Second
	}
	poll = max(poll, 10*time.Millisecond)
	heartbeat := time.Duration(sub.HeartbeatMillis) * time.Millisecond
	if heartbeat <= 0 {
		heartbeat = 5 * time.Second
	}
	dot := strings.LastIndex(sub.Table, ".")
	if dot <= 0 || dot == len(sub.Table)-1 {
		return badRequest("subscription: table %q must be namespace.table", sub.Table)
	}
	ident := table.Identifier(append(catalog.SplitNamespace(sub.Table[:dot]), sub.Table[dot+1:]))
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return err
	}
	last := sub.After
	switch {
	case last == -1:
		last = 0
		if cur := tbl.CurrentSnapshot(); cur != nil {
			last = cur.SnapshotID
		}
	case last < -1:
		return badRequest("subscription: after must be a snapshot id, 0 or -1, not %d", last)
	case last != 0 && tbl.SnapshotByID(last) == nil:
		return fmt.Errorf("%w: snapshot %d of table %s (expired, or never existed): subscribe again from a snapshot the table still has",
			changes.ErrNoSuchSnapshot, last, sub.Table)
	}
	rctx := compute.WithAllocator(ctx, s.mem)
	rowSchema, err := catalog.ArrowSchema(tbl.Schema())
	if err != nil {
		return err
	}
	schema := changes.Schema(rowSchema)
	// The stream has the schema of the first snapshot it will send (a
	// client told the schema changed subscribes again from the snapshot
	// before the change), else the table's.
	pending, err := changes.Snapshots(changes.Request{Table: tbl, From: last})
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		if schema, _, err = changes.Read(rctx, changes.Request{Table: tbl, From: last, To: pending[0].SnapshotID}); err != nil {
			return err
		}
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema), ipc.WithAllocator(s.mem))
	defer w.Close()
	send := func(m SubscriptionMessage) error {
		b, _ := json.Marshal(m)
		return w.WriteMetadata(b)
	}
	// The schema goes first, so that a client can open its reader before
	// anything commits: the writer sends it with its first batch (a
	// message of metadata alone before it would come ahead of the schema),
	// so the first heartbeat carries an empty batch.
	empty := emptyBatch(s.mem, schema)
	b, _ := json.Marshal(SubscriptionMessage{Snapshot: last, Heartbeat: true})
	err = w.WriteWithAppMetadata(empty, b)
	empty.Release()
	if err != nil {
		return err
	}
	quiet := time.Now()
	for {
		snaps, err := changes.Snapshots(changes.Request{Table: tbl, From: last})
		if err != nil {
			return err
		}
		for _, snap := range snaps {
			sc, seq, err := changes.Read(rctx, changes.Request{Table: tbl, From: last, To: snap.SnapshotID})
			if err != nil {
				return err
			}
			if !sc.Equal(schema) {
				return send(SubscriptionMessage{Snapshot: last, SchemaChanged: true})
			}
			meta, _ := json.Marshal(SubscriptionMessage{Snapshot: snap.SnapshotID, TimestampMs: snap.TimestampMs})
			for rec, err := range seq {
				if err != nil {
					return err
				}
				err = w.WriteWithAppMetadata(rec, meta)
				rec.Release()
				if err != nil {
					return err
				}
			}
			if err := send(SubscriptionMessage{Snapshot: snap.SnapshotID, TimestampMs: snap.TimestampMs, Done: true}); err != nil {
				return err
			}
			last = snap.SnapshotID
			quiet = time.Now()
		}
		if time.Since(quiet) >= heartbeat {
			if err := send(SubscriptionMessage{Snapshot: last, Heartbeat: true}); err != nil {
				return err
			}
			quiet = time.Now()
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) {
				return nil
			}
			return context.Cause(ctx)
		case <-time.After(poll):
		}
		next, err := s.cat.LoadTable(ctx, ident)
		switch {
		case errors.Is(err, catalog.ErrNoSuchTable):
			return err
		case err != nil:
			// A catalog busy with a commit (SQLite locks while writing)
			// is asked again at the next poll.
			s.logErr(ctx, "subscription: loading the table failed; retrying", err)
		default:
			tbl = next
		}
	}
}

// emptyBatch is a batch of no rows.
func emptyBatch(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
	}
	rec := array.NewRecordBatch(schema, cols, 0)
	for _, c := range cols {
		c.Release()
	}
	return rec
}
