package datagen

import (
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Namespace is the namespace WriteDemo creates.
const Namespace = "mall"

// Names of the demo tables inside Namespace.
const (
	ProbeEventsTable  = "probe_events"
	ShopsTable        = "shops"
	DevicePlacesTable = "device_places"
	DevicesTable      = "devices"
)

// DemoTables lists the identifiers WriteDemo creates, in creation order.
func DemoTables() []table.Identifier {
	return []table.Identifier{
		{Namespace, ProbeEventsTable},
		{Namespace, ShopsTable},
		{Namespace, DevicePlacesTable},
		{Namespace, DevicesTable},
	}
}

// The field ids below are only used to build the schemas: catalogs assign
// fresh ids on CreateTable (keeping identifier fields and the partition
// source), so writers always read ids back from the created table.

// probeEventsSchema is mall.probe_events.
func probeEventsSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "shop_code", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "ap_ip", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "occur_time", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 5, Name: "user_device_mac", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 6, Name: "rssi", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 7, Name: "ap_mac", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 8, Name: "pt", Type: iceberg.PrimitiveTypes.Date},
	)
}

// probeEventsSpec partitions mall.probe_events by identity(pt).
func probeEventsSpec(sc *iceberg.Schema) (iceberg.PartitionSpec, error) {
	return iceberg.NewPartitionSpecOpts(
		iceberg.AddPartitionFieldByName("pt", "pt", iceberg.IdentityTransform{}, sc, nil))
}

// shopsSchema is mall.shops, keyed by shop_code.
func shopsSchema() *iceberg.Schema {
	return iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "shop_code", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 2, Name: "shop_name", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "category", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "floor", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 5, Name: "opened", Type: iceberg.PrimitiveTypes.Date},
	)
}

// devicePlacesSchema is mall.device_places, keyed by user_device_mac.
func devicePlacesSchema() *iceberg.Schema {
	return iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "user_device_mac", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 2, Name: "x", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 3, Name: "y", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 4, Name: "min_rssi", Type: iceberg.PrimitiveTypes.Int32},
	)
}

// devicesSchema is the nested table mall.devices. Every nested field is
// optional so that NULLs can appear at each level.
func devicesSchema() *iceberg.Schema {
	str := iceberg.PrimitiveTypes.String
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "mac", Type: str},
		iceberg.NestedField{ID: 3, Name: "info", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 8, Name: "vendor", Type: str},
			{ID: 9, Name: "model", Type: str},
			{ID: 10, Name: "os", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
				{ID: 11, Name: "name", Type: str},
				{ID: 12, Name: "version", Type: str},
			}}},
		}}},
		iceberg.NestedField{ID: 4, Name: "geo", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 13, Name: "lat", Type: iceberg.PrimitiveTypes.Float64},
			{ID: 14, Name: "lon", Type: iceberg.PrimitiveTypes.Float64},
		}}},
		iceberg.NestedField{ID: 5, Name: "tags", Type: &iceberg.ListType{
			ElementID: 15, Element: str, ElementRequired: false,
		}},
		iceberg.NestedField{ID: 6, Name: "attributes", Type: &iceberg.MapType{
			KeyID: 16, KeyType: str, ValueID: 17, ValueType: str, ValueRequired: false,
		}},
		iceberg.NestedField{ID: 7, Name: "first_seen", Type: iceberg.PrimitiveTypes.TimestampTz},
	)
}
