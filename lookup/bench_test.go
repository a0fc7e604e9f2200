package lookup_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/lookup"
)

// BenchmarkLookup looks up batches of 1,000 keys (one in ten a miss) in a
// FULL index of 200,000 rows; it reports keys per second.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	d := newDimB(b)
	var ids []int64
	for i := int64(0); i < 200_000; i++ {
		ids = append(ids, i)
	}
	d.commitB(b, func(tx *table.Transaction) error { return tx.AppendTable(ctx, dimRows(ids, "s"), 100_000, nil) })
	tbl, err := d.cat.LoadTable(ctx, d.ident)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := lookup.Load(ctx, tbl)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Release()
	kb := array.NewInt64Builder(memory.DefaultAllocator)
	for i := range 1000 {
		kb.Append(int64((i * 7919) % 220_000))
	}
	keys := kb.NewArray()
	kb.Release()
	defer keys.Release()
	b.ResetTimer()
	for range b.N {
		rec, err := ix.Lookup(ctx, []arrow.Array{keys}, nil)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "keys/s")
}
