// Command lookupexchange enriches probe events with dimension rows through
// lakeflight's lookup service (Flight DoExchange), with the arrow-go Flight
// client. Against `lakeflight --demo`:
//
//	go run ./clients/go/lookupexchange -addr 127.0.0.1:8815 -events 3000 -batch 1000
//
// It reads the first -events probe events (id and the key column) with SQL,
// then streams them in batches of -batch rows through one exchange:
//
//   - the first message's FlightDescriptor is a command holding the JSON
//     request {"lookup": "mall.shops", "keys": ["shop_code"], "columns":
//     ["shop_name", "floor"]} (optional: "mode", "snapshot", "found");
//   - each batch written holds the key columns by name, and whatever else
//     the client wants carried through (here id);
//   - the server answers each batch, in order, with one batch: its columns,
//     then the requested ones (NULL where the key is not in the table), and
//     app_metadata {"snapshot": S, "misses": N} naming the table snapshot
//     all of its rows were read from.
//
// The writer runs in its own goroutine, so batches stream while answers
// come back. Output: a line per answer batch, the first -show rows, and a
// total; with -json, one JSON object per enriched row instead.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// request is the JSON command of a lookup exchange.
type request struct {
	Lookup   string   `json:"lookup"`
	Keys     []string `json:"keys,omitempty"`
	Columns  []string `json:"columns,omitempty"`
	Mode     string   `json:"mode,omitempty"`
	Snapshot int64    `json:"snapshot,omitempty"`
}

// answer is the app_metadata of an answer batch.
type answer struct {
	Snapshot int64 `json:"snapshot"`
	Misses   int64 `json:"misses"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8815", "lakeflight address (host:port, plaintext)")
	events := flag.Int("events", 3000, "probe events to enrich")
	batch := flag.Int("batch", 1000, "rows per batch sent")
	tableName := flag.String("table", "mall.shops", "dimension table")
	key := flag.String("key", "shop_code", "key column (of mall.probe_events and the table)")
	columns := flag.String("columns", "shop_name,floor", "comma-separated columns to add")
	mode := flag.String("mode", "", "full, partial or none (default: the server's configuration)")
	show := flag.Int("show", 5, "rows to print")
	asJSON := flag.Bool("json", false, "print every enriched row as a JSON object")
	token := flag.String("token", "", "bearer token, for a server started with --token")
	flag.Parse()
	if err := run(*addr, *events, *batch, request{Lookup: *tableName, Keys: []string{*key}, Columns: strings.Split(*columns, ","), Mode: *mode}, *show, *asJSON, *token); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(addr string, events, batchRows int, req request, show int, asJSON bool, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	mem := memory.DefaultAllocator
	c, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer c.Close()

	input, err := readEvents(ctx, c, fmt.Sprintf("SELECT id, %s FROM mall.probe_events ORDER BY id LIMIT %d", req.Keys[0], events))
	if err != nil {
		return fmt.Errorf("read probe events: %w", err)
	}
	defer input.Release()

	cmd, err := json.Marshal(req)
	if err != nil {
		return err
	}
	stream, err := c.Client.DoExchange(ctx)
	if err != nil {
		return err
	}
	// Write the batches from another goroutine while answers are read.
	sent := make(chan error, 1)
	go func() {
		wr := flight.NewRecordWriter(stream, ipc.WithSchema(input.Schema()), ipc.WithAllocator(mem))
		wr.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
		tr := array.NewTableReader(input, int64(batchRows))
		defer tr.Release()
		var err error
		for tr.Next() && err == nil {
			err = wr.Write(tr.RecordBatch())
		}
		err = errors.Join(err, wr.Close(), stream.CloseSend())
		sent <- err
	}()

	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		<-sent
		return err
	}
	defer rdr.Release()
	var rows, misses int64
	shown := 0
	enc := json.NewEncoder(os.Stdout)
	for n := 0; rdr.Next(); n++ {
		rec := rdr.RecordBatch()
		var a answer
		if err := json.Unmarshal(rdr.LatestAppMetadata(), &a); err != nil {
			return fmt.Errorf("app_metadata: %w", err)
		}
		rows += rec.NumRows()
		misses += a.Misses
		if !asJSON {
			fmt.Printf("batch %d: %d rows, %d misses, snapshot %d\n", n, rec.NumRows(), a.Misses, a.Snapshot)
		}
		for i := 0; i < int(rec.NumRows()) && (asJSON || shown < show); i++ {
			row := map[string]any{}
			for c, f := range rec.Schema().Fields() {
				col := rec.Column(c)
				if col.IsNull(i) {
					row[f.Name] = nil
				} else {
					row[f.Name] = col.GetOneForMarshal(i)
				}
			}
			if asJSON {
				if err := enc.Encode(row); err != nil {
					return err
				}
			} else {
				fmt.Printf("  %v\n", row)
				shown++
			}
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		<-sent
		return err
	}
	if err := <-sent; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if !asJSON {
		fmt.Printf("%s: %d rows enriched, %d misses\n", req.Lookup, rows, misses)
	}
	return nil
}

// readEvents runs a query and returns its rows (every endpoint, in order).
func readEvents(ctx context.Context, c *flightsql.Client, query string) (arrow.Table, error) {
	info, err := c.Execute(ctx, query)
	if err != nil {
		return nil, err
	}
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var schema *arrow.Schema
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			return nil, err
		}
		schema = rdr.Schema()
		for rdr.Next() {
			r := rdr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return nil, err
		}
	}
	if schema == nil {
		return nil, errors.New("no endpoints")
	}
	return array.NewTableFromRecords(schema, recs), nil
}
