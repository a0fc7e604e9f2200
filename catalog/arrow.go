package catalog

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ArrowSchema converts an Iceberg schema to the Arrow schema lakeflight
// serves: plain Utf8/Binary (never the view or large types), Decimal128, and
// no extension types (uuid becomes fixed_size_binary(16)), since Flight SQL
// clients such as the JDBC driver do not read the others.
func ArrowSchema(sc *iceberg.Schema) (*arrow.Schema, error) {
	s, err := table.SchemaToArrowSchema(sc, nil, false, false)
	if err != nil {
		return nil, fmt.Errorf("convert schema: %w", err)
	}
	return NormalizeSchema(s), nil
}

// NormalizeSchema strips extension types (recursively) and field metadata.
func NormalizeSchema(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = normalizeField(f)
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func normalizeField(f arrow.Field) arrow.Field {
	return arrow.Field{Name: f.Name, Type: NormalizeType(f.Type), Nullable: f.Nullable}
}

// NormalizeType strips extension types, recursively.
func NormalizeType(t arrow.DataType) arrow.DataType {
	switch dt := t.(type) {
	case arrow.ExtensionType:
		return NormalizeType(dt.StorageType())
	case *arrow.StructType:
		fs := make([]arrow.Field, dt.NumFields())
		for i, f := range dt.Fields() {
			fs[i] = normalizeField(f)
		}
		return arrow.StructOf(fs...)
	case *arrow.ListType:
		el := normalizeField(dt.ElemField())
		return arrow.ListOfField(el)
	case *arrow.LargeListType:
		el := normalizeField(dt.ElemField())
		return arrow.ListOfField(el)
	case *arrow.MapType:
		k := normalizeField(dt.KeyField())
		v := normalizeField(dt.ItemField())
		m := arrow.MapOfWithMetadata(k.Type, k.Metadata, v.Type, v.Metadata)
		m.SetItemNullable(v.Nullable)
		return m
	}
	return t
}

// SQLTypeName is the SQL name of an Arrow type as BI tools show it.
func SQLTypeName(t arrow.DataType) string {
	switch dt := t.(type) {
	case *arrow.BooleanType:
		return "BOOLEAN"
	case *arrow.Int8Type:
		return "TINYINT"
	case *arrow.Int16Type:
		return "SMALLINT"
	case *arrow.Int32Type:
		return "INTEGER"
	case *arrow.Int64Type:
		return "BIGINT"
	case *arrow.Float32Type:
		return "REAL"
	case *arrow.Float64Type:
		return "DOUBLE"
	case *arrow.Decimal128Type:
		return "DECIMAL(" + strconv.Itoa(int(dt.Precision)) + "," + strconv.Itoa(int(dt.Scale)) + ")"
	case *arrow.StringType, *arrow.LargeStringType:
		return "VARCHAR"
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "VARBINARY"
	case *arrow.FixedSizeBinaryType:
		return "BINARY(" + strconv.Itoa(dt.ByteWidth) + ")"
	case *arrow.Date32Type:
		return "DATE"
	case *arrow.Time64Type, *arrow.Time32Type:
		return "TIME"
	case *arrow.TimestampType:
		if dt.TimeZone != "" {
			return "TIMESTAMP WITH TIME ZONE"
		}
		return "TIMESTAMP"
	case *arrow.StructType:
		return "STRUCT"
	case *arrow.ListType, *arrow.LargeListType:
		return "ARRAY"
	case *arrow.MapType:
		return "MAP"
	case *arrow.NullType:
		return "NULL"
	}
	return t.String()
}

// ColumnSource says where a result column comes from, for Flight SQL column
// metadata. Empty fields are left out.
type ColumnSource struct {
	Catalog, Schema, Table string
}

// WithColumnMetadata returns s with the ARROW:FLIGHT:SQL:* metadata on each
// field that JDBC and ODBC drivers read (type name, precision, scale,
// read-only, searchable...).
func WithColumnMetadata(s *arrow.Schema, src ColumnSource) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		b := flightsql.NewColumnMetadataBuilder()
		if src.Catalog != "" {
			b.CatalogName(src.Catalog)
		}
		if src.Schema != "" {
			b.SchemaName(src.Schema)
		}
		if src.Table != "" {
			b.TableName(src.Table)
		}
		b.TypeName(SQLTypeName(f.Type))
		if p, sc, ok := precisionScale(f.Type); ok {
			b.Precision(p)
			b.Scale(sc)
		}
		b.IsAutoIncrement(false).IsCaseSensitive(true).IsReadOnly(true).IsSearchable(true)
		f.Metadata = *b.Build().Data
		fields[i] = f
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func precisionScale(t arrow.DataType) (int32, int32, bool) {
	switch dt := t.(type) {
	case *arrow.Decimal128Type:
		return dt.Precision, dt.Scale, true
	case *arrow.Int8Type:
		return 3, 0, true
	case *arrow.Int16Type:
		return 5, 0, true
	case *arrow.Int32Type:
		return 10, 0, true
	case *arrow.Int64Type:
		return 19, 0, true
	case *arrow.Float32Type:
		return 7, 0, true
	case *arrow.Float64Type:
		return 15, 0, true
	case *arrow.TimestampType:
		return 26, 6, true
	case *arrow.Date32Type:
		return 10, 0, true
	}
	return 0, 0, false
}

// PrimaryKey lists the names of a schema's identifier fields, in id order.
func PrimaryKey(sc *iceberg.Schema) []string {
	var out []string
	for _, id := range sc.IdentifierFieldIDs {
		if name, ok := sc.FindColumnName(id); ok {
			out = append(out, name)
		}
	}
	return out
}
