package datagen

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrInvalidOptions is wrapped by every error WriteDemo returns for
// DemoOptions it cannot use.
var ErrInvalidOptions = errors.New("datagen: invalid demo options")

// Limits on DemoOptions, so that codes keep their fixed width and the
// generated addresses stay unique.
const (
	// MaxShops is the largest DemoOptions.Shops: shop codes are S0001..S9999.
	MaxShops = 9999
	// MaxDevices is the largest DemoOptions.Devices.
	MaxDevices = 1 << 24
	// MaxDays is the largest DemoOptions.Days.
	MaxDays = 3660
	// MaxFilesPerDay is the largest DemoOptions.FilesPerDay.
	MaxFilesPerDay = 1024
	// maxNestedDevices caps the rows of mall.devices.
	maxNestedDevices = 5000
)

// DemoOptions sizes the demo warehouse. A zero numeric field, a zero Start and
// a nil Alloc take their default; Seed is always used as given (the default
// options use 42). Negative or out-of-range values make WriteDemo fail with an
// error wrapping ErrInvalidOptions.
type DemoOptions struct {
	// Events is the number of probe events in all, spread over the days
	// (weekends are busier). Default 2_000_000. It must be at least
	// 2*Days*FilesPerDay so that every data file gets rows.
	Events int64
	// Days is the number of days of events, one partition and one snapshot
	// per day. Default 7, at most MaxDays.
	Days int
	// Shops is the number of shops (rows of mall.shops). Default 200, at most
	// MaxShops.
	Shops int
	// Devices is the number of distinct device MACs (rows of
	// mall.device_places); mall.devices holds the first min(Devices, 5000).
	// Default 50_000, at most MaxDevices.
	Devices int
	// Start is the first day of events; it must be a UTC midnight.
	// Default 2026-11-01T00:00:00Z.
	Start time.Time
	// Seed seeds every random stream; the same options give byte-identical
	// row contents. Default 42 (DefaultDemoOptions); zero is a valid seed.
	Seed int64
	// FilesPerDay is the number of data files written per day partition of
	// mall.probe_events. Default 2, at most MaxFilesPerDay.
	FilesPerDay int
	// Alloc allocates the Arrow builders and is put on the context of the
	// iceberg-go writes (compute.WithAllocator). Default
	// memory.DefaultAllocator.
	Alloc memory.Allocator
}

// Defaults of DemoOptions.
const (
	DefaultEvents      int64 = 2_000_000
	DefaultDays              = 7
	DefaultShops             = 200
	DefaultDevices           = 50_000
	DefaultSeed        int64 = 42
	DefaultFilesPerDay       = 2
)

// defaultStart is the default first day of events, 2026-11-01 (a Sunday).
var defaultStart = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// DefaultDemoOptions returns the default demo size: 2M events over the 7
// days from 2026-11-01, 200 shops, 50k devices, seed 42, 2 files per day.
func DefaultDemoOptions() DemoOptions {
	return DemoOptions{
		Events:      DefaultEvents,
		Days:        DefaultDays,
		Shops:       DefaultShops,
		Devices:     DefaultDevices,
		Start:       defaultStart,
		Seed:        DefaultSeed,
		FilesPerDay: DefaultFilesPerDay,
		Alloc:       memory.DefaultAllocator,
	}
}

// withDefaults fills zero fields with their defaults and validates the rest.
func (o DemoOptions) withDefaults() (DemoOptions, error) {
	if o.Events == 0 {
		o.Events = DefaultEvents
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.Shops == 0 {
		o.Shops = DefaultShops
	}
	if o.Devices == 0 {
		o.Devices = DefaultDevices
	}
	if o.Start.IsZero() {
		o.Start = defaultStart
	}
	if o.FilesPerDay == 0 {
		o.FilesPerDay = DefaultFilesPerDay
	}
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}

	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
		}
	}
	check(o.Days > 0 && o.Days <= MaxDays, "days %d not in [1, %d]", o.Days, MaxDays)
	check(o.Shops > 0 && o.Shops <= MaxShops, "shops %d not in [1, %d]", o.Shops, MaxShops)
	check(o.Devices > 0 && o.Devices <= MaxDevices, "devices %d not in [1, %d]", o.Devices, MaxDevices)
	check(o.FilesPerDay > 0 && o.FilesPerDay <= MaxFilesPerDay,
		"files per day %d not in [1, %d]", o.FilesPerDay, MaxFilesPerDay)
	if len(errs) == 0 {
		minEvents := 2 * int64(o.Days) * int64(o.FilesPerDay)
		check(o.Events >= minEvents, "events %d below 2*days*files_per_day = %d", o.Events, minEvents)
	}
	utc := o.Start.UTC()
	check(utc.Equal(time.Date(utc.Year(), utc.Month(), utc.Day(), 0, 0, 0, 0, time.UTC)),
		"start %s is not a UTC midnight", o.Start.Format(time.RFC3339Nano))

	return o, errors.Join(errs...)
}
