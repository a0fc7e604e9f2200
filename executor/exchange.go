package executor

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// Exchange runs each input in its own goroutine and yields their batches
// as they come, in no particular order. It is where a plan goes parallel:
// the inputs are independent parts of one relation (for example scans of
// different files), and operators above it see one stream.
//
// Batches cross goroutines through a small buffer; a batch in the buffer is
// owned by the exchange until Next hands it out. Close cancels the inputs,
// releases what is buffered, waits for the goroutines and closes the inputs.
type Exchange struct {
	Inputs []Operator
	Output *arrow.Schema
	// Buffer is how many batches may wait between producers and the
	// consumer; 0 for one per input.
	Buffer int

	ch      chan exchangeItem
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running int
	done    bool
	closed  bool
}

type exchangeItem struct {
	rec arrow.RecordBatch
	err error
	eof bool
}

var _ Operator = (*Exchange)(nil)

func (e *Exchange) Schema() *arrow.Schema { return e.Output }
func (e *Exchange) Children() []Operator  { return e.Inputs }
func (e *Exchange) String() string        { return fmt.Sprintf("Exchange %d parts", len(e.Inputs)) }

// Open starts one goroutine per input. The inputs are opened in their
// goroutines, under a context that Close cancels.
func (e *Exchange) Open(ctx context.Context) error {
	if e.ch != nil {
		return nil
	}
	size := e.Buffer
	if size <= 0 {
		size = len(e.Inputs)
	}
	e.ch = make(chan exchangeItem, size)
	ctx, e.cancel = context.WithCancel(ctx)
	e.ctx = ctx
	e.running = len(e.Inputs)
	for _, in := range e.Inputs {
		e.wg.Add(1)
		go e.produce(ctx, in)
	}
	return nil
}

// sendItem sends it on ch unless ctx ends first, in which case it releases
// the batch and reports false.
func sendItem(ctx context.Context, ch chan<- exchangeItem, it exchangeItem) bool {
	select {
	case ch <- it:
		return true
	case <-ctx.Done():
		if it.rec != nil {
			it.rec.Release()
		}
		return false
	}
}

func (e *Exchange) produce(ctx context.Context, in Operator) {
	defer e.wg.Done()
	send := func(it exchangeItem) bool { return sendItem(ctx, e.ch, it) }
	if err := in.Open(ctx); err != nil {
		send(exchangeItem{err: err})
		return
	}
	for {
		rec, err := in.Next()
		if err == io.EOF {
			send(exchangeItem{eof: true})
			return
		}
		if err != nil {
			send(exchangeItem{err: err})
			return
		}
		if !send(exchangeItem{rec: rec}) {
			return
		}
	}
}

func (e *Exchange) Next() (arrow.RecordBatch, error) {
	if e.ch == nil || e.done {
		return nil, io.EOF
	}
	for e.running > 0 {
		var it exchangeItem
		select {
		case it = <-e.ch:
		case <-e.ctx.Done():
			// Producers stop sending once the query is cancelled.
			e.done = true
			return nil, context.Cause(e.ctx)
		}
		switch {
		case it.err != nil:
			e.done = true
			return nil, it.err
		case it.eof:
			e.running--
		default:
			return it.rec, nil
		}
	}
	e.done = true
	return nil, io.EOF
}

func (e *Exchange) Close() error {
	if e.closed {
		return nil
	}
	e.closed, e.done = true, true
	if e.ch != nil {
		e.cancel()
		// Release what producers buffered while waiting for them to stop.
		stopped := make(chan struct{})
		go func() { e.wg.Wait(); close(stopped) }()
		for {
			select {
			case it := <-e.ch:
				if it.rec != nil {
					it.rec.Release()
				}
				continue
			case <-stopped:
			}
			break
		}
		for {
			select {
			case it := <-e.ch:
				if it.rec != nil {
					it.rec.Release()
				}
				continue
			default:
			}
			break
		}
	}
	var errs []error
	for _, in := range e.Inputs {
		errs = append(errs, in.Close())
	}
	return errorsJoin(errs...)
}
