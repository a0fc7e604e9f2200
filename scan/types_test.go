package scan_test

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
	"github.com/lakeflight/lakeflight/scan"
)

// TestPushdownEveryType runs the pushdown contract over a column of every
// Iceberg primitive type: the scan applies the Iceberg part of a predicate
// and the executor the residual; together they must keep exactly the rows
// the whole predicate keeps over an unfiltered read. (iceberg-go panics in
// a reader goroutine on IS [NOT] NULL of a decimal column and cannot order
// booleans: such predicates must stay with the executor.)
func TestPushdownEveryType(t *testing.T) {
	mem, ctx := newAlloc(t)
	cat := demoCatalog(t).Iceberg()
	ident := table.Identifier{datagen.Namespace, "types_for_scan_test"}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "b", Type: iceberg.PrimitiveTypes.Bool},
		iceberg.NestedField{ID: 3, Name: "i", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 4, Name: "l", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 5, Name: "f", Type: iceberg.PrimitiveTypes.Float32},
		iceberg.NestedField{ID: 6, Name: "d", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 7, Name: "dec", Type: iceberg.DecimalTypeOf(10, 2)},
		iceberg.NestedField{ID: 8, Name: "dt", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 9, Name: "tm", Type: iceberg.PrimitiveTypes.Time},
		iceberg.NestedField{ID: 10, Name: "ts", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 11, Name: "tstz", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 12, Name: "s", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 13, Name: "u", Type: iceberg.PrimitiveTypes.UUID},
		iceberg.NestedField{ID: 14, Name: "fx", Type: iceberg.FixedTypeOf(3)},
		iceberg.NestedField{ID: 15, Name: "bin", Type: iceberg.PrimitiveTypes.Binary},
	)
	tbl, err := cat.CreateTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.DropTable(context.Background(), ident)
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// Row k holds value k%4 (k = 0..9) in every column, NULL when k%4 = 3.
	const n = 10
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	bld := array.NewRecordBuilder(mem, asc)
	for k := 0; k < n; k++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(k))
		v := k % 4
		if v == 3 {
			for c := 1; c < asc.NumFields(); c++ {
				bld.Field(c).AppendNull()
			}
			continue
		}
		bld.Field(1).(*array.BooleanBuilder).Append(v == 1)
		bld.Field(2).(*array.Int32Builder).Append(int32(v))
		bld.Field(3).(*array.Int64Builder).Append(int64(v))
		bld.Field(4).(*array.Float32Builder).Append(float32(v) / 2)
		bld.Field(5).(*array.Float64Builder).Append(float64(v) / 2)
		bld.Field(6).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(v*100 + 5)))
		bld.Field(7).(*array.Date32Builder).Append(arrow.Date32FromTime(base.AddDate(0, 0, v)))
		bld.Field(8).(*array.Time64Builder).Append(arrow.Time64(int64(v) * 3_600_000_000))
		bld.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(v) * time.Hour).UnixMicro()))
		bld.Field(10).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(v) * time.Hour).UnixMicro()))
		bld.Field(11).(*array.StringBuilder).Append(fmt.Sprint("s", v))
		bld.Field(12).(*extensions.UUIDBuilder).Append(uuid.UUID{byte(v)})
		bld.Field(13).(*array.FixedSizeBinaryBuilder).Append([]byte{byte(v), 1, 2})
		bld.Field(14).(*array.BinaryBuilder).Append([]byte{byte(v)})
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	at := array.NewTableFromRecords(asc, []arrow.RecordBatch{rec})
	rec.Release()
	txn := tbl.NewTransaction()
	err = txn.AppendTable(ctx, at, n, nil)
	at.Release()
	if err != nil {
		t.Fatal(err)
	}
	if tbl, err = txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	schema := must(catalog.ArrowSchema(tbl.Schema()))
	// value returns the Arrow scalar of value v for column c.
	value := func(c int, v int) scalar.Scalar {
		dt := schema.Field(c).Type
		switch schema.Field(c).Name {
		case "b":
			return scalar.NewBooleanScalar(v == 1)
		case "i":
			return scalar.NewInt32Scalar(int32(v))
		case "l":
			return scalar.NewInt64Scalar(int64(v))
		case "f":
			return scalar.NewFloat32Scalar(float32(v) / 2)
		case "d":
			return scalar.NewFloat64Scalar(float64(v) / 2)
		case "dec":
			return scalar.NewDecimal128Scalar(decimal128.FromI64(int64(v*100+5)), dt)
		case "dt":
			return scalar.NewDate32Scalar(arrow.Date32FromTime(base.AddDate(0, 0, v)))
		case "tm":
			return scalar.NewTime64Scalar(arrow.Time64(int64(v)*3_600_000_000), dt)
		case "ts", "tstz":
			return scalar.NewTimestampScalar(arrow.Timestamp(base.Add(time.Duration(v)*time.Hour).UnixMicro()), dt)
		case "s":
			return scalar.NewStringScalar(fmt.Sprint("s", v))
		case "u":
			u := uuid.UUID{byte(v)}
			return scalar.NewFixedSizeBinaryScalar(memory.NewBufferBytes(u[:]), dt)
		case "fx":
			return scalar.NewFixedSizeBinaryScalar(memory.NewBufferBytes([]byte{byte(v), 1, 2}), dt)
		case "bin":
			return scalar.NewBinaryScalar(memory.NewBufferBytes([]byte{byte(v)}), dt)
		}
		panic("no value for " + schema.Field(c).Name)
	}
	lit := func(c, v int) *expr.Literal { return &expr.Literal{Value: value(c, v)} }

	// readRows reads the plan and applies residual, rendering key k.
	readRows := func(t *testing.T, p *scan.Plan, residual expr.Expr) ([]string, error) {
		t.Helper()
		r, err := p.Open(ctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var keys []string
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			keep := make([]bool, rec.NumRows())
			for i := range keep {
				keep[i] = true
			}
			if residual != nil {
				mask, err := executor.Eval(executor.WithAllocator(ctx, mem), residual, rec)
				if err != nil {
					rec.Release()
					return nil, err
				}
				for i := range keep {
					keep[i] = mask.IsValid(i) && mask.(*array.Boolean).Value(i)
				}
				mask.Release()
			}
			ks := rec.Column(0).(*array.Int64)
			for i, ok := range keep {
				if ok {
					keys = append(keys, fmt.Sprint(ks.Value(i)))
				}
			}
			rec.Release()
		}
		slices.Sort(keys)
		return keys, nil
	}

	for c := 1; c < schema.NumFields(); c++ {
		f := schema.Field(c)
		// Column c as the test reads it: key first, then c.
		col := &expr.Column{Index: 1, Name: f.Name, Type: f.Type}
		preds := []expr.Expr{
			&expr.IsNull{X: col},
			&expr.IsNull{X: col, Negate: true},
			&expr.Compare{Op: expr.Eq, L: col, R: lit(c, 1)},
			&expr.Compare{Op: expr.NotEq, L: col, R: lit(c, 1)},
			&expr.Compare{Op: expr.Lt, L: col, R: lit(c, 1)},
			&expr.Compare{Op: expr.GtEq, L: lit(c, 1), R: col},
			&expr.In{X: col, List: []expr.Expr{lit(c, 0), lit(c, 1)}},
			&expr.Not{X: &expr.Compare{Op: expr.Gt, L: col, R: lit(c, 0)}},
		}
		for _, pred := range preds {
			t.Run(f.Name+"/"+pred.String(), func(t *testing.T) {
				fields := []string{"k", f.Name}
				full, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: fields})
				if err != nil {
					t.Fatal(err)
				}
				want, err := readRows(t, full, pred)
				if err != nil {
					// Orderings the executor cannot evaluate (booleans) are
					// not SQL this test checks.
					t.Skipf("the executor cannot evaluate %s: %v", pred, err)
				}
				push := pruning.Translate(pred)
				p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: fields, Filter: push.Filter})
				if err != nil {
					t.Fatal(err)
				}
				got, err := readRows(t, p, push.Residual)
				if err != nil {
					t.Fatalf("pushed %s, residual %v: %v", push.Filter, push.Residual, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("pushed %s, residual %v: rows %v, want %v", push.Filter, push.Residual, got, want)
				}
			})
		}
	}
}
