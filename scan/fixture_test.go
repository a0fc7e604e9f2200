package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
)

// closeDemo runs after the tests and before the leak check.
type mainWithCleanup struct{ m *testing.M }

func (w mainWithCleanup) Run() int {
	code := w.m.Run()
	demo.close()
	return code
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(mainWithCleanup{m}) }

// The demo warehouse is written once per test binary (about 0.1 s) and
// only read by the tests.
const (
	demoEvents      = 20_000
	demoDays        = 3
	demoFilesPerDay = 2
)

type demoFixture struct {
	once sync.Once
	dir  string
	cat  *catalog.Catalog
	err  error
}

var demo demoFixture

func (d *demoFixture) close() {
	if d.cat != nil {
		d.cat.Close()
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

func demoCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	demo.once.Do(func() {
		demo.dir, demo.err = os.MkdirTemp("", "lakeflight-scan-test-")
		if demo.err != nil {
			return
		}
		ctx := context.Background()
		demo.cat, demo.err = catalog.Open(ctx, catalog.Options{
			URI:       "sqlite://" + filepath.Join(demo.dir, "catalog.db"),
			Warehouse: "file://" + filepath.Join(demo.dir, "warehouse"),
		})
		if demo.err != nil {
			return
		}
		o := datagen.DefaultDemoOptions()
		o.Events, o.Days, o.Devices, o.Shops, o.FilesPerDay = demoEvents, demoDays, 300, 20, demoFilesPerDay
		demo.err = datagen.WriteDemo(ctx, demo.cat.Iceberg(), o)
	})
	if demo.err != nil {
		t.Fatalf("demo warehouse: %v", demo.err)
	}
	return demo.cat
}

func loadTable(t testing.TB, name string) *table.Table {
	t.Helper()
	tbl, err := demoCatalog(t).LoadTable(context.Background(), table.Identifier{datagen.Namespace, name})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// newAlloc returns a checked allocator that must be empty when the test
// ends, and a context whose kernels and iceberg-go reads use it.
func newAlloc(t *testing.T) (*memory.CheckedAllocator, context.Context) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem, compute.WithAllocator(t.Context(), mem)
}

// renderRows renders each row of rec as its column values joined by |,
// NULL as "NULL". Nested values use Arrow's JSON rendering.
func renderRows(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for r := range out {
		s := ""
		for c := 0; c < int(rec.NumCols()); c++ {
			if c > 0 {
				s += "|"
			}
			col := rec.Column(c)
			if col.IsNull(r) {
				s += "NULL"
			} else {
				s += col.ValueStr(r)
			}
		}
		out[r] = s
	}
	return out
}

// referenceRows reads a whole table with iceberg-go directly, on mem, and
// returns its rows as Go values keyed by column name (nil for NULL).
func referenceRows(t *testing.T, ctx context.Context, tbl *table.Table) []map[string]any {
	t.Helper()
	at, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	var out []map[string]any
	tr := array.NewTableReader(at, 1<<20)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			m := map[string]any{}
			for c, f := range rec.Schema().Fields() {
				m[f.Name] = goValue(t, rec.Column(c), r)
			}
			out = append(out, m)
		}
	}
	return out
}

func goValue(t *testing.T, a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i)
	case *array.Int32:
		return x.Value(i)
	case *array.Float64:
		return x.Value(i)
	case *array.String:
		return x.Value(i)
	case *array.LargeString:
		return x.Value(i)
	case *array.Date32:
		return x.Value(i)
	case *array.Timestamp:
		return int64(x.Value(i))
	}
	return a.ValueStr(i)
}

func dayOf(d arrow.Date32) string { return d.ToTime().Format("2006-01-02") }

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("must: %v", err))
	}
	return v
}
