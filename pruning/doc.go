// Package pruning turns SQL predicates into Iceberg expressions so that scans
// skip partitions, manifests, files and row groups that cannot match.
package pruning
