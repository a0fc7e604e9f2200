package lookup

import (
	"sync"
	"syscall"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// hugeAllocator serves large buffers from anonymous mappings the kernel is
// asked to back with huge pages: an index is read at random, and with 4 KiB
// pages nearly every lookup of a large table also misses the TLB. Small
// buffers come from the Go allocator.
type hugeAllocator struct {
	small memory.Allocator
	mu    sync.Mutex
	maps  map[uintptr][]byte
}

const hugeMin = 4 << 20

func newHugeAllocator() *hugeAllocator {
	return &hugeAllocator{small: memory.NewGoAllocator(), maps: map[uintptr][]byte{}}
}

func (h *hugeAllocator) Allocate(size int) []byte {
	if size < hugeMin {
		return h.small.Allocate(size)
	}
	// Map 2 MiB more and start at a 2 MiB boundary: huge pages back only
	// aligned 2 MiB ranges.
	const huge = 2 << 20
	m, err := syscall.Mmap(-1, 0, size+huge, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return h.small.Allocate(size)
	}
	start := (huge - int(uintptr(unsafe.Pointer(&m[0]))%huge)) % huge
	b := m[start : start+size : start+size]
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE
	h.mu.Lock()
	h.maps[uintptr(unsafe.Pointer(&b[0]))] = m
	h.mu.Unlock()
	return b
}

func (h *hugeAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) && (size < hugeMin) == (cap(b) < hugeMin) {
		return b[:size]
	}
	nb := h.Allocate(size)
	copy(nb, b)
	h.Free(b)
	return nb
}

func (h *hugeAllocator) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(&b[:1][0]))
	h.mu.Lock()
	m, ok := h.maps[p]
	delete(h.maps, p)
	h.mu.Unlock()
	if ok {
		_ = syscall.Munmap(m)
		return
	}
	h.small.Free(b)
}
