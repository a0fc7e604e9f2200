package scan

import (
	"encoding/binary"

	"github.com/apache/iceberg-go"
)

// IntRange returns the least and greatest value of an integer-like column
// (int, long, date, time, timestamp) over the planned data files, from the
// bounds their manifests record, for cardinality estimates. ok is false
// when the column is not integer-like or some planned file lacks a bound.
// Dates are days, times and timestamps microseconds, as Iceberg stores
// them.
func (p *Plan) IntRange(name string) (lo, hi int64, ok bool) {
	f, found := p.req.Table.Schema().FindFieldByName(name)
	if !found || len(p.tasks) == 0 {
		return 0, 0, false
	}
	var width int
	switch f.Type.(type) {
	case iceberg.Int32Type, iceberg.DateType:
		width = 4
	case iceberg.Int64Type, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType:
		width = 8
	default:
		return 0, 0, false
	}
	decode := func(b []byte) (int64, bool) {
		if len(b) != width {
			return 0, false
		}
		if width == 4 {
			return int64(int32(binary.LittleEndian.Uint32(b))), true
		}
		return int64(binary.LittleEndian.Uint64(b)), true
	}
	for i, t := range p.tasks {
		l, okl := decode(t.File.LowerBoundValues()[f.ID])
		h, okh := decode(t.File.UpperBoundValues()[f.ID])
		if !okl || !okh {
			return 0, 0, false
		}
		if i == 0 || l < lo {
			lo = l
		}
		if i == 0 || h > hi {
			hi = h
		}
	}
	return lo, hi, true
}
