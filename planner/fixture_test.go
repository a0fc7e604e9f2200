package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
)

// mainWithCleanup closes the shared warehouses after the tests and before
// the leak check.
type mainWithCleanup struct{ m *testing.M }

func (w mainWithCleanup) Run() int {
	code := w.m.Run()
	demo.close()
	tiny.close()
	return code
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(mainWithCleanup{m}) }

// Size of the demo warehouse the tests query.
const (
	demoEvents      = 20_000
	demoDays        = 3
	demoFilesPerDay = 2
)

// warehouse is a demo warehouse written once per test binary into a
// temporary directory, and only read by the tests.
type warehouse struct {
	opts datagen.DemoOptions
	once sync.Once
	dir  string
	cat  *catalog.Catalog
	err  error
}

var (
	demo = &warehouse{opts: func() datagen.DemoOptions {
		o := datagen.DefaultDemoOptions()
		o.Events, o.Days, o.Devices, o.Shops, o.FilesPerDay = demoEvents, demoDays, 300, 20, demoFilesPerDay
		return o
	}()}
	// tiny is the warehouse of the fuzz test: small enough that any plan
	// runs in milliseconds.
	tiny = &warehouse{opts: func() datagen.DemoOptions {
		o := datagen.DefaultDemoOptions()
		o.Events, o.Days, o.Devices, o.Shops, o.FilesPerDay = 60, 2, 12, 3, 1
		return o
	}()}
)

func (w *warehouse) catalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	w.once.Do(func() {
		if w.dir, w.err = os.MkdirTemp("", "lakeflight-planner-test-"); w.err != nil {
			return
		}
		ctx := context.Background()
		w.cat, w.err = catalog.Open(ctx, catalog.Options{
			URI:       "sqlite://" + filepath.Join(w.dir, "catalog.db"),
			Warehouse: "file://" + filepath.Join(w.dir, "warehouse"),
		})
		if w.err == nil {
			w.err = datagen.WriteDemo(ctx, w.cat.Iceberg(), w.opts)
		}
	})
	if w.err != nil {
		tb.Fatalf("demo warehouse: %v", w.err)
	}
	return w.cat
}

func (w *warehouse) close() {
	if w.cat != nil {
		w.cat.Close()
	}
	if w.dir != "" {
		os.RemoveAll(w.dir)
	}
}

// testOptions plan scans in batches of 1000 rows, so that results cross
// many batch boundaries, in up to 4 parts.
var testOptions = Options{MaxParts: 4, BatchSize: 1000, ScanConcurrency: 2}

func demoPlanner(tb testing.TB) *Planner { return New(demo.catalog(tb), testOptions) }

// newAlloc returns a checked allocator that must be empty when the test
// ends, and a context whose kernels and scans use it.
func newAlloc(t *testing.T) (*memory.CheckedAllocator, context.Context) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem, executor.WithAllocator(t.Context(), mem)
}

func plan(t *testing.T, ctx context.Context, p *Planner, sql string, params ...any) *Query {
	t.Helper()
	req := Request{SQL: sql}
	for _, v := range params {
		req.Params = append(req.Params, scalarOf(v))
	}
	q, err := p.Plan(ctx, req)
	if err != nil {
		t.Fatalf("Plan(%s): %v", sql, err)
	}
	return q
}

// run plans sql and executes part of parts of it, returning the rendered
// rows.
func runPart(t *testing.T, ctx context.Context, q *Query, part, parts int) []string {
	t.Helper()
	var rows []string
	err := executor.Drain(ctx, q.Operator(part, parts), func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(q.Schema) {
			t.Errorf("batch schema\n%s\ndiffers from the query schema\n%s", rec.Schema(), q.Schema)
		}
		rows = append(rows, renderRecord(rec)...)
		return nil
	})
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	return rows
}

func run(t *testing.T, ctx context.Context, p *Planner, sql string, params ...any) []string {
	t.Helper()
	return runPart(t, ctx, plan(t, ctx, p, sql, params...), 0, 1)
}

// renderRecord renders each row as its values joined by |.
func renderRecord(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for r := range out {
		vals := make([]any, rec.NumCols())
		for c := range vals {
			vals[c] = arrowValue(rec.Column(c), r)
		}
		out[r] = render(vals...)
	}
	return out
}

// arrowValue converts one Arrow value to the Go value render expects: nil,
// int64, float64, string, bool, time.Time (dates and timestamps, UTC) or
// the JSON rendering of a nested value.
func arrowValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i)
	case *array.Int32:
		return int64(x.Value(i))
	case *array.Int16:
		return int64(x.Value(i))
	case *array.Float64:
		return x.Value(i)
	case *array.Float32:
		return float64(x.Value(i))
	case *array.String:
		return x.Value(i)
	case *array.LargeString:
		return x.Value(i)
	case *array.Boolean:
		return x.Value(i)
	case *array.Date32:
		return x.Value(i).ToTime()
	case *array.Timestamp:
		return time.UnixMicro(int64(x.Value(i))).UTC()
	}
	return a.ValueStr(i)
}

func render(vals ...any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			parts[i] = "NULL"
		case *string:
			parts[i] = "NULL"
			if x != nil {
				parts[i] = *x
			}
		case *int32:
			parts[i] = "NULL"
			if x != nil {
				parts[i] = strconv.Itoa(int(*x))
			}
		case *float64:
			parts[i] = "NULL"
			if x != nil {
				parts[i] = strconv.FormatFloat(*x, 'g', -1, 64)
			}
		case int:
			parts[i] = strconv.Itoa(x)
		case int32:
			parts[i] = strconv.Itoa(int(x))
		case int64:
			parts[i] = strconv.FormatInt(x, 10)
		case float64:
			parts[i] = strconv.FormatFloat(x, 'g', -1, 64)
		case time.Time:
			parts[i] = x.UTC().Format("2006-01-02 15:04:05.999999")
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, "|")
}

func sorted(rows []string) []string {
	out := slices.Clone(rows)
	slices.Sort(out)
	return out
}

// event is one row of mall.probe_events, read with iceberg-go directly.
type event struct {
	id    int64
	shop  *string
	apIP  *string
	occur time.Time
	mac   *string
	rssi  *int32
	apMAC *string
	pt    time.Time
}

type device struct {
	id                int64
	mac               *string
	infoNull, osNull  bool
	vendor, model     *string
	osName, osVersion *string
	geoNull           bool
	lat, lon          *float64
	firstSeen         *time.Time
}

type shop struct {
	code, name, category *string
	floor                *int32
	opened               time.Time
}

// reference holds the demo tables as read by iceberg-go, without lakeflight.
type reference struct {
	events  []event
	devices []device
	shops   []shop
}

var (
	refOnce sync.Once
	ref     reference
	refErr  error
)

func demoReference(t *testing.T) *reference {
	t.Helper()
	cat := demo.catalog(t)
	refOnce.Do(func() { refErr = ref.load(cat) })
	if refErr != nil {
		t.Fatalf("reference read: %v", refErr)
	}
	return &ref
}

func (r *reference) load(cat *catalog.Catalog) error {
	ctx := context.Background()
	read := func(name string, fn func(rec arrow.RecordBatch, i int)) error {
		tbl, err := cat.LoadTable(ctx, table.Identifier{datagen.Namespace, name})
		if err != nil {
			return err
		}
		at, err := tbl.Scan().ToArrowTable(ctx)
		if err != nil {
			return err
		}
		defer at.Release()
		tr := array.NewTableReader(at, math.MaxInt32)
		defer tr.Release()
		for tr.Next() {
			rec := tr.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				fn(rec, i)
			}
		}
		return tr.Err()
	}
	col := func(rec arrow.RecordBatch, name string) arrow.Array {
		return rec.Column(rec.Schema().FieldIndices(name)[0])
	}
	str := func(a arrow.Array, i int) *string {
		if a.IsNull(i) {
			return nil
		}
		var s string
		switch x := a.(type) {
		case *array.String:
			s = x.Value(i)
		case *array.LargeString:
			s = x.Value(i)
		case *array.StringView:
			s = x.Value(i)
		default:
			panic(fmt.Sprintf("string column of type %s", a.DataType()))
		}
		return &s
	}
	err := read(datagen.ProbeEventsTable, func(rec arrow.RecordBatch, i int) {
		e := event{
			id:    col(rec, "id").(*array.Int64).Value(i),
			shop:  str(col(rec, "shop_code"), i),
			apIP:  str(col(rec, "ap_ip"), i),
			occur: time.UnixMicro(int64(col(rec, "occur_time").(*array.Timestamp).Value(i))).UTC(),
			mac:   str(col(rec, "user_device_mac"), i),
			apMAC: str(col(rec, "ap_mac"), i),
			pt:    col(rec, "pt").(*array.Date32).Value(i).ToTime(),
		}
		if rs := col(rec, "rssi"); rs.IsValid(i) {
			v := rs.(*array.Int32).Value(i)
			e.rssi = &v
		}
		r.events = append(r.events, e)
	})
	if err != nil {
		return err
	}
	err = read(datagen.ShopsTable, func(rec arrow.RecordBatch, i int) {
		s := shop{code: str(col(rec, "shop_code"), i), name: str(col(rec, "shop_name"), i), category: str(col(rec, "category"), i),
			opened: col(rec, "opened").(*array.Date32).Value(i).ToTime()}
		if f := col(rec, "floor"); f.IsValid(i) {
			v := f.(*array.Int32).Value(i)
			s.floor = &v
		}
		r.shops = append(r.shops, s)
	})
	if err != nil {
		return err
	}
	return read(datagen.DevicesTable, func(rec arrow.RecordBatch, i int) {
		d := device{id: col(rec, "id").(*array.Int64).Value(i), mac: str(col(rec, "mac"), i)}
		info := col(rec, "info").(*array.Struct)
		d.infoNull = info.IsNull(i)
		if !d.infoNull {
			// Children of a NULL struct are NULL too in SQL: only read them
			// under a valid parent.
			st := info.DataType().(*arrow.StructType)
			field := func(name string) arrow.Array { idx, _ := st.FieldIdx(name); return info.Field(idx) }
			d.vendor, d.model = str(field("vendor"), i), str(field("model"), i)
			os := field("os").(*array.Struct)
			d.osNull = os.IsNull(i)
			if !d.osNull {
				d.osName, d.osVersion = str(os.Field(0), i), str(os.Field(1), i)
			}
		}
		if fs := col(rec, "first_seen"); fs.IsValid(i) {
			v := time.UnixMicro(int64(fs.(*array.Timestamp).Value(i))).UTC()
			d.firstSeen = &v
		}
		geo := col(rec, "geo").(*array.Struct)
		d.geoNull = geo.IsNull(i)
		if !d.geoNull {
			if geo.Field(0).IsValid(i) {
				v := geo.Field(0).(*array.Float64).Value(i)
				d.lat = &v
			}
			if geo.Field(1).IsValid(i) {
				v := geo.Field(1).(*array.Float64).Value(i)
				d.lon = &v
			}
		}
		r.devices = append(r.devices, d)
	})
}

// scalarOf makes a parameter value.
func scalarOf(v any) scalar.Scalar {
	switch x := v.(type) {
	case nil:
		return scalar.MakeNullScalar(arrow.Null)
	case int:
		return scalar.NewInt64Scalar(int64(x))
	case int64:
		return scalar.NewInt64Scalar(x)
	case int32:
		return scalar.NewInt32Scalar(x)
	case float64:
		return scalar.NewFloat64Scalar(x)
	case string:
		return scalar.NewStringScalar(x)
	case bool:
		return scalar.NewBooleanScalar(x)
	case scalar.Scalar:
		return x
	}
	panic(fmt.Sprintf("scalarOf(%T)", v))
}

var oneColumn = iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64})

func errorsIs(err, target error) bool { return errors.Is(err, target) }

var (
	snapshotID = regexp.MustCompile(`snapshot=\d+`)
	setMembers = regexp.MustCompile(`\{\[([^\]]*)\]\}`)
)

// normalizePlan masks snapshot ids (random) and sorts the members of
// Iceberg set predicates (rendered in map order) in EXPLAIN text.
func normalizePlan(s string) string {
	s = snapshotID.ReplaceAllString(s, "snapshot=N")
	return setMembers.ReplaceAllStringFunc(s, func(m string) string {
		parts := strings.Fields(setMembers.FindStringSubmatch(m)[1])
		slices.Sort(parts)
		return "{[" + strings.Join(parts, " ") + "]}"
	})
}
