package executor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrMemoryLimit means a query needed more memory than its limit.
var ErrMemoryLimit = errors.New("query memory limit exceeded")

// Budget counts the memory one query holds: Arrow buffers allocated through
// the query's allocator, and what operators reserve for their hash tables.
// Operators that hold rows (sort, aggregate, join build, window) check it
// after each batch and fail with ErrMemoryLimit instead of growing past it.
type Budget struct {
	limit    int64
	used     atomic.Int64
	reserved atomic.Int64
	peak     atomic.Int64
}

// Peak is the most the query held at once.
func (b *Budget) Peak() int64 { return max(b.peak.Load(), b.Used()) }

// note records the current use as the peak when it is one.
func (b *Budget) note() {
	u := b.Used()
	for {
		p := b.peak.Load()
		if u <= p || b.peak.CompareAndSwap(p, u) {
			return
		}
	}
}

type budgetKey struct{}

// WithMemoryLimit returns a context whose Arrow allocations go through mem
// and count against a budget of limit bytes (0 for no limit).
func WithMemoryLimit(ctx context.Context, mem memory.Allocator, limit int64) (context.Context, *Budget) {
	b := &Budget{limit: limit}
	ctx = context.WithValue(ctx, budgetKey{}, b)
	return WithAllocator(ctx, &budgetAllocator{Allocator: mem, b: b}), b
}

// Used is the bytes the query holds now.
func (b *Budget) Used() int64 { return b.used.Load() + b.reserved.Load() }

// check fails when the query holds more than its limit.
func checkMemory(ctx context.Context, what string) error {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	if b == nil || b.limit <= 0 {
		return nil
	}
	if u := b.Used(); u > b.limit {
		return fmt.Errorf("%w: %s holds %d MiB, over the limit of %d MiB; add filters, or raise --query-memory-limit",
			ErrMemoryLimit, what, u>>20, b.limit>>20)
	}
	return nil
}

// reserve counts n bytes held outside Arrow buffers (negative to give back).
func reserve(ctx context.Context, n int64) {
	if b, _ := ctx.Value(budgetKey{}).(*Budget); b != nil {
		b.reserved.Add(n)
		b.note()
	}
}

type budgetAllocator struct {
	memory.Allocator
	b *Budget
}

func (a *budgetAllocator) Allocate(size int) []byte {
	a.b.used.Add(int64(size))
	a.b.note()
	return a.Allocator.Allocate(size)
}

func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	a.b.used.Add(int64(size - len(b)))
	a.b.note()
	return a.Allocator.Reallocate(size, b)
}

func (a *budgetAllocator) Free(b []byte) {
	a.b.used.Add(-int64(len(b)))
	a.Allocator.Free(b)
}
