package scan

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// statsFixture is a Parquet file of four row groups of three rows:
//
//	rg  k           d              s                      dt           dec*                 b
//	0   1, 2, 3     1.5, 2.5, 3.5  apple, banana, cherry  100..102     1.00, 2.00, 3.00     true x3
//	1   10, -, 12   -1, NaN, 0     kiwi, -, lemon         200, -, 210  -5.00, -, 5.00       false, -, true
//	2   - x3        - x3           - x3                   - x3         - x3                 - x3
//	3   7 x3        2 x3           same x3                150 x3       7.50 x3              false x3
//
// (- is NULL). The decimals are stored as INT32 (dec9), INT64 (dec18) and
// FIXED_LEN_BYTE_ARRAY (dec38).
type statsFixture struct {
	schema  *iceberg.Schema
	md      *metadata.FileMetaData
	columns map[int]statColumn
}

func newStatsFixture(t *testing.T) *statsFixture {
	t.Helper()
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "d", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 3, Name: "s", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "dt", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 5, Name: "dec9", Type: iceberg.DecimalTypeOf(9, 2)},
		iceberg.NestedField{ID: 6, Name: "dec18", Type: iceberg.DecimalTypeOf(18, 2)},
		iceberg.NestedField{ID: 7, Name: "dec38", Type: iceberg.DecimalTypeOf(38, 2)},
		iceberg.NestedField{ID: 8, Name: "b", Type: iceberg.PrimitiveTypes.Bool},
	)
	asc, err := table.SchemaToArrowSchema(sc, nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	groups := []string{
		`[{"k": 1, "d": 1.5, "s": "apple", "dt": 100, "dec9": "1.00", "dec18": "1.00", "dec38": "1.00", "b": true},
		  {"k": 2, "d": 2.5, "s": "banana", "dt": 101, "dec9": "2.00", "dec18": "2.00", "dec38": "2.00", "b": true},
		  {"k": 3, "d": 3.5, "s": "cherry", "dt": 102, "dec9": "3.00", "dec18": "3.00", "dec38": "3.00", "b": true}]`,
		`[{"k": 10, "d": -1, "s": "kiwi", "dt": 200, "dec9": "-5.00", "dec18": "-5.00", "dec38": "-5.00", "b": false},
		  {"k": null, "d": "NaN", "s": null, "dt": null, "dec9": null, "dec18": null, "dec38": null, "b": null},
		  {"k": 12, "d": 0, "s": "lemon", "dt": 210, "dec9": "5.00", "dec18": "5.00", "dec38": "5.00", "b": true}]`,
		`[{"k": null, "d": null, "s": null, "dt": null, "dec9": null, "dec18": null, "dec38": null, "b": null},
		  {"k": null, "d": null, "s": null, "dt": null, "dec9": null, "dec18": null, "dec38": null, "b": null},
		  {"k": null, "d": null, "s": null, "dt": null, "dec9": null, "dec18": null, "dec38": null, "b": null}]`,
		`[{"k": 7, "d": 2, "s": "same", "dt": 150, "dec9": "7.50", "dec18": "7.50", "dec38": "7.50", "b": false},
		  {"k": 7, "d": 2, "s": "same", "dt": 150, "dec9": "7.50", "dec18": "7.50", "dec38": "7.50", "b": false},
		  {"k": 7, "d": 2, "s": "same", "dt": 150, "dec9": "7.50", "dec18": "7.50", "dec38": "7.50", "b": false}]`,
	}
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(asc, &buf,
		parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithStats(true), parquet.WithStoreDecimalAsInteger(true)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		rec, _, err := array.RecordFromJSON(mem, asc, strings.NewReader(g))
		if err != nil {
			t.Fatal(err)
		}
		w.NewBufferedRowGroup()
		if err := w.WriteBuffered(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if pr.NumRowGroups() != len(groups) {
		t.Fatalf("%d row groups, want %d", pr.NumRowGroups(), len(groups))
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	f := &statsFixture{schema: sc, md: pr.MetaData(), columns: map[int]statColumn{}}
	for col := 0; col < f.md.Schema.NumColumns(); col++ {
		sf, err := fr.Manifest.GetColumnField(col)
		if err != nil {
			t.Fatal(err)
		}
		id := fieldID(sf.Field)
		field, _ := sc.FindFieldByID(id)
		c := f.md.Schema.Column(col)
		f.columns[id] = statColumnFor(col, parquetColumn{physical: c.PhysicalType(), repeated: c.MaxRepetitionLevel() > 0}, sf.Field.Type, field.Type)
		if f.columns[id].kind == kindNone {
			t.Fatalf("column %s (%s) has no statistics kind", field.Name, sf.Field.Type)
		}
	}
	return f
}

func (f *statsFixture) filter(t *testing.T, e iceberg.BooleanExpression) *rowGroupFilter {
	t.Helper()
	bound, err := iceberg.BindExpr(f.schema, e, true)
	if err != nil {
		t.Fatalf("bind %s: %v", e, err)
	}
	rf, err := newRowGroupFilter(bound, f.columns)
	if err != nil {
		t.Fatal(err)
	}
	return rf
}

func (f *statsFixture) verdicts(rf *rowGroupFilter) []verdict {
	out := make([]verdict, f.md.NumRowGroups())
	for i := range out {
		out[i] = rf.eval(f.md.RowGroup(i))
	}
	return out
}

func dec(s string) iceberg.Decimal {
	n, err := decimal128.FromString(s, 38, 2)
	if err != nil {
		panic(err)
	}
	return iceberg.Decimal{Val: n, Scale: 2}
}

func TestRowGroupFilter(t *testing.T) {
	f := newStatsFixture(t)
	const (
		M = rowsMightMatch
		Y = rowsMustMatch
		N = rowsCannotMatch
	)
	k, d, s, dt, b := iceberg.Reference("k"), iceberg.Reference("d"), iceberg.Reference("s"), iceberg.Reference("dt"), iceberg.Reference("b")
	tests := []struct {
		e    iceberg.BooleanExpression
		want []verdict
	}{
		{iceberg.LessThan(k, int64(5)), []verdict{Y, N, N, N}},
		{iceberg.LessThanEqual(k, int64(3)), []verdict{Y, N, N, N}},
		{iceberg.GreaterThan(k, int64(3)), []verdict{N, M, N, Y}},
		{iceberg.GreaterThanEqual(k, int64(12)), []verdict{N, M, N, N}},
		{iceberg.EqualTo(k, int64(7)), []verdict{N, N, N, Y}},
		{iceberg.NotEqualTo(k, int64(7)), []verdict{Y, M, N, N}},
		{iceberg.IsNull(k), []verdict{N, M, Y, N}},
		{iceberg.NotNull(k), []verdict{Y, M, N, Y}},
		{iceberg.IsIn(k, int64(2), int64(11)), []verdict{M, M, N, N}},
		{iceberg.IsIn(k, int64(7), int64(8)), []verdict{N, N, N, Y}},
		// NULL NOT IN (...) is true as the row filter evaluates it.
		{iceberg.NotIn(k, int64(7), int64(8)), []verdict{Y, M, M, N}},
		// Floats never must match (NaN is in no statistic) and NaN
		// compares false, so a range can still rule a row group out.
		{iceberg.LessThan(d, 3.0), []verdict{M, M, N, M}},
		{iceberg.GreaterThan(d, 5.0), []verdict{N, N, N, N}},
		{iceberg.EqualTo(d, 2.0), []verdict{M, N, N, M}},
		{iceberg.NotEqualTo(d, 2.0), []verdict{M, M, N, M}},
		{iceberg.IsNaN(d), []verdict{M, M, N, M}},
		{iceberg.LessThan(s, "b"), []verdict{M, N, N, N}},
		{iceberg.StartsWith(s, "ba"), []verdict{M, N, N, N}},
		{iceberg.StartsWith(s, "sa"), []verdict{N, N, N, Y}},
		{iceberg.NotStartsWith(s, "sa"), []verdict{M, M, N, N}},
		{iceberg.GreaterThanEqual(dt, iceberg.Date(150)), []verdict{N, M, N, Y}},
		{iceberg.GreaterThan(iceberg.Reference("dec9"), dec("4.00")), []verdict{N, M, N, Y}},
		{iceberg.GreaterThan(iceberg.Reference("dec18"), dec("4.00")), []verdict{N, M, N, Y}},
		{iceberg.GreaterThan(iceberg.Reference("dec38"), dec("4.00")), []verdict{N, M, N, Y}},
		{iceberg.LessThan(iceberg.Reference("dec38"), dec("0.00")), []verdict{N, M, N, N}},
		{iceberg.EqualTo(iceberg.Reference("dec18"), dec("7.50")), []verdict{N, N, N, Y}},
		{iceberg.EqualTo(b, true), []verdict{Y, M, N, N}},
		{iceberg.NewAnd(iceberg.GreaterThan(k, int64(3)), iceberg.GreaterThanEqual(dt, iceberg.Date(150))), []verdict{N, M, N, Y}},
		{iceberg.NewOr(iceberg.LessThan(k, int64(5)), iceberg.EqualTo(k, int64(7))), []verdict{Y, N, N, Y}},
		{iceberg.NewNot(iceberg.GreaterThanEqual(k, int64(5))), []verdict{Y, N, N, N}},
		{iceberg.NewOr(iceberg.IsNull(k), iceberg.LessThan(d, 0.0)), []verdict{N, M, Y, N}},
	}
	for _, tt := range tests {
		t.Run(tt.e.String(), func(t *testing.T) {
			got := f.verdicts(f.filter(t, tt.e))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("verdicts [%s], want [%s]", describeVerdicts(got), describeVerdicts(tt.want))
			}
		})
	}
}

// TestRowGroupFilterShared evaluates one filter from many goroutines at
// once (run with -race): evaluation changes nothing.
func TestRowGroupFilterShared(t *testing.T) {
	f := newStatsFixture(t)
	rf := f.filter(t, iceberg.NewOr(
		iceberg.NewAnd(iceberg.GreaterThan(iceberg.Reference("k"), int64(3)), iceberg.NotNull(iceberg.Reference("s"))),
		iceberg.IsIn(iceberg.Reference("dec38"), dec("7.50"), dec("1.00"))))
	want := fmt.Sprint(f.verdicts(rf))
	var wg sync.WaitGroup
	errs := make([]string, 8)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got := fmt.Sprint(f.verdicts(rf)); got != want {
					errs[g] = got
					return
				}
			}
		}()
	}
	wg.Wait()
	for g, e := range errs {
		if e != "" {
			t.Errorf("goroutine %d: verdicts %s, want %s", g, e, want)
		}
	}
}

func TestBigEndianDecimal(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, -128, 255, 256, -257, math.MaxInt64, math.MinInt64} {
		for _, width := range []int{8, 9, 16} {
			b := make([]byte, width)
			for i := 0; i < 8; i++ {
				b[width-1-i] = byte(uint64(v) >> (8 * i))
			}
			for i := 0; i < width-8; i++ {
				if v < 0 {
					b[i] = 0xff
				}
			}
			got, ok := bigEndianDecimal(b)
			if !ok || got.Cmp(decimal128.FromI64(v)) != 0 {
				t.Errorf("%d in %d bytes: got %v", v, width, got)
			}
		}
	}
	if _, ok := bigEndianDecimal(make([]byte, 17)); ok {
		t.Error("17 bytes decoded")
	}
}

func describeVerdicts(vs []verdict) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}
