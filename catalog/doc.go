// Package catalog opens Iceberg catalogs (SQL, filesystem, REST) behind one
// interface and maps Iceberg schemas to Arrow schemas and Flight SQL column
// metadata.
package catalog
