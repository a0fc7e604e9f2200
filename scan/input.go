package scan

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	icebergio "github.com/apache/iceberg-go/io"
)

// pagedInput is what a file's Parquet reader reads from. Reads pass
// through to the file, except two kinds:
//
//   - a column chunk for which a page plan is registered (see planChunk):
//     the Parquet reader asks for the whole chunk in one read; only the
//     planned spans (the dictionary page and the pages holding rows to
//     read) are fetched, the rest of the buffer is left zero. The column
//     reader seeks over the pages not fetched through the offset index
//     and never looks at their bytes.
//   - a region registered with keepRegion (the page index regions of a
//     row group; the filter columns' chunks that late materialization
//     reads twice): the first read of it is kept, and later reads of the
//     same bytes are served from memory. Each column reader of a row group
//     reads the offset indexes again to seek.
//
// A pagedInput belongs to one fileRead; its methods lock anyway, since the
// Parquet reader's callers are not documented to be single-threaded.
type pagedInput struct {
	icebergio.File

	mu      sync.Mutex
	chunks  map[int64][]byteSpan // by the chunk's first byte
	regions map[byteSpan]*keptRegion
	// indexBytes counts the bytes of page index regions fetched since
	// takeIndexBytes.
	indexBytes int64
}

// keptRegion is a region registered with keepRegion: its bytes once read.
type keptRegion struct {
	data  []byte
	index bool // a page index region (counted in indexBytes)
}

// byteSpan is the bytes [off, end) of a file.
type byteSpan struct{ off, end int64 }

// pageGapBytes is the largest gap between two spans of a chunk that is
// read rather than skipped: one read costs more than a few KiB of bytes.
const pageGapBytes = 8 << 10

// chunkStart is where the Parquet reader starts reading a column chunk
// (as file.RowGroupReader computes it).
func chunkStart(cc *metadata.ColumnChunkMetaData) int64 {
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
		start = cc.DictionaryPageOffset()
	}
	return start
}

// planChunk registers that only the pages keep says of a column chunk are
// to be fetched, and returns the bytes that then are not. It registers
// nothing and returns 0 when the page locations do not lie inside the
// chunk.
func (in *pagedInput) planChunk(cc *metadata.ColumnChunkMetaData, locs []*metadata.PageLocation, keep []bool) int64 {
	start := chunkStart(cc)
	end := start + cc.TotalCompressedSize()
	if len(locs) == 0 || locs[0].Offset < start {
		return 0
	}
	// Everything before the first data page (the dictionary page) is
	// fetched.
	spans := []byteSpan{{start, locs[0].Offset}}
	for i, l := range locs {
		s := byteSpan{l.Offset, l.Offset + int64(l.CompressedPageSize)}
		if s.end > end {
			return 0
		}
		if !keep[i] {
			continue
		}
		if last := &spans[len(spans)-1]; s.off-last.end <= pageGapBytes {
			last.end = max(last.end, s.end)
		} else {
			spans = append(spans, s)
		}
	}
	var fetched int64
	for _, s := range spans {
		fetched += s.end - s.off
	}
	skipped := end - start - fetched
	if skipped <= 0 {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.chunks == nil {
		in.chunks = map[int64][]byteSpan{}
	}
	in.chunks[start] = spans
	return skipped
}

// keepRegion registers a region whose reads are kept; index says it is a
// page index region.
func (in *pagedInput) keepRegion(s byteSpan, index bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.regions == nil {
		in.regions = map[byteSpan]*keptRegion{}
	}
	if _, ok := in.regions[s]; !ok {
		in.regions[s] = &keptRegion{index: index}
	}
}

// forgetRegions drops kept regions.
func (in *pagedInput) forgetRegions(regions []byteSpan) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range regions {
		delete(in.regions, r)
	}
}

// forgetChunks drops the page plans of chunks not read.
func (in *pagedInput) forgetChunks() {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.chunks)
}

// takeIndexBytes returns the bytes of page index regions fetched since
// the last call.
func (in *pagedInput) takeIndexBytes() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.indexBytes
	in.indexBytes = 0
	return n
}

func (in *pagedInput) ReadAt(p []byte, off int64) (n int, err error) {
	in.mu.Lock()
	spans, planned := in.chunks[off]
	// A planned chunk is read once.
	delete(in.chunks, off)
	region := byteSpan{off, off + int64(len(p))}
	kept := in.regions[region]
	in.mu.Unlock()
	if kept != nil && kept.data != nil {
		return copy(p, kept.data), nil
	}
	if planned && spans[len(spans)-1].end <= region.end {
		n, err = in.readSpans(p, off, spans)
	} else {
		n, err = in.File.ReadAt(p, off)
	}
	if kept != nil && err == nil && n == len(p) {
		in.mu.Lock()
		kept.data = slices.Clone(p)
		if kept.index {
			in.indexBytes += int64(n)
		}
		in.mu.Unlock()
	}
	return n, err
}

// readSpans fills the spans of p (which holds the bytes from off) from the
// file and zeroes the rest.
func (in *pagedInput) readSpans(p []byte, off int64, spans []byteSpan) (int, error) {
	pos := off
	for _, s := range spans {
		clear(p[pos-off : s.off-off])
		if s.end > s.off {
			n, err := in.File.ReadAt(p[s.off-off:s.end-off], s.off)
			if n != int(s.end-s.off) {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return int(s.off-off) + n, fmt.Errorf("read pages at %d: %d of %d bytes: %w", s.off, n, s.end-s.off, err)
			}
		}
		pos = s.end
	}
	clear(p[pos-off:])
	return len(p), nil
}
