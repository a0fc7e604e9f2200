// Package scan reads Iceberg file scan tasks as Arrow record batches.
package scan
