package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/server"
)

// peakAllocator counts the bytes outstanding through it and keeps their
// high-water mark.
type peakAllocator struct {
	memory.Allocator
	cur, peak atomic.Int64
}

func (a *peakAllocator) grow(n int64) {
	c := a.cur.Add(n)
	for p := a.peak.Load(); c > p && !a.peak.CompareAndSwap(p, c); p = a.peak.Load() {
	}
}

func (a *peakAllocator) Allocate(size int) []byte {
	b := a.Allocator.Allocate(size)
	a.grow(int64(len(b)))
	return b
}

func (a *peakAllocator) Reallocate(size int, b []byte) []byte {
	old := len(b)
	out := a.Allocator.Reallocate(size, b)
	a.grow(int64(len(out) - old))
	return out
}

func (a *peakAllocator) Free(b []byte) {
	a.cur.Add(-int64(len(b)))
	a.Allocator.Free(b)
}

// TestScanTenTimesTheMemoryLimit streams a full scan of a table of about
// 200 MiB of Arrow data through Flight SQL from a server whose query
// memory limit is 20 MiB, and checks that the Arrow memory the server
// held at once stayed under the limit and that every row arrived.
func TestScanTenTimesTheMemoryLimit(t *testing.T) {
	const (
		limit     = 20 << 20
		columns   = 8
		files     = 8
		fileRows  = 420_000 // 8 columns of int64: 26.9 MB a file
		groupRows = 65_536
	)
	peak := &peakAllocator{}
	f := startServer(t, func(o *server.Options) {
		peak.Allocator = o.Allocator
		o.Allocator = peak
		o.QueryMemoryLimit = limit
	})
	ctx := context.Background()

	fields := make([]iceberg.NestedField, columns)
	for i := range fields {
		fields[i] = iceberg.NestedField{ID: i + 1, Name: fmt.Sprintf("c%d", i), Type: iceberg.PrimitiveTypes.Int64, Required: true}
	}
	ident := table.Identifier{"mall", "big"}
	tbl, err := f.cat.Iceberg().CreateTable(ctx, ident, iceberg.NewSchema(0, fields...),
		icecat.WithProperties(iceberg.Properties{table.PropertyFormatVersion: "2"}))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// Values from a xorshift generator: they neither compress nor fit a
	// dictionary, so the files are as big as the data. The files are
	// written with pqarrow, uncompressed, which is quick.
	var state uint64 = 88172645463325252
	var wantSum int64
	var paths []string
	dir := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	for file := range files {
		cols := make([]arrow.Array, columns)
		for c := range cols {
			vals := make([]int64, fileRows)
			for i := range vals {
				state ^= state << 13
				state ^= state >> 7
				state ^= state << 17
				vals[i] = int64(state)
			}
			if c == 0 {
				for _, v := range vals {
					wantSum += v
				}
			}
			b := array.NewInt64Builder(mem)
			b.AppendValues(vals, nil)
			cols[c] = b.NewArray()
			b.Release()
		}
		rec := array.NewRecordBatch(asc, cols, fileRows)
		for _, c := range cols {
			c.Release()
		}
		path := filepath.Join(dir, fmt.Sprintf("big-%d.parquet", file))
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pqarrow.NewFileWriter(asc, out, parquet.NewWriterProperties(
			parquet.WithAllocator(mem), parquet.WithCompression(compress.Codecs.Uncompressed),
			parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(groupRows)),
			pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(rec)
		rec.Release()
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, "file://"+path)
	}
	txn := tbl.NewTransaction()
	if err := txn.AddFiles(ctx, paths, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	c := f.client(t)
	start := time.Now()
	peak.peak.Store(peak.cur.Load())
	info, err := c.Execute(ctx, "SELECT * FROM mall.big")
	if err != nil {
		t.Fatal(err)
	}
	var rows, sum, streamed int64
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rows += rec.NumRows()
			for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
				sum += v
			}
			for _, col := range rec.Columns() {
				streamed += int64(col.Len()) * 8
			}
		}
		if err := rdr.Err(); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
	}
	t.Logf("%d rows, %d MiB of Arrow data over %d endpoints in %v; the server held at most %.1f MiB (limit %d MiB)",
		rows, streamed>>20, len(info.Endpoint), time.Since(start).Round(time.Millisecond), float64(peak.peak.Load())/(1<<20), limit>>20)
	if rows != files*fileRows || sum != wantSum {
		t.Errorf("%d rows with sum %d, want %d with sum %d", rows, sum, files*fileRows, wantSum)
	}
	if streamed < 10*limit {
		t.Errorf("streamed %d bytes, want at least ten times the limit", streamed)
	}
	if p := peak.peak.Load(); p >= limit {
		t.Errorf("the server held %d bytes of Arrow memory at once, over the limit of %d", p, limit)
	}
}
