package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
)

func (s *Server) registerSqlInfo() error {
	infos := map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:             "lakeflight",
		flightsql.SqlInfoFlightSqlServerVersion:          s.opts.Version,
		flightsql.SqlInfoFlightSqlServerArrowVersion:     "18.8.0",
		flightsql.SqlInfoFlightSqlServerReadOnly:         true,
		flightsql.SqlInfoFlightSqlServerSql:              true,
		flightsql.SqlInfoFlightSqlServerSubstrait:        false,
		flightsql.SqlInfoFlightSqlServerTransaction:      int32(0), // none
		flightsql.SqlInfoFlightSqlServerCancel:           true,
		flightsql.SqlInfoFlightSqlServerStatementTimeout: int32(0),
		flightsql.SqlInfoFlightSqlServerBulkIngestion:    false,
		flightsql.SqlInfoDDLCatalog:                      false,
		flightsql.SqlInfoDDLSchema:                       false,
		flightsql.SqlInfoDDLTable:                        false,
		flightsql.SqlInfoIdentifierCase:                  int32(3), // case insensitive (unquoted names fold)
		flightsql.SqlInfoIdentifierQuoteChar:             `"`,
		flightsql.SqlInfoQuotedIdentifierCase:            int32(1), // case sensitive
		flightsql.SqlInfoSearchStringEscape:              `\`,
		flightsql.SqlInfoSupportsColumnAliasing:          true,
		flightsql.SqlInfoNullPlusNullIsNull:              true,
		flightsql.SqlInfoSchemaTerm:                      "namespace",
		flightsql.SqlInfoCatalogTerm:                     "catalog",
		flightsql.SqlInfoTransactionsSupported:           false,
		flightsql.SqlInfoNullOrdering:                    int32(1), // nulls sorted high
	}
	for id, v := range infos {
		if err := s.RegisterSqlInfo(id, v); err != nil {
			return fmt.Errorf("register sql info %d: %w", id, err)
		}
	}
	return nil
}

// oneBatch streams a single batch (owned by the channel) on a channel.
func oneBatch(rec arrow.RecordBatch) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return ch
}

func (s *Server) metaInfo(schema *arrow.Schema, desc *flight.FlightDescriptor) *flight.FlightInfo {
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(schema, s.mem),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// build makes a batch from rows of Go values in schema order: string,
// *string (nil for NULL), int32, bool, []byte, []string.
func (s *Server) build(schema *arrow.Schema, rows [][]any) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(s.mem, schema)
	defer b.Release()
	for _, row := range rows {
		for i, v := range row {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch x := v.(type) {
			case string:
				fb.(*array.StringBuilder).Append(x)
			case *string:
				if x == nil {
					fb.AppendNull()
				} else {
					fb.(*array.StringBuilder).Append(*x)
				}
			case int32:
				fb.(*array.Int32Builder).Append(x)
			case uint8:
				fb.(*array.Uint8Builder).Append(x)
			case bool:
				fb.(*array.BooleanBuilder).Append(x)
			case []byte:
				fb.(*array.BinaryBuilder).Append(x)
			case []string:
				lb := fb.(*array.ListBuilder)
				lb.Append(true)
				vb := lb.ValueBuilder().(*array.StringBuilder)
				for _, e := range x {
					vb.Append(e)
				}
			default:
				return nil, fmt.Errorf("metadata value of type %T", v)
			}
		}
	}
	return b.NewRecordBatch(), nil
}

func (s *Server) GetFlightInfoCatalogs(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.Catalogs, desc), nil
}

func (s *Server) DoGetCatalogs(ctx context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	rec, err := s.build(schema_ref.Catalogs, [][]any{{s.cat.Name()}})
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.Catalogs, oneBatch(rec), nil
}

// catalogMatches applies a catalog filter: nil matches all, "" matches
// objects without a catalog (none here).
func (s *Server) catalogMatches(c *string) bool {
	return c == nil || *c == s.cat.Name()
}

func likeMatcher(pattern *string) (func(string) bool, error) {
	if pattern == nil || *pattern == "" || *pattern == "%" {
		return func(string) bool { return true }, nil
	}
	m, err := executor.NewLikeMatcher(*pattern, false)
	if err != nil {
		return nil, badRequest("filter pattern %q: %v", *pattern, err)
	}
	return m.Match, nil
}

func (s *Server) GetFlightInfoSchemas(ctx context.Context, cmd flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.DBSchemas, desc), nil
}

func (s *Server) DoGetDBSchemas(ctx context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	var rows [][]any
	if s.catalogMatches(cmd.GetCatalog()) {
		match, err := likeMatcher(cmd.GetDBSchemaFilterPattern())
		if err != nil {
			return nil, nil, err
		}
		nss, err := s.cat.Namespaces(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, ns := range nss {
			if name := catalog.JoinNamespace(ns); match(name) {
				rows = append(rows, []any{s.cat.Name(), name})
			}
		}
	}
	rec, err := s.build(schema_ref.DBSchemas, rows)
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.DBSchemas, oneBatch(rec), nil
}

func (s *Server) GetFlightInfoTables(ctx context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return s.metaInfo(schema_ref.TablesWithIncludedSchema, desc), nil
	}
	return s.metaInfo(schema_ref.Tables, desc), nil
}

func (s *Server) DoGetTables(ctx context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	schema := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		schema = schema_ref.TablesWithIncludedSchema
	}
	var rows [][]any
	wantTable := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		if strings.EqualFold(t, "TABLE") {
			wantTable = true
		}
	}
	if s.catalogMatches(cmd.GetCatalog()) && wantTable {
		matchNS, err := likeMatcher(cmd.GetDBSchemaFilterPattern())
		if err != nil {
			return nil, nil, err
		}
		matchTable, err := likeMatcher(cmd.GetTableNameFilterPattern())
		if err != nil {
			return nil, nil, err
		}
		nss, err := s.cat.Namespaces(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, ns := range nss {
			nsName := catalog.JoinNamespace(ns)
			if !matchNS(nsName) {
				continue
			}
			ids, err := s.cat.Tables(ctx, ns)
			if err != nil {
				return nil, nil, err
			}
			for _, id := range ids {
				name := id[len(id)-1]
				if !matchTable(name) {
					continue
				}
				row := []any{s.cat.Name(), nsName, name, "TABLE"}
				if cmd.GetIncludeSchema() {
					ser, err := s.tableSchemaBytes(ctx, id)
					if err != nil {
						return nil, nil, err
					}
					row = append(row, ser)
				}
				rows = append(rows, row)
			}
		}
	}
	rec, err := s.build(schema, rows)
	if err != nil {
		return nil, nil, err
	}
	return schema, oneBatch(rec), nil
}

func (s *Server) tableSchemaBytes(ctx context.Context, id table.Identifier) ([]byte, error) {
	t, err := s.cat.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	sc, err := catalog.ArrowSchema(t.Schema())
	if err != nil {
		return nil, err
	}
	sc = catalog.WithColumnMetadata(sc, catalog.ColumnSource{Catalog: s.cat.Name(), Schema: catalog.JoinNamespace(id[:len(id)-1]), Table: id[len(id)-1]})
	return flight.SerializeSchema(sc, s.mem), nil
}

func (s *Server) GetFlightInfoTableTypes(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.TableTypes, desc), nil
}

func (s *Server) DoGetTableTypes(ctx context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	rec, err := s.build(schema_ref.TableTypes, [][]any{{"TABLE"}})
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.TableTypes, oneBatch(rec), nil
}

func (s *Server) GetFlightInfoPrimaryKeys(ctx context.Context, ref flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.PrimaryKeys, desc), nil
}

func (s *Server) DoGetPrimaryKeys(ctx context.Context, ref flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	var rows [][]any
	if s.catalogMatches(ref.Catalog) {
		ids, err := s.findTables(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			t, err := s.cat.LoadTable(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			ns := catalog.JoinNamespace(id[:len(id)-1])
			name := id[len(id)-1]
			for i, col := range catalog.PrimaryKey(t.Schema()) {
				rows = append(rows, []any{s.cat.Name(), ns, name, col, int32(i + 1), nil})
			}
		}
	}
	rec, err := s.build(schema_ref.PrimaryKeys, rows)
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.PrimaryKeys, oneBatch(rec), nil
}

// findTables resolves a TableRef: with a schema, that table; without one,
// the table of that name in every namespace.
func (s *Server) findTables(ctx context.Context, ref flightsql.TableRef) ([]table.Identifier, error) {
	if ref.DBSchema != nil && *ref.DBSchema != "" {
		id := append(catalog.SplitNamespace(*ref.DBSchema), ref.Table)
		if _, err := s.cat.LoadTable(ctx, id); err != nil {
			return nil, err
		}
		return []table.Identifier{id}, nil
	}
	nss, err := s.cat.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []table.Identifier
	for _, ns := range nss {
		ids, err := s.cat.Tables(ctx, ns)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if id[len(id)-1] == ref.Table {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// Iceberg has no foreign keys: the key commands answer empty, well-formed
// results.

func (s *Server) emptyKeys() (*arrow.Schema, <-chan flight.StreamChunk, error) {
	rec, err := s.build(schema_ref.ImportedExportedKeysAndCrossReference, nil)
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.ImportedExportedKeysAndCrossReference, oneBatch(rec), nil
}

func (s *Server) GetFlightInfoExportedKeys(ctx context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.ExportedKeys, desc), nil
}
func (s *Server) DoGetExportedKeys(ctx context.Context, _ flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyKeys()
}
func (s *Server) GetFlightInfoImportedKeys(ctx context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.ImportedKeys, desc), nil
}
func (s *Server) DoGetImportedKeys(ctx context.Context, _ flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyKeys()
}
func (s *Server) GetFlightInfoCrossReference(ctx context.Context, _ flightsql.CrossTableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.CrossReference, desc), nil
}
func (s *Server) DoGetCrossReference(ctx context.Context, _ flightsql.CrossTableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyKeys()
}

// xdbcType is one row of GetXdbcTypeInfo.
type xdbcType struct {
	name     string
	dataType int32 // java.sql.Types / ODBC SQL type code
	size     int32
	prefix   string
	suffix   string
	params   []string
	fixed    bool
	unsigned bool
	caseSens bool
}

var xdbcTypes = []xdbcType{
	{name: "BOOLEAN", dataType: 16, size: 1},
	{name: "INTEGER", dataType: 4, size: 10},
	{name: "BIGINT", dataType: -5, size: 19},
	{name: "REAL", dataType: 7, size: 7},
	{name: "DOUBLE", dataType: 8, size: 15},
	{name: "DECIMAL", dataType: 3, size: 38, params: []string{"precision", "scale"}, fixed: true},
	{name: "VARCHAR", dataType: 12, size: 1 << 30, prefix: "'", suffix: "'", caseSens: true},
	{name: "VARBINARY", dataType: -3, size: 1 << 30, prefix: "X'", suffix: "'"},
	{name: "BINARY", dataType: -2, size: 16, params: []string{"length"}},
	{name: "DATE", dataType: 91, size: 10, prefix: "DATE '", suffix: "'"},
	{name: "TIME", dataType: 92, size: 15, prefix: "TIME '", suffix: "'"},
	{name: "TIMESTAMP", dataType: 93, size: 26, prefix: "TIMESTAMP '", suffix: "'"},
}

func (s *Server) GetFlightInfoXdbcTypeInfo(ctx context.Context, _ flightsql.GetXdbcTypeInfo, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(schema_ref.XdbcTypeInfo, desc), nil
}

func (s *Server) DoGetXdbcTypeInfo(ctx context.Context, cmd flightsql.GetXdbcTypeInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	var rows [][]any
	for _, t := range xdbcTypes {
		if dt := cmd.GetDataType(); dt != nil && *dt != t.dataType {
			continue
		}
		var prefix, suffix any
		if t.prefix != "" {
			prefix, suffix = t.prefix, t.suffix
		}
		var params any
		if t.params != nil {
			params = t.params
		}
		var minScale, maxScale any
		if t.fixed {
			minScale, maxScale = int32(0), int32(38)
		}
		var radix any
		if t.dataType == 4 || t.dataType == -5 || t.dataType == 3 || t.dataType == 7 || t.dataType == 8 {
			radix = int32(10)
		}
		rows = append(rows, []any{
			t.name, t.dataType, t.size, prefix, suffix, params,
			int32(1), // nullable
			t.caseSens,
			int32(3), // searchable
			t.unsigned, t.fixed, false, t.name, minScale, maxScale,
			t.dataType, nil, radix, nil,
		})
	}
	rec, err := s.build(schema_ref.XdbcTypeInfo, rows)
	if err != nil {
		return nil, nil, err
	}
	return schema_ref.XdbcTypeInfo, oneBatch(rec), nil
}
