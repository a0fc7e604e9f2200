package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/scan"
)

// The probe fixture is one Parquet file of four row groups of 200 rows.
// Row r of row group g holds the code g + 8*(r%25) in every typed column
// (so the row groups hold 25 codes each, of residues 0 to 3 modulo 8, and
// their ranges overlap: statistics cannot tell them apart), NULL when
// r%7 == 3. Codes of residue 4 to 7 are in no row group. Exceptions: f32
// is NaN in row 1 of row group 0 and f64 is -0.0 where its value is zero
// (code 26). tag, never NULL, is "a" in row group 0, "a" and "b" in 1,
// "b" and "c" in 2 and "c" in 3; grp is "g<row group>", NULL as the typed
// columns.
const (
	probeGroups = 4
	probeRows   = 200
	probeCodes  = 25
)

func probeCode(g, r int) int { return g + 8*(r%probeCodes) }
func probeNull(r int) bool   { return r%7 == 3 }
func probeNaN(g, r int) bool { return g == 0 && r == 1 }

// probeColumn is a typed column of the fixture: the value of a code, as
// a Go value of its Arrow builder.
type probeColumn struct {
	name string
	typ  iceberg.Type
	val  func(code int) any
}

var (
	pow10_25 = new(big.Int).Exp(big.NewInt(10), big.NewInt(25), nil)
	d38Type  = iceberg.DecimalTypeOf(38, 2)
)

var probeColumns = []probeColumn{
	{"i32", iceberg.PrimitiveTypes.Int32, func(c int) any { return int32(c - 50) }},
	{"i64", iceberg.PrimitiveTypes.Int64, func(c int) any { return int64(c) * 1_000_000_007 }},
	{"f32", iceberg.PrimitiveTypes.Float32, func(c int) any { return float32(c) + 0.5 }},
	{"f64", iceberg.PrimitiveTypes.Float64, func(c int) any { return float64(c)*0.25 - 6.5 }},
	{"s", iceberg.PrimitiveTypes.String, func(c int) any { return fmt.Sprintf("s%03d", c) }},
	{"bin", iceberg.PrimitiveTypes.Binary, func(c int) any { return []byte(fmt.Sprintf("b%03d", c)) }},
	{"fx", iceberg.FixedTypeOf(4), func(c int) any { return []byte(fmt.Sprintf("f%03d", c)) }},
	{"dt", iceberg.PrimitiveTypes.Date, func(c int) any { return arrow.Date32(19000 + c) }},
	{"tm", iceberg.PrimitiveTypes.Time, func(c int) any { return arrow.Time64(int64(c)*1_000_000 + 7) }},
	{"ts", iceberg.PrimitiveTypes.Timestamp, func(c int) any { return arrow.Timestamp(1_700_000_000_000_000 + int64(c)*3_600_000_000) }},
	{"tstz", iceberg.PrimitiveTypes.TimestampTz, func(c int) any { return arrow.Timestamp(1_700_000_000_000_000 + int64(c)*3_600_000_001) }},
	{"d9", iceberg.DecimalTypeOf(9, 2), func(c int) any { return decimal128.FromI64(int64(c)*125 - 1000) }},
	{"d18", iceberg.DecimalTypeOf(18, 2), func(c int) any { return decimal128.FromI64(int64(c)*1_000_000_000_000_000 - 7) }},
	{"d38", d38Type, func(c int) any {
		v := new(big.Int).Mul(big.NewInt(int64(c)), pow10_25)
		return decimal128.FromBigInt(v.Neg(v).Sub(v, big.NewInt(3)))
	}},
}

func probeTag(g, r int) string {
	switch g {
	case 0:
		return "a"
	case 3:
		return "c"
	}
	return string(rune('a' + g - 1 + r%2))
}

// probeLiteral is the Iceberg literal of a column value.
func probeLiteral(v any) iceberg.Literal {
	switch x := v.(type) {
	case int32:
		return iceberg.NewLiteral(x)
	case int64:
		return iceberg.NewLiteral(x)
	case float32:
		return iceberg.NewLiteral(x)
	case float64:
		return iceberg.NewLiteral(x)
	case string:
		return iceberg.NewLiteral(x)
	case []byte:
		return iceberg.NewLiteral(x)
	case arrow.Date32:
		return iceberg.NewLiteral(iceberg.Date(x))
	case arrow.Time64:
		return iceberg.NewLiteral(iceberg.Time(x))
	case arrow.Timestamp:
		return iceberg.NewLiteral(iceberg.Timestamp(x))
	case decimal128.Num:
		return iceberg.NewLiteral(iceberg.Decimal{Val: x, Scale: 2})
	}
	panic(fmt.Sprintf("no literal for %T", v))
}

func appendProbeValue(b array.Builder, v any) {
	switch b := b.(type) {
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.FixedSizeBinaryBuilder:
		b.Append(v.([]byte))
	case *array.Date32Builder:
		b.Append(v.(arrow.Date32))
	case *array.Time64Builder:
		b.Append(v.(arrow.Time64))
	case *array.TimestampBuilder:
		b.Append(v.(arrow.Timestamp))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	default:
		panic(fmt.Sprintf("no append for %T", b))
	}
}

// probeConfig is how the fixture file is written.
type probeConfig struct {
	name         string
	dict, bloom  bool
	v2           bool // v2 data pages, zstd
	decimalInt   bool // decimals of precision up to 18 as INT32 and INT64
	noStats      bool
	fallback     bool // a tiny dictionary limit: the writer falls back to PLAIN pages
	corruptBloom bool // the bloom filters' headers are overwritten
	largeBloom   bool // bloom filters larger than the chunks they describe
}

// canDict and canBloom say whether the file's dictionaries and bloom
// filters can prove anything.
func (c probeConfig) canDict() bool  { return c.dict && !c.fallback }
func (c probeConfig) canBloom() bool { return c.bloom && !c.corruptBloom && !c.largeBloom }

var probeConfigs = []probeConfig{
	{name: "dict_v1", dict: true, decimalInt: true},
	{name: "dict_v2_zstd", dict: true, v2: true},
	{name: "dict_no_stats", dict: true, v2: true, decimalInt: true, noStats: true},
	{name: "bloom_v1", bloom: true, decimalInt: true},
	{name: "bloom_v2_zstd", bloom: true, v2: true},
	{name: "dict_and_bloom", dict: true, bloom: true, v2: true, decimalInt: true},
	{name: "dict_fallback", dict: true, fallback: true},
	{name: "dict_fallback_bloom", dict: true, fallback: true, bloom: true, v2: true},
	{name: "bloom_corrupt", bloom: true, corruptBloom: true},
	{name: "bloom_too_large", bloom: true, largeBloom: true},
}

func probeSchema() *iceberg.Schema {
	fields := []iceberg.NestedField{{ID: 1, Name: "key", Type: iceberg.PrimitiveTypes.Int64, Required: true}}
	for i, c := range probeColumns {
		fields = append(fields, iceberg.NestedField{ID: i + 2, Name: c.name, Type: c.typ})
	}
	fields = append(fields,
		iceberg.NestedField{ID: len(fields) + 1, Name: "tag", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: len(fields) + 2, Name: "grp", Type: iceberg.PrimitiveTypes.String})
	return iceberg.NewSchema(0, fields...)
}

// writeProbeFile writes the fixture as cfg says and returns its bytes. The
// batches are built on mem; the writer has its own allocator, as arrow-go
// does not release the bloom filters it builds (the garbage collector
// does).
func writeProbeFile(t *testing.T, mem memory.Allocator, asc *arrow.Schema, cfg probeConfig) []byte {
	t.Helper()
	props := []parquet.WriterProperty{
		parquet.WithAllocator(memory.NewGoAllocator()),
		parquet.WithDictionaryDefault(cfg.dict),
		parquet.WithStats(!cfg.noStats),
		parquet.WithStoreDecimalAsInteger(cfg.decimalInt),
	}
	if cfg.bloom {
		ndv := int64(64) // 256-byte filters
		if cfg.largeBloom {
			ndv = 8192 // 16 KiB
		}
		props = append(props, parquet.WithBloomFilterEnabled(true), parquet.WithBloomFilterNDV(ndv), parquet.WithBloomFilterFPP(0.001))
	}
	if cfg.v2 {
		props = append(props, parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithCompression(compress.Codecs.Zstd))
	}
	if cfg.fallback {
		// Pages of one batch of 8 values, and a dictionary limit the
		// second batch passes: the chunk holds a dictionary page, pages
		// encoded with it and PLAIN pages. tag and grp, which would keep
		// within the limit, are not dictionary-encoded.
		props = append(props, parquet.WithDictionaryPageSizeLimit(40), parquet.WithBatchSize(8), parquet.WithDataPageSize(1),
			parquet.WithDictionaryFor("tag", false), parquet.WithDictionaryFor("grp", false))
	}
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(asc, &buf, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.NewGoAllocator())))
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g < probeGroups; g++ {
		b := array.NewRecordBuilder(mem, asc)
		for r := 0; r < probeRows; r++ {
			b.Field(0).(*array.Int64Builder).Append(int64(g*1000 + r))
			for i, c := range probeColumns {
				fb := b.Field(i + 1)
				code := probeCode(g, r)
				switch {
				case probeNull(r):
					fb.AppendNull()
				case c.name == "f32" && probeNaN(g, r):
					appendProbeValue(fb, float32(math.NaN()))
				case c.name == "f64" && c.val(code).(float64) == 0:
					appendProbeValue(fb, math.Copysign(0, -1))
				default:
					appendProbeValue(fb, c.val(code))
				}
			}
			b.Field(len(probeColumns) + 1).(*array.StringBuilder).Append(probeTag(g, r))
			if gb := b.Field(len(probeColumns) + 2).(*array.StringBuilder); probeNull(r) {
				gb.AppendNull()
			} else {
				gb.Append(fmt.Sprintf("g%d", g))
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		w.NewBufferedRowGroup()
		err := w.WriteBuffered(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	checkProbeFile(t, data, cfg)
	return data
}

// checkProbeFile checks that the file is written as the configuration
// means, and overwrites its bloom filter headers when it says so.
func checkProbeFile(t *testing.T, data []byte, cfg probeConfig) {
	t.Helper()
	pr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	md := pr.MetaData()
	if md.NumRowGroups() != probeGroups {
		t.Fatalf("%d row groups, want %d", md.NumRowGroups(), probeGroups)
	}
	for g := 0; g < probeGroups; g++ {
		rg := md.RowGroup(g)
		for col := 1; col <= len(probeColumns); col++ {
			cc, err := rg.ColumnChunk(col)
			if err != nil {
				t.Fatal(err)
			}
			if cc.HasDictionaryPage() != cfg.dict {
				t.Fatalf("row group %d column %d: dictionary page %v, want %v", g, col, cc.HasDictionaryPage(), cfg.dict)
			}
			if cfg.dict {
				plain := false
				for _, s := range cc.EncodingStats() {
					if s.PageType != file.PageTypeDictionaryPage && s.Encoding == parquet.Encodings.Plain {
						plain = true
					}
				}
				if plain != cfg.fallback {
					t.Fatalf("row group %d column %d: PLAIN data pages %v, want %v (%v)", g, col, plain, cfg.fallback, cc.EncodingStats())
				}
			}
			if off := cc.BloomFilterOffset(); (off > 0) != cfg.bloom {
				t.Fatalf("row group %d column %d: bloom filter at %d", g, col, off)
			} else if cfg.corruptBloom {
				for i := off; i < off+16; i++ {
					data[i] = 0xff
				}
			}
		}
	}
}

// probeTable creates a table and adds the fixture file written as cfg says.
func probeTable(t *testing.T, ctx context.Context, mem memory.Allocator, cfg probeConfig) *table.Table {
	t.Helper()
	tbl := newTestTable(t, "probes_"+cfg.name, probeSchema(), nil)
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	data := writeProbeFile(t, mem, asc, cfg)
	path := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "probes.parquet")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	txn := tbl.NewTransaction()
	if err := txn.AddFiles(ctx, []string{"file://" + path}, nil, false); err != nil {
		t.Fatal(err)
	}
	if tbl, err = txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// probeCase is a filter and the row groups that hold its matching rows.
type probeCase struct {
	name   string
	filter iceberg.BooleanExpression
	fields []string // the columns read besides key (those filtered)
	groups []int    // the row groups holding matching rows
	// statsSkip is how many row groups the statistics skip (when written);
	// bloom says whether bloom filters decide the filter (= and IN).
	statsSkip int
	bloom     bool
	// rows is the number of matching rows (-1: not checked).
	rows int
}

// codeRows counts the rows of column c whose code is in (or with notIn,
// not in) a set. NULL is in no set and not in every one; the NaN of f32
// is no code.
func codeRows(c probeColumn, in func(code int) bool, notIn bool) int {
	n := 0
	for g := 0; g < probeGroups; g++ {
		for r := 0; r < probeRows; r++ {
			if probeNull(r) {
				if notIn {
					n++
				}
				continue
			}
			if c.name == "f32" && probeNaN(g, r) {
				if notIn {
					n++
				}
				continue
			}
			if in(probeCode(g, r)) != notIn {
				n++
			}
		}
	}
	return n
}

func probeCases() []probeCase {
	var cases []probeCase
	set := func(codes ...int) func(int) bool { return func(c int) bool { return slices.Contains(codes, c) } }
	lits := func(c probeColumn, codes ...int) []iceberg.Literal {
		var out []iceberg.Literal
		for _, code := range codes {
			out = append(out, probeLiteral(c.val(code)))
		}
		return out
	}
	nulls := (probeRows + 3) / 7 // per row group
	var group0 []int
	for j := 0; j < probeCodes; j++ {
		group0 = append(group0, 8*j)
	}
	for _, c := range probeColumns {
		ref := iceberg.Reference(c.name)
		cases = append(cases,
			probeCase{name: c.name + " = one group's", fields: []string{c.name}, filter: iceberg.LiteralPredicate(iceberg.OpEQ, ref, probeLiteral(c.val(26))),
				groups: []int{2}, bloom: true, rows: codeRows(c, set(26), false)},
			probeCase{name: c.name + " = absent", fields: []string{c.name}, filter: iceberg.LiteralPredicate(iceberg.OpEQ, ref, probeLiteral(c.val(28))),
				bloom: true, rows: 0},
			probeCase{name: c.name + " IN two groups' and absent", fields: []string{c.name}, filter: iceberg.SetPredicate(iceberg.OpIn, ref, lits(c, 9, 27, 28)),
				groups: []int{1, 3}, bloom: true, rows: codeRows(c, set(9, 27, 28), false)},
			probeCase{name: c.name + " IN absent", fields: []string{c.name}, filter: iceberg.SetPredicate(iceberg.OpIn, ref, lits(c, 4, 12, 20)),
				bloom: true, rows: 0},
			// Row group 0 holds no other value, but NULLs (and for f32
			// NaN), which are not in the list.
			probeCase{name: c.name + " NOT IN group 0's", fields: []string{c.name}, filter: iceberg.SetPredicate(iceberg.OpNotIn, ref, lits(c, group0...)),
				groups: []int{0, 1, 2, 3}, rows: codeRows(c, set(group0...), true)},
		)
	}
	col := func(name string) probeColumn {
		for _, c := range probeColumns {
			if c.name == name {
				return c
			}
		}
		panic(name)
	}
	i32, s, i64, d38 := col("i32"), col("s"), col("i64"), col("d38")
	cases = append(cases,
		probeCase{name: "tag NOT IN (a, b)", fields: []string{"tag"}, filter: iceberg.NotIn(iceberg.Reference("tag"), "a", "b"),
			groups: []int{2, 3}, statsSkip: 1, rows: -1},
		probeCase{name: "grp != g1", fields: []string{"grp"}, filter: iceberg.NotEqualTo(iceberg.Reference("grp"), "g1"),
			groups: []int{0, 2, 3}, statsSkip: 1, rows: 3 * (probeRows - nulls)},
		probeCase{name: "grp NOT IN (g1, g9)", fields: []string{"grp"}, filter: iceberg.NotIn(iceberg.Reference("grp"), "g1", "g9"),
			groups: []int{0, 1, 2, 3}, rows: 3*probeRows + nulls},
		probeCase{name: "i32 < code 2", fields: []string{"i32"}, filter: iceberg.LiteralPredicate(iceberg.OpLT, iceberg.Reference("i32"), probeLiteral(i32.val(2))),
			groups: []int{0, 1}, statsSkip: 2, rows: -1},
		probeCase{name: "i32 = 26 AND s = 26", fields: []string{"i32", "s"}, filter: iceberg.NewAnd(
			iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference("i32"), probeLiteral(i32.val(26))),
			iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference("s"), probeLiteral(s.val(26)))),
			groups: []int{2}, bloom: true, rows: codeRows(i32, set(26), false)},
		probeCase{name: "i64 = 9 OR d38 = 27", fields: []string{"i64", "d38"}, filter: iceberg.NewOr(
			iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference("i64"), probeLiteral(i64.val(9))),
			iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference("d38"), probeLiteral(d38.val(27)))),
			groups: []int{1, 3}, bloom: true, rows: codeRows(i64, set(9, 27), false)},
		probeCase{name: "s IS NULL", fields: []string{"s"}, filter: iceberg.IsNull(iceberg.Reference("s")),
			groups: []int{0, 1, 2, 3}, rows: probeGroups * nulls},
	)
	return cases
}

// want returns the row groups a case reads and skips by statistics,
// dictionary and bloom filter in a file written as cfg says.
func (tc probeCase) want(cfg probeConfig) (read, byStats, byDict, byBloom int64) {
	if !cfg.noStats {
		byStats = int64(tc.statsSkip)
	}
	rest := int64(probeGroups-len(tc.groups)) - byStats
	switch {
	case cfg.canDict():
		byDict = rest
	case cfg.canBloom() && tc.bloom:
		byBloom = rest
	}
	return probeGroups - byStats - byDict - byBloom, byStats, byDict, byBloom
}

// TestNativeProbes filters a file whose row groups statistics cannot tell
// apart, written with dictionaries, bloom filters or both: the row groups
// skipped, and why, are those the file lets the scan skip, and the rows
// are those of a read that tests statistics only and of iceberg-go's.
func TestNativeProbes(t *testing.T) {
	for _, cfg := range probeConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			mem, ctx := newAlloc(t)
			tbl := probeTable(t, ctx, mem, cfg)
			for _, tc := range probeCases() {
				t.Run(tc.name, func(t *testing.T) {
					_, ctx := newAlloc(t)
					fields := append([]string{"key"}, tc.fields...)
					p := plan(t, ctx, scan.Request{Table: tbl, Fields: fields, Filter: tc.filter, BatchSize: 128})
					if p.NumTasks() != 1 {
						t.Fatalf("%d tasks, want the one file", p.NumTasks())
					}
					scan.SetProbes(p, false)
					r, err := p.Open(ctx, p.Part(0, 1))
					if err != nil {
						t.Fatal(err)
					}
					want := drain(t, r, p.Schema())
					plain := r.Stats()
					scan.SetProbes(p, true)
					rows, st := compareWithIceberg(t, ctx, p, p.Part(0, 1))
					if !reflect.DeepEqual(rows, want) {
						t.Errorf("with probes %d rows, without %d", len(rows), len(want))
					}
					if tc.rows >= 0 && len(rows) != tc.rows {
						t.Errorf("%d rows, want %d", len(rows), tc.rows)
					}
					read, byStats, byDict, byBloom := tc.want(cfg)
					if st.FallbackFiles != 0 || st.RowGroups != read || st.SkippedByStats != byStats ||
						st.SkippedByDictionary != byDict || st.SkippedByBloomFilter != byBloom ||
						st.RowGroupsSkipped != byStats+byDict+byBloom {
						t.Errorf("figures %+v: want %d row groups read, skipped %d by statistics, %d by dictionary, %d by bloom filter",
							st, read, byStats, byDict, byBloom)
					}
					if plain.RowGroupsSkipped != byStats || plain.SkippedByStats != byStats || plain.SkippedByDictionary+plain.SkippedByBloomFilter != 0 {
						t.Errorf("without probes, figures %+v", plain)
					}
					// Lookups count as bytes read; a skipped row group's
					// chunks, but for the dictionary pages read, as skipped.
					if byDict+byBloom > 0 {
						if st.BytesRead <= 0 || st.BytesSkipped <= plain.BytesSkipped {
							t.Errorf("figures %+v, without probes %+v: want lookup bytes read and more bytes skipped", st, plain)
						}
					}
					if st.BytesRead+st.BytesSkipped < plain.BytesRead+plain.BytesSkipped {
						t.Errorf("figures %+v, without probes %+v: fewer bytes read and skipped", st, plain)
					}
					// A probe reads at most half the bytes it may save.
					if extra := st.BytesRead + st.BytesSkipped - plain.BytesRead - plain.BytesSkipped; extra > (plain.BytesRead+plain.BytesSkipped)/2 {
						t.Errorf("figures %+v, without probes %+v: probes read %d bytes", st, plain, extra)
					}
					if cfg.largeBloom && st != plain {
						t.Errorf("figures %+v, without probes %+v: bloom filters larger than their row groups read", st, plain)
					}
				})
			}
		})
	}
}
