package scan

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// flatColumnsFile writes rows rows of flat columns of every type the flat
// sources decode, nullable and required, in several row groups of several
// small pages, with dictionaries that overflow into plain pages.
func flatColumnsFile(t *testing.T, mem memory.Allocator, rows int, large bool, extra ...parquet.WriterProperty) []byte {
	t.Helper()
	str, bin := arrow.BinaryTypes.String, arrow.BinaryTypes.Binary
	if large {
		str, bin = arrow.BinaryTypes.LargeString, arrow.BinaryTypes.LargeBinary
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: str, Nullable: true},
		{Name: "s_req", Type: str},
		{Name: "flag", Type: str, Nullable: true},
		{Name: "b", Type: bin, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "dt", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "dec9", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "dec18", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	appendStr := func(fb array.Builder, v string) {
		switch x := fb.(type) {
		case *array.StringBuilder:
			x.Append(v)
		case *array.LargeStringBuilder:
			x.Append(v)
		case *array.BinaryBuilder:
			x.Append([]byte(v))
		}
	}
	for i := 0; i < rows; i++ {
		null := i%13 == 5 || (i >= 700 && i < 1500) // a run of NULLs spans pages
		if null {
			b.Field(0).AppendNull()
		} else {
			appendStr(b.Field(0), strings.Repeat(fmt.Sprint(i%997), i%4)) // "" every fourth row
		}
		appendStr(b.Field(1), fmt.Sprintf("row-%d", i)) // distinct: plain after the dictionary fills
		if i%7 == 3 {
			b.Field(2).AppendNull()
		} else {
			appendStr(b.Field(2), string(rune('A'+i%3)))
		}
		if i%5 == 0 {
			b.Field(3).AppendNull()
		} else {
			appendStr(b.Field(3), string([]byte{byte(i), 0, byte(i >> 8)}))
		}
		if null {
			b.Field(4).AppendNull()
			b.Field(6).AppendNull()
			b.Field(7).AppendNull()
			b.Field(8).AppendNull()
			b.Field(9).AppendNull()
			b.Field(10).AppendNull()
		} else {
			b.Field(4).(*array.Int32Builder).Append(int32(i*7 - 5000))
			b.Field(6).(*array.Float32Builder).Append(float32(i) / 3)
			b.Field(7).(*array.Float64Builder).Append(float64(i%50) - 0.5)
			b.Field(8).(*array.Date32Builder).Append(arrow.Date32(19000 + i%400))
			b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1_000_003))
			b.Field(10).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i%1000) - 500))
		}
		b.Field(5).(*array.Int64Builder).Append(int64(i) << 33)
		b.Field(11).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i) * 12345))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(append([]parquet.WriterProperty{parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(1000),
		parquet.WithDataPageSize(512), parquet.WithDictionaryPageSizeLimit(2048), parquet.WithBatchSize(100),
		parquet.WithStoreDecimalAsInteger(true)}, extra...)...)
	w, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFlatSources reads every column of flatColumnsFile with the flat
// sources, over several row-group subsets and batch sizes, and compares
// with pqarrow: dictionary pages falling back to plain ones (v1 pages),
// and delta encodings in v2 pages.
func TestFlatSources(t *testing.T) {
	writers := map[string][]parquet.WriterProperty{
		"v1": nil,
		"v2-delta": {parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithDictionaryDefault(false),
			parquet.WithEncodingFor("s", parquet.Encodings.DeltaLengthByteArray),
			parquet.WithEncodingFor("s_req", parquet.Encodings.DeltaByteArray),
			parquet.WithEncodingFor("i32", parquet.Encodings.DeltaBinaryPacked),
			parquet.WithEncodingFor("i64", parquet.Encodings.DeltaBinaryPacked),
			parquet.WithEncodingFor("f64", parquet.Encodings.ByteStreamSplit)},
	}
	for _, w := range []string{"v1", "v2-delta"} {
		for _, large := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/large=%v", w, large), func(t *testing.T) { testFlatSources(t, large, writers[w]) })
		}
	}
}

func testFlatSources(t *testing.T, large bool, writer []parquet.WriterProperty) {
	{
		{
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			data := flatColumnsFile(t, mem, 3500, large, writer...)
			pr, err := file.NewParquetReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			// The reference reader is not on mem: pqarrow's delta decoders
			// do not free their block buffers.
			fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if pr.NumRowGroups() != 4 {
				t.Fatalf("%d row groups, want 4", pr.NumRowGroups())
			}
			for _, groups := range [][]int{{0, 1, 2, 3}, {1}, {0, 2}, {3}} {
				for _, batch := range []int64{1, 7, 100, 999, 4097, 1 << 17} {
					if batch == 1 && len(groups) > 1 {
						continue
					}
					for fi := range fr.Manifest.Fields {
						sf := &fr.Manifest.Fields[fi]
						var src columnSource
						if s := newFlatBinarySource(pr, sf, groups, mem); s != nil {
							src = s
						} else if s := newFlatFixedSource(pr, sf, groups, mem, nil); s != nil {
							src = s
						} else {
							t.Fatalf("column %s (%s) has no flat source", sf.Field.Name, sf.Field.Type)
						}
						got := drainSource(t, src, batch)
						want, err := fr.ReadRowGroups(context.Background(), []int{sf.ColIndex}, groups)
						if err != nil {
							t.Fatal(err)
						}
						compareColumn(t, fmt.Sprintf("%s groups %v batch %d", sf.Field.Name, groups, batch), got, want.Column(0).Data())
						want.Release()
						for _, a := range got {
							a.Release()
						}
					}
				}
			}
		}
	}
}

func drainSource(t *testing.T, src columnSource, n int64) []arrow.Array {
	t.Helper()
	defer src.release()
	var out []arrow.Array
	for {
		a, err := src.next(n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Len() == 0 {
			a.Release()
			return out
		}
		if int64(a.Len()) > n {
			t.Fatalf("batch of %d rows, asked for %d", a.Len(), n)
		}
		out = append(out, a)
	}
}

// compareColumn checks got (the flat source's batches) holds the values of
// want, read by pqarrow, with the 32-bit string and binary types.
func compareColumn(t *testing.T, name string, got []arrow.Array, want *arrow.Chunked) {
	t.Helper()
	var gv, wv []string
	for _, a := range got {
		if err := array.ValidateFull(a); err != nil {
			t.Fatalf("%s: invalid array: %v", name, err)
		}
		wantType := want.DataType()
		switch wantType.ID() {
		case arrow.LARGE_STRING:
			wantType = arrow.BinaryTypes.String
		case arrow.LARGE_BINARY:
			wantType = arrow.BinaryTypes.Binary
		}
		if !arrow.TypeEqual(a.DataType(), wantType) {
			t.Fatalf("%s: type %s, want %s", name, a.DataType(), wantType)
		}
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				gv = append(gv, "NULL")
			} else {
				gv = append(gv, a.ValueStr(i))
			}
		}
	}
	for _, a := range want.Chunks() {
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				wv = append(wv, "NULL")
			} else {
				wv = append(wv, a.ValueStr(i))
			}
		}
	}
	if len(gv) != len(wv) {
		t.Fatalf("%s: %d values, want %d", name, len(gv), len(wv))
	}
	for i := range gv {
		if gv[i] != wv[i] {
			t.Fatalf("%s: row %d is %q, want %q", name, i, gv[i], wv[i])
		}
	}
}
