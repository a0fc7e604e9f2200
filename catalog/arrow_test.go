package catalog_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/iceberg-go"

	"github.com/lakeflight/lakeflight/catalog"
)

func TestArrowSchema(t *testing.T) {
	sc := iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "b", Type: iceberg.PrimitiveTypes.Bool},
		iceberg.NestedField{ID: 3, Name: "i", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 4, Name: "f", Type: iceberg.PrimitiveTypes.Float32},
		iceberg.NestedField{ID: 5, Name: "d", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 6, Name: "dec", Type: iceberg.DecimalTypeOf(10, 2)},
		iceberg.NestedField{ID: 7, Name: "day", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 8, Name: "tod", Type: iceberg.PrimitiveTypes.Time},
		iceberg.NestedField{ID: 9, Name: "ts", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 10, Name: "tstz", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 11, Name: "s", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 12, Name: "u", Type: iceberg.PrimitiveTypes.UUID},
		iceberg.NestedField{ID: 13, Name: "fx", Type: iceberg.FixedTypeOf(4)},
		iceberg.NestedField{ID: 14, Name: "bin", Type: iceberg.PrimitiveTypes.Binary},
		iceberg.NestedField{ID: 15, Name: "st", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 16, Name: "su", Type: iceberg.PrimitiveTypes.UUID, Required: true},
			{ID: 17, Name: "ss", Type: iceberg.PrimitiveTypes.String},
		}}},
		iceberg.NestedField{ID: 18, Name: "lst", Type: &iceberg.ListType{ElementID: 19, Element: iceberg.PrimitiveTypes.UUID, ElementRequired: false}},
		iceberg.NestedField{ID: 20, Name: "m", Type: &iceberg.MapType{KeyID: 21, KeyType: iceberg.PrimitiveTypes.String, ValueID: 22, ValueType: iceberg.PrimitiveTypes.UUID, ValueRequired: false}},
	)
	got, err := catalog.ArrowSchema(sc)
	if err != nil {
		t.Fatal(err)
	}
	fsb16 := &arrow.FixedSizeBinaryType{ByteWidth: 16}
	want := []struct {
		name     string
		typ      arrow.DataType
		nullable bool
	}{
		{"id", arrow.PrimitiveTypes.Int64, false},
		{"b", arrow.FixedWidthTypes.Boolean, true},
		{"i", arrow.PrimitiveTypes.Int32, true},
		{"f", arrow.PrimitiveTypes.Float32, true},
		{"d", arrow.PrimitiveTypes.Float64, true},
		{"dec", &arrow.Decimal128Type{Precision: 10, Scale: 2}, true},
		{"day", arrow.FixedWidthTypes.Date32, true},
		{"tod", arrow.FixedWidthTypes.Time64us, true},
		{"ts", &arrow.TimestampType{Unit: arrow.Microsecond}, true},
		{"tstz", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, true},
		{"s", arrow.BinaryTypes.String, false},
		{"u", fsb16, true},
		{"fx", &arrow.FixedSizeBinaryType{ByteWidth: 4}, true},
		{"bin", arrow.BinaryTypes.Binary, true},
		{"st", arrow.StructOf(
			arrow.Field{Name: "su", Type: fsb16, Nullable: false},
			arrow.Field{Name: "ss", Type: arrow.BinaryTypes.String, Nullable: true}), true},
		{"lst", arrow.ListOfField(arrow.Field{Name: "element", Type: fsb16, Nullable: true}), true},
		{"m", func() arrow.DataType {
			m := arrow.MapOf(arrow.BinaryTypes.String, fsb16)
			m.SetItemNullable(true)
			return m
		}(), true},
	}
	if got.NumFields() != len(want) {
		t.Fatalf("%d fields, want %d: %s", got.NumFields(), len(want), got)
	}
	for i, w := range want {
		f := got.Field(i)
		if f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) || f.Nullable != w.nullable {
			t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable=%v", i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
		}
		if f.HasMetadata() {
			t.Errorf("field %s keeps metadata %v", f.Name, f.Metadata)
		}
		assertNoExtension(t, f.Name, f.Type)
	}
}

// assertNoExtension fails if t or any type nested in it is an extension
// type or a large/view type Flight SQL clients cannot read.
func assertNoExtension(t *testing.T, path string, dt arrow.DataType) {
	t.Helper()
	switch x := dt.(type) {
	case arrow.ExtensionType:
		t.Errorf("%s: extension type %s", path, dt)
	case *arrow.LargeStringType, *arrow.LargeBinaryType, *arrow.StringViewType, *arrow.BinaryViewType, *arrow.LargeListType:
		t.Errorf("%s: type %s", path, dt)
	case *arrow.StructType:
		for _, f := range x.Fields() {
			if f.HasMetadata() {
				t.Errorf("%s.%s keeps metadata", path, f.Name)
			}
			assertNoExtension(t, path+"."+f.Name, f.Type)
		}
	case *arrow.ListType:
		assertNoExtension(t, path+"[]", x.Elem())
	case *arrow.MapType:
		assertNoExtension(t, path+".key", x.KeyType())
		assertNoExtension(t, path+".value", x.ItemType())
	}
}

func TestNormalizeType(t *testing.T) {
	uuidT := extensions.NewUUIDType()
	fsb16 := &arrow.FixedSizeBinaryType{ByteWidth: 16}
	tests := []struct {
		name string
		in   arrow.DataType
		want arrow.DataType
	}{
		{"plain", arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64},
		{"uuid", uuidT, fsb16},
		{"struct", arrow.StructOf(arrow.Field{Name: "u", Type: uuidT, Nullable: true, Metadata: arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{"3"})}),
			arrow.StructOf(arrow.Field{Name: "u", Type: fsb16, Nullable: true})},
		{"list", arrow.ListOf(uuidT), arrow.ListOf(fsb16)},
		{"large list", arrow.LargeListOf(arrow.PrimitiveTypes.Int32), arrow.ListOf(arrow.PrimitiveTypes.Int32)},
		{"map", arrow.MapOf(arrow.BinaryTypes.String, uuidT), arrow.MapOf(arrow.BinaryTypes.String, fsb16)},
		{"list of struct", arrow.ListOf(arrow.StructOf(arrow.Field{Name: "u", Type: uuidT})),
			arrow.ListOf(arrow.StructOf(arrow.Field{Name: "u", Type: fsb16}))},
	}
	for _, tt := range tests {
		if got := catalog.NormalizeType(tt.in); !arrow.TypeEqual(got, tt.want, arrow.CheckMetadata()) {
			t.Errorf("%s: NormalizeType(%s) = %s, want %s", tt.name, tt.in, got, tt.want)
		}
	}
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	s := arrow.NewSchema([]arrow.Field{{Name: "u", Type: uuidT, Nullable: false, Metadata: arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{"1"})}}, &md)
	n := catalog.NormalizeSchema(s)
	if f := n.Field(0); !arrow.TypeEqual(f.Type, fsb16) || f.Nullable || f.HasMetadata() {
		t.Errorf("NormalizeSchema field = %+v", f)
	}
	if v, ok := n.Metadata().GetValue("k"); !ok || v != "v" {
		t.Errorf("NormalizeSchema dropped schema metadata: %v", n.Metadata())
	}
}

func TestSQLTypeName(t *testing.T) {
	tests := []struct {
		t    arrow.DataType
		want string
	}{
		{arrow.FixedWidthTypes.Boolean, "BOOLEAN"},
		{arrow.PrimitiveTypes.Int8, "TINYINT"},
		{arrow.PrimitiveTypes.Int16, "SMALLINT"},
		{arrow.PrimitiveTypes.Int32, "INTEGER"},
		{arrow.PrimitiveTypes.Int64, "BIGINT"},
		{arrow.PrimitiveTypes.Float32, "REAL"},
		{arrow.PrimitiveTypes.Float64, "DOUBLE"},
		{&arrow.Decimal128Type{Precision: 38, Scale: 9}, "DECIMAL(38,9)"},
		{arrow.BinaryTypes.String, "VARCHAR"},
		{arrow.BinaryTypes.LargeString, "VARCHAR"},
		{arrow.BinaryTypes.Binary, "VARBINARY"},
		{&arrow.FixedSizeBinaryType{ByteWidth: 16}, "BINARY(16)"},
		{arrow.FixedWidthTypes.Date32, "DATE"},
		{arrow.FixedWidthTypes.Time64us, "TIME"},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "TIMESTAMP"},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "TIMESTAMP WITH TIME ZONE"},
		{arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int8}), "STRUCT"},
		{arrow.ListOf(arrow.PrimitiveTypes.Int8), "ARRAY"},
		{arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int8), "MAP"},
		{arrow.Null, "NULL"},
		{arrow.PrimitiveTypes.Uint8, "uint8"},
	}
	for _, tt := range tests {
		if got := catalog.SQLTypeName(tt.t); got != tt.want {
			t.Errorf("SQLTypeName(%s) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestWithColumnMetadata(t *testing.T) {
	md := arrow.NewMetadata([]string{"schema-key"}, []string{"x"})
	in := arrow.NewSchema([]arrow.Field{
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 3}, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: false},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, &md)
	src := catalog.ColumnSource{Catalog: "default", Schema: "mall.sub", Table: "shops"}
	out := catalog.WithColumnMetadata(in, src)
	if v, ok := out.Metadata().GetValue("schema-key"); !ok || v != "x" {
		t.Errorf("schema metadata lost: %v", out.Metadata())
	}
	type kv = map[string]string
	want := []kv{
		{flightsql.CatalogNameKey: "default", flightsql.SchemaNameKey: "mall.sub", flightsql.TableNameKey: "shops", flightsql.TypeNameKey: "DECIMAL(12,3)", flightsql.PrecisionKey: "12", flightsql.ScaleKey: "3", flightsql.IsReadOnlyKey: "1", flightsql.IsAutoIncrementKey: "0", flightsql.IsCaseSensitiveKey: "1", flightsql.IsSearchableKey: "1"},
		{flightsql.TypeNameKey: "VARCHAR", flightsql.IsReadOnlyKey: "1"},
		{flightsql.TypeNameKey: "TIMESTAMP WITH TIME ZONE", flightsql.PrecisionKey: "26", flightsql.ScaleKey: "6"},
		{flightsql.TypeNameKey: "INTEGER", flightsql.PrecisionKey: "10", flightsql.ScaleKey: "0"},
	}
	for i, w := range want {
		f := out.Field(i)
		if f.Name != in.Field(i).Name || !arrow.TypeEqual(f.Type, in.Field(i).Type) || f.Nullable != in.Field(i).Nullable {
			t.Errorf("field %d changed: %s -> %s", i, in.Field(i), f)
		}
		for k, v := range w {
			if got, ok := f.Metadata.GetValue(k); !ok || got != v {
				t.Errorf("%s: %s = %q (present %v), want %q", f.Name, k, got, ok, v)
			}
		}
	}
	if _, ok := out.Field(1).Metadata.GetValue(flightsql.PrecisionKey); ok {
		t.Errorf("VARCHAR column has a precision")
	}
	// Empty source fields are left out.
	bare := catalog.WithColumnMetadata(in, catalog.ColumnSource{})
	for _, k := range []string{flightsql.CatalogNameKey, flightsql.SchemaNameKey, flightsql.TableNameKey} {
		if _, ok := bare.Field(0).Metadata.GetValue(k); ok {
			t.Errorf("%s present without a source", k)
		}
	}
	// The input schema is not modified.
	if in.Field(0).HasMetadata() {
		t.Errorf("WithColumnMetadata changed its input")
	}
}

func TestPrimaryKey(t *testing.T) {
	sc := iceberg.NewSchemaWithIdentifiers(0, []int{3, 1},
		iceberg.NestedField{ID: 1, Name: "a", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 2, Name: "b", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "c", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	)
	if got := strings.Join(catalog.PrimaryKey(sc), ","); got != "c,a" {
		t.Errorf("PrimaryKey = %q, want the identifier fields in the schema's order c,a", got)
	}
	if got := catalog.PrimaryKey(iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "a", Type: iceberg.PrimitiveTypes.String})); got != nil {
		t.Errorf("PrimaryKey without identifiers = %v", got)
	}
}

func TestNamespaceNames(t *testing.T) {
	tests := []struct {
		s  string
		ns []string
	}{
		{"", nil},
		{"mall", []string{"mall"}},
		{"a.b.c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		got := catalog.SplitNamespace(tt.s)
		if strings.Join(got, "|") != strings.Join(tt.ns, "|") || (tt.ns == nil) != (got == nil) {
			t.Errorf("SplitNamespace(%q) = %#v, want %#v", tt.s, got, tt.ns)
		}
		if back := catalog.JoinNamespace(got); back != tt.s {
			t.Errorf("JoinNamespace(SplitNamespace(%q)) = %q", tt.s, back)
		}
	}
}
