package scan_test

import (
	"errors"
	"io"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/scan"
)

// TestMetadataCaches plans and reads a table twice, with tables loaded
// afresh each time (as every statement does): the second time, manifest
// lists and manifests come from catalog.Manifests and Parquet footers from
// Footers, and the rows are the same.
func TestMetadataCaches(t *testing.T) {
	_, ctx := newAlloc(t)
	read := func(filter iceberg.BooleanExpression) (rows int, manifestMisses, footerMisses int64) {
		m0, f0 := catalog.Manifests.Stats().Misses, scan.Footers.Stats().Misses
		tbl := loadTable(t, datagen.ProbeEventsTable)
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: filter, Fields: []string{"id", "rssi"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Open(ctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rows += int(rec.NumRows())
			rec.Release()
		}
		return rows, catalog.Manifests.Stats().Misses - m0, scan.Footers.Stats().Misses - f0
	}
	// Distinct filters, so the plan cache does not answer.
	n1, _, _ := read(iceberg.GreaterThan(iceberg.Reference("rssi"), int32(-70)))
	mh, fh := catalog.Manifests.Stats().Hits, scan.Footers.Stats().Hits
	// The snapshot's whole plan would answer without reading manifests.
	scan.ForgetWholePlans()
	n2, mm, fm := read(iceberg.GreaterThan(iceberg.Reference("rssi"), int32(-71)))
	if n1 == 0 || n2 < n1 {
		t.Fatalf("rows %d then %d", n1, n2)
	}
	if mm != 0 || catalog.Manifests.Stats().Hits <= mh {
		t.Errorf("second plan: %d manifest misses, hits %d -> %d; want all hits", mm, mh, catalog.Manifests.Stats().Hits)
	}
	if fm != 0 || scan.Footers.Stats().Hits <= fh {
		t.Errorf("second read: %d footer misses, hits %d -> %d; want all hits", fm, fh, scan.Footers.Stats().Hits)
	}
	if st := scan.Footers.Stats(); st.Bytes <= 0 || st.Bytes > st.Capacity {
		t.Errorf("footer cache holds %d bytes of %d", st.Bytes, st.Capacity)
	}
}
