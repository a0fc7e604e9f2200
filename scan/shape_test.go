package scan

import (
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// testParquetSchema is a schema of an int64 field id and a timestamp
// field, built as varied.
func testParquetSchema(t *testing.T, idField int32, name string, ts schema.LogicalType, phys parquet.Type) *schema.Schema {
	t.Helper()
	id, err := schema.NewPrimitiveNodeLogical(name, parquet.Repetitions.Required, schema.NewIntLogicalType(64, true), phys, -1, idField)
	if err != nil {
		t.Fatal(err)
	}
	tsNode, err := schema.NewPrimitiveNodeLogical("ts", parquet.Repetitions.Optional, ts, parquet.Types.Int64, -1, 2)
	if err != nil {
		t.Fatal(err)
	}
	root, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, schema.FieldList{id, tsNode}, -1)
	if err != nil {
		t.Fatal(err)
	}
	return schema.NewSchema(root)
}

func TestSameParquetSchema(t *testing.T) {
	micros := schema.NewTimestampLogicalType(true, schema.TimeUnitMicros)
	base := testParquetSchema(t, 1, "id", micros, parquet.Types.Int64)
	if !sameParquetSchema(base, testParquetSchema(t, 1, "id", micros, parquet.Types.Int64)) {
		t.Error("equal schemas differ")
	}
	fromConverted := schema.NewTimestampLogicalTypeWithOpts(schema.WithTSIsAdjustedToUTC(), schema.WithTSTimeUnitType(schema.TimeUnitMicros), schema.WithTSFromConverted())
	for name, other := range map[string]*schema.Schema{
		"field id":       testParquetSchema(t, 3, "id", micros, parquet.Types.Int64),
		"name":           testParquetSchema(t, 1, "key", micros, parquet.Types.Int64),
		"timestamp unit": testParquetSchema(t, 1, "id", schema.NewTimestampLogicalType(true, schema.TimeUnitMillis), parquet.Types.Int64),
		"timestamp utc":  testParquetSchema(t, 1, "id", schema.NewTimestampLogicalType(false, schema.TimeUnitMicros), parquet.Types.Int64),
		"converted":      testParquetSchema(t, 1, "id", fromConverted, parquet.Types.Int64),
	} {
		if sameParquetSchema(base, other) {
			t.Errorf("%s: schemas differing in it are the same", name)
		}
	}
}
