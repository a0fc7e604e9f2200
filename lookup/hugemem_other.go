//go:build !linux

package lookup

import "github.com/apache/arrow-go/v18/arrow/memory"

// newHugeAllocator is the Go allocator where huge-page mappings are not
// asked for.
func newHugeAllocator() memory.Allocator { return memory.NewGoAllocator() }

const hugeMin = 4 << 20
