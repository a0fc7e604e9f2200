// Package scan reads Iceberg file scan tasks as Arrow record batches.
//
// NewPlan plans with iceberg-go (snapshot, partition and file pruning, file
// scan tasks). A Reader reads the tasks of a part of the plan:
//
//   - A task over a Parquet data file without delete files is read by the
//     package itself: it opens the file through the table's FileIO, selects
//     the leaf columns the projection and the filter need (by Parquet field
//     id, else by name through the table's name mapping or the schema's
//     names), keeps the row groups whose first byte lies in the task's byte
//     range, and tests each against its column statistics: a row group no
//     row of which can match is skipped, one every row of which matches is
//     read without filtering. Row groups left undecided are probed through
//     dictionaries and bloom filters, then page by page through page
//     indexes, and read only over the row ranges that might match (see
//     pages.go); the filter columns may be read first and the others only
//     where rows matched (late.go). The row filter is translated, bound and
//     evaluated as iceberg-go does, and batches are projected onto the
//     plan's schema as iceberg-go projects them (columns a file lacks are
//     NULL, widened types are cast), so both paths return the same rows.
//   - Any other task (position or equality deletes, deletion vectors,
//     another format, encryption, a file whose schema does not map, row
//     lineage or variant columns) goes through iceberg-go's ReadTasks.
//
// On object storage the chunks a row group reads are fetched in a few
// coalesced ranged requests (FetchOptions, input.go).
//
// A Reader keeps task order, decodes up to Request.Concurrency tasks at
// once, keeps the batches it holds within a context's memory limit
// (WithMemoryLimit) and counts what it read and skipped (Reader.Stats, and
// a query's Totals).
package scan
