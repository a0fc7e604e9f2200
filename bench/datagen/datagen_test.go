package datagen_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/lakeflight/lakeflight/bench/datagen"
)

// TestMain checks that no goroutine outlives the tests. No ignore list is
// needed: iceberg-go's writers and SQL catalog, modernc.org/sqlite and
// database/sql (once the *sql.DB is closed) leave no goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// smallOptions is the demo size of the tests.
func smallOptions(mem memory.Allocator) datagen.DemoOptions {
	o := datagen.DefaultDemoOptions()
	o.Events = 20_000
	o.Days = 3
	o.Devices = 500
	o.Shops = 20
	o.Alloc = mem
	return o
}

// openCatalog opens an iceberg-go SQL catalog on SQLite in dir, closed (with
// its database) when the test ends.
func openCatalog(tb testing.TB, dir string) catalog.Catalog {
	tb.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "catalog.db"))
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := sqlcat.NewCatalog("default", db, sqlcat.SQLite, iceberg.Properties{
		"warehouse": "file://" + filepath.Join(dir, "warehouse"),
	})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := errors.Join(cat.Close(), db.Close()); err != nil {
			tb.Error(err)
		}
	})
	return cat
}

// writeSmall writes the small demo into a fresh catalog.
func writeSmall(t *testing.T, mem memory.Allocator) catalog.Catalog {
	t.Helper()
	cat := openCatalog(t, t.TempDir())
	if err := datagen.WriteDemo(t.Context(), cat, smallOptions(mem)); err != nil {
		t.Fatalf("WriteDemo: %v", err)
	}
	return cat
}

func loadTable(t *testing.T, cat catalog.Catalog, name string) *table.Table {
	t.Helper()
	tbl, err := cat.LoadTable(t.Context(), table.Identifier{datagen.Namespace, name})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return tbl
}

// scan reads the whole table at its current snapshot on mem. The caller
// releases the result.
func scan(t *testing.T, mem memory.Allocator, tbl *table.Table) arrow.Table {
	t.Helper()
	ctx := compute.WithAllocator(t.Context(), mem)
	at, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatalf("scan %s: %v", strings.Join(tbl.Identifier(), "."), err)
	}
	return at
}

// column returns the chunks of the named column.
func column(t *testing.T, at arrow.Table, name string) []arrow.Array {
	t.Helper()
	idx := at.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %q: found %d", name, len(idx))
	}
	return at.Column(idx[0]).Data().Chunks()
}

func TestWriteDemo(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	opts := smallOptions(mem)
	cat := writeSmall(t, mem)

	for _, ident := range datagen.DemoTables() {
		ok, err := cat.CheckTableExists(t.Context(), ident)
		if err != nil || !ok {
			t.Fatalf("table %v exists = %v, %v", ident, ok, err)
		}
		if v := mustLoad(t, cat, ident).Metadata().Version(); v != 2 {
			t.Errorf("%v: format version %d, want 2", ident, v)
		}
	}

	t.Run("probe_events", func(t *testing.T) {
		tbl := loadTable(t, cat, datagen.ProbeEventsTable)
		if got := len(tbl.Metadata().Snapshots()); got != opts.Days {
			t.Errorf("snapshots = %d, want %d", got, opts.Days)
		}
		for _, s := range tbl.Metadata().Snapshots() {
			if s.Summary == nil || s.Summary.Operation != table.OpAppend {
				t.Errorf("snapshot %d: summary %+v, want an append", s.SnapshotID, s.Summary)
			}
			if got := s.Summary.Properties["added-data-files"]; got != fmt.Sprint(opts.FilesPerDay) {
				t.Errorf("snapshot %d: added-data-files = %q, want %d", s.SnapshotID, got, opts.FilesPerDay)
			}
		}
		spec := tbl.Spec()
		if spec.NumFields() != 1 {
			t.Fatalf("spec %v: want one field", spec)
		}
		pf := spec.Field(0)
		src, _ := tbl.Schema().FindFieldByID(pf.SourceID())
		if pf.Name != "pt" || src.Name != "pt" || pf.Transform != (iceberg.IdentityTransform{}) {
			t.Errorf("partition field %v (source %q), want identity(pt)", pf, src.Name)
		}
		wantCols := []string{"id", "shop_code", "ap_ip", "occur_time", "user_device_mac", "rssi", "ap_mac", "pt"}
		var gotCols []string
		for _, f := range tbl.Schema().Fields() {
			gotCols = append(gotCols, f.Name)
		}
		if !slices.Equal(gotCols, wantCols) {
			t.Errorf("columns %v, want %v", gotCols, wantCols)
		}

		at := scan(t, mem, tbl)
		defer at.Release()
		if at.NumRows() != opts.Events {
			t.Fatalf("rows = %d, want %d", at.NumRows(), opts.Events)
		}
		seen := make([]bool, opts.Events+1)
		for _, c := range column(t, at, "id") {
			for _, id := range c.(*array.Int64).Int64Values() {
				if id < 1 || id > opts.Events || seen[id] {
					t.Fatalf("id %d out of range or duplicate", id)
				}
				seen[id] = true
			}
		}
		// ids ascend with occur_time over the whole table.
		byID := make([]arrow.Timestamp, opts.Events+1)
		idc, tc := column(t, at, "id"), column(t, at, "occur_time")
		for i := range idc {
			ids, ts := idc[i].(*array.Int64), tc[i].(*array.Timestamp)
			for j := range ids.Len() {
				byID[ids.Value(j)] = ts.Value(j)
			}
		}
		for id := int64(2); id <= opts.Events; id++ {
			if byID[id] < byID[id-1] {
				t.Fatalf("id %d at %v precedes id %d at %v", id, byID[id], id-1, byID[id-1])
			}
		}
		pts := map[arrow.Date32]bool{}
		for _, c := range column(t, at, "pt") {
			for _, v := range c.(*array.Date32).Date32Values() {
				pts[v] = true
			}
		}
		if len(pts) != opts.Days {
			t.Errorf("distinct pt = %d, want %d", len(pts), opts.Days)
		}
		// occur_time lies within its row's pt day; rssi in range, some NULL.
		times, ptc := column(t, at, "occur_time"), column(t, at, "pt")
		for i := range times {
			ts, pt := times[i].(*array.Timestamp), ptc[i].(*array.Date32)
			for j := range ts.Len() {
				if day := int64(ts.Value(j)) / 86_400_000_000; day != int64(pt.Value(j)) {
					t.Fatalf("occur_time %v outside pt %v", ts.Value(j), pt.Value(j))
				}
			}
		}
		var rssiNulls, apMACNulls int
		for _, c := range column(t, at, "rssi") {
			r := c.(*array.Int32)
			rssiNulls += r.NullN()
			for j := range r.Len() {
				if r.IsValid(j) && (r.Value(j) < -95 || r.Value(j) > -30) {
					t.Fatalf("rssi %d out of [-95,-30]", r.Value(j))
				}
			}
		}
		for _, c := range column(t, at, "ap_mac") {
			apMACNulls += c.NullN()
		}
		if rssiNulls < int(opts.Events)/200 || rssiNulls > int(opts.Events)/50 {
			t.Errorf("rssi NULLs = %d of %d, want about 1%%", rssiNulls, opts.Events)
		}
		if apMACNulls == 0 || apMACNulls > int(opts.Events)/100 {
			t.Errorf("ap_mac NULLs = %d of %d, want about 0.5%%", apMACNulls, opts.Events)
		}
	})

	t.Run("shops", func(t *testing.T) {
		tbl := loadTable(t, cat, datagen.ShopsTable)
		checkIdentifier(t, tbl, "shop_code")
		at := scan(t, mem, tbl)
		defer at.Release()
		if at.NumRows() != int64(opts.Shops) {
			t.Errorf("rows = %d, want %d", at.NumRows(), opts.Shops)
		}
		codes := column(t, at, "shop_code")[0].(*array.String)
		if codes.Value(0) != "S0001" {
			t.Errorf("first shop_code %q, want S0001", codes.Value(0))
		}
	})

	t.Run("device_places", func(t *testing.T) {
		tbl := loadTable(t, cat, datagen.DevicePlacesTable)
		checkIdentifier(t, tbl, "user_device_mac")
		at := scan(t, mem, tbl)
		defer at.Release()
		if at.NumRows() != int64(opts.Devices) {
			t.Errorf("rows = %d, want %d", at.NumRows(), opts.Devices)
		}
	})

	t.Run("devices", func(t *testing.T) {
		tbl := loadTable(t, cat, datagen.DevicesTable)
		sc := tbl.Schema()
		for name, want := range map[string]string{
			"id":               "long",
			"info.vendor":      "string",
			"info.os.name":     "string",
			"info.os.version":  "string",
			"geo.lat":          "double",
			"tags.element":     "string",
			"attributes.key":   "string",
			"attributes.value": "string",
			"first_seen":       "timestamptz",
		} {
			f, ok := sc.FindFieldByName(name)
			if !ok || f.Type.String() != want {
				t.Errorf("field %s = %v (found %v), want %s", name, f.Type, ok, want)
			}
		}
		if _, ok := sc.Field(2).Type.(*iceberg.StructType); !ok || sc.Field(2).Name != "info" {
			t.Errorf("field 3 = %v, want struct info", sc.Field(2))
		}
		if _, ok := sc.Field(4).Type.(*iceberg.ListType); !ok {
			t.Errorf("tags = %v, want a list", sc.Field(4).Type)
		}
		if _, ok := sc.Field(5).Type.(*iceberg.MapType); !ok {
			t.Errorf("attributes = %v, want a map", sc.Field(5).Type)
		}
		at := scan(t, mem, tbl)
		defer at.Release()
		if want := int64(min(opts.Devices, 5000)); at.NumRows() != want {
			t.Errorf("rows = %d, want %d", at.NumRows(), want)
		}
		var infoNulls, osNulls, tagNulls, attrNulls int
		for _, c := range column(t, at, "info") {
			s := c.(*array.Struct)
			infoNulls += s.NullN()
			osNulls += s.Field(2).NullN()
		}
		for _, c := range column(t, at, "tags") {
			tagNulls += c.NullN()
		}
		for _, c := range column(t, at, "attributes") {
			attrNulls += c.NullN()
		}
		if infoNulls == 0 || osNulls <= infoNulls || tagNulls == 0 || attrNulls == 0 {
			t.Errorf("nulls: info %d, info.os %d, tags %d, attributes %d: want some at each level",
				infoNulls, osNulls, tagNulls, attrNulls)
		}
	})

	t.Run("again", func(t *testing.T) {
		err := datagen.WriteDemo(t.Context(), cat, opts)
		if !errors.Is(err, catalog.ErrTableAlreadyExists) {
			t.Fatalf("second WriteDemo = %v, want ErrTableAlreadyExists", err)
		}
		if got := len(loadTable(t, cat, datagen.ProbeEventsTable).Metadata().Snapshots()); got != opts.Days {
			t.Errorf("snapshots after failed second write = %d, want %d", got, opts.Days)
		}
	})
}

func mustLoad(t *testing.T, cat catalog.Catalog, ident table.Identifier) *table.Table {
	t.Helper()
	tbl, err := cat.LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func checkIdentifier(t *testing.T, tbl *table.Table, name string) {
	t.Helper()
	sc := tbl.Schema()
	f, ok := sc.FindFieldByName(name)
	if !ok {
		t.Fatalf("no field %s", name)
	}
	if !slices.Equal(sc.IdentifierFieldIDs, []int{f.ID}) || !f.Required {
		t.Errorf("identifier fields %v (field %s id %d required %v), want [%d]",
			sc.IdentifierFieldIDs, name, f.ID, f.Required, f.ID)
	}
}

// fingerprint hashes every row of a table, independent of the order in
// which the scan returns rows: the rows are formatted, sorted and hashed.
func fingerprint(t *testing.T, mem memory.Allocator, tbl *table.Table) (uint64, int) {
	t.Helper()
	at := scan(t, mem, tbl)
	defer at.Release()
	tr := array.NewTableReader(at, 4096)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			var sb strings.Builder
			for _, col := range rec.Columns() {
				sb.WriteString(col.ValueStr(i))
				sb.WriteByte('|')
			}
			rows = append(rows, sb.String())
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	h := fnv.New64a()
	for _, r := range rows {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return h.Sum64(), len(rows)
}

func TestDeterministic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	catA, catB := writeSmall(t, mem), writeSmall(t, mem)
	other := openCatalog(t, t.TempDir())
	otherOpts := smallOptions(mem)
	otherOpts.Seed++
	if err := datagen.WriteDemo(t.Context(), other, otherOpts); err != nil {
		t.Fatal(err)
	}
	for _, ident := range datagen.DemoTables() {
		name := ident[len(ident)-1]
		a, na := fingerprint(t, mem, loadTable(t, catA, name))
		b, nb := fingerprint(t, mem, loadTable(t, catB, name))
		c, _ := fingerprint(t, mem, loadTable(t, other, name))
		if a != b || na != nb {
			t.Errorf("%s: same seed gives different contents (%x/%d rows vs %x/%d rows)", name, a, na, b, nb)
		}
		if a == c {
			t.Errorf("%s: seeds %d and %d give the same contents", name, otherOpts.Seed-1, otherOpts.Seed)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	cat := openCatalog(t, t.TempDir())
	for name, mut := range map[string]func(*datagen.DemoOptions){
		"negative days":   func(o *datagen.DemoOptions) { o.Days = -1 },
		"too few events":  func(o *datagen.DemoOptions) { o.Events = 3 },
		"start not UTC 0": func(o *datagen.DemoOptions) { o.Start = o.Start.Add(1) },
		"too many shops":  func(o *datagen.DemoOptions) { o.Shops = datagen.MaxShops + 1 },
	} {
		o := smallOptions(nil)
		mut(&o)
		if err := datagen.WriteDemo(t.Context(), cat, o); !errors.Is(err, datagen.ErrInvalidOptions) {
			t.Errorf("%s: err = %v, want ErrInvalidOptions", name, err)
		}
	}
	namespaces, err := cat.ListNamespaces(t.Context(), nil)
	if err != nil || len(namespaces) != 0 {
		t.Errorf("namespaces after invalid options = %v, %v; want none", namespaces, err)
	}
}

// failingCatalog makes CreateTable of one table fail, or cancels the
// context of WriteDemo once the last table is created.
type failingCatalog struct {
	catalog.Catalog
	failTable string
	cancel    context.CancelFunc
}

var errInjected = errors.New("injected failure")

func (c *failingCatalog) CreateTable(ctx context.Context, ident table.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*table.Table, error) {
	name := ident[len(ident)-1]
	if name == c.failTable {
		return nil, errInjected
	}
	tbl, err := c.Catalog.CreateTable(ctx, ident, sc, opts...)
	if c.cancel != nil && name == datagen.DevicesTable {
		c.cancel()
	}
	return tbl, err
}

// TestWriteDemoRollback checks that a write failing part way leaves no demo
// table, no namespace and no Arrow memory behind.
func TestWriteDemoRollback(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failTable string
		cancel    bool
		wantErr   error
	}{
		{"create fails", datagen.DevicePlacesTable, false, errInjected},
		{"context canceled while writing", "", true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cat := &failingCatalog{Catalog: openCatalog(t, t.TempDir()), failTable: tc.failTable}
			if tc.cancel {
				cat.cancel = cancel
			}
			err := datagen.WriteDemo(ctx, cat, smallOptions(mem))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteDemo = %v, want %v", err, tc.wantErr)
			}
			for _, ident := range datagen.DemoTables() {
				if ok, err := cat.CheckTableExists(t.Context(), ident); ok || err != nil {
					t.Errorf("table %v exists after failed write: %v, %v", ident, ok, err)
				}
			}
			if ok, err := cat.CheckNamespaceExists(t.Context(), table.Identifier{datagen.Namespace}); ok || err != nil {
				t.Errorf("namespace exists after failed write: %v, %v", ok, err)
			}
		})
	}
}

func TestDemoTables(t *testing.T) {
	var got []string
	for _, ident := range datagen.DemoTables() {
		got = append(got, strings.Join(ident, "."))
	}
	want := []string{"mall.probe_events", "mall.shops", "mall.device_places", "mall.devices"}
	if !slices.Equal(got, want) {
		t.Errorf("DemoTables = %v, want %v", got, want)
	}
}

// dirSize sums the sizes of the files under dir.
func dirSize(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func BenchmarkWriteDemo(b *testing.B) {
	o := datagen.DefaultDemoOptions()
	o.Events = 500_000
	o.Days = 5
	o.Devices = 20_000
	o.Shops = 100
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		cat := openCatalog(b, dir)
		if err := datagen.WriteDemo(b.Context(), cat, o); err != nil {
			b.Fatal(err)
		}
		bytes = dirSize(b, dir)
	}
	b.ReportMetric(float64(o.Events)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes), "disk_bytes")
}
