package scan

import (
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/lakeflight/lakeflight/catalog"
)

// DefaultFooterCacheBytes bounds the cache of Parquet footers.
const DefaultFooterCacheBytes = 256 << 20

// Footers caches decoded Parquet footers by data file path and size: a
// data file of an Iceberg table is never rewritten in place, so opening it
// again needs no footer read or decode.
var Footers = catalog.NewByteCache[*metadata.FileMetaData](DefaultFooterCacheBytes)

// footerWeight is what a decoded footer holds on the heap: about six times
// its serialized size (a TPC-H lineitem footer of 4.8 KB decodes into
// 27.8 KB).
func footerWeight(md *metadata.FileMetaData) int64 { return 6*int64(md.Size()) + 1024 }
