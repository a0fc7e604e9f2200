package datagen

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	microsPerSecond = int64(time.Second / time.Microsecond)
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
)

// Share of probe events per hour of the day: the mall opens at 10:00 and
// closes at 21:00; staff, cleaners and passers-by make the rest.
var hourWeights = [24]float64{
	0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 3, // 00-09
	6, 8, 10, 10, 8, 8, 9, 10, 11, 11, 9, // 10-20
	5, 2, 0.6, // 21-23
}

var hourCum = cumulative(hourWeights[:])

// Weekday weights of the events per day (Sunday first): weekends are busier.
var weekdayWeights = [7]float64{1.3, 0.9, 0.85, 0.9, 0.95, 1.1, 1.4}

// Null rates: about 1% of rssi and 0.5% of ap_mac values are NULL.
const (
	rssiNullPerMille  = 10
	apMACNullPerMille = 5
)

const (
	flagRSSINull uint8 = 1 << iota
	flagAPMACNull
)

// event is one probe event before it becomes a row. Days are generated as
// slices of events, sorted by time, and then cut into files.
type event struct {
	t     int64 // microseconds since the start of the day
	seq   int32 // generation order, the tie-break of the sort
	dev   int32
	ap    int32
	rssi  int16
	flags uint8
}

// dayCounts splits o.Events over o.Days by weekday weight; the counts add up
// to o.Events exactly.
func dayCounts(o DemoOptions) []int64 {
	weights := make([]float64, o.Days)
	total := 0.0
	for d := range weights {
		wd := o.Start.AddDate(0, 0, d).Weekday()
		weights[d] = weekdayWeights[wd]
		total += weights[d]
	}
	counts := make([]int64, o.Days)
	var sum int64
	for d, w := range weights {
		counts[d] = int64(float64(o.Events) * w / total)
		sum += counts[d]
	}
	for d := 0; sum < o.Events; d = (d + 1) % o.Days {
		counts[d]++
		sum++
	}
	return counts
}

// dayEvents draws the n probe events of day number day, sorted by time.
// Events come in visits: a device (skewed towards regulars) visits a shop
// (skewed towards popular shops) at a time drawn from the daily curve and
// probes several times near one access point.
func (w *world) dayEvents(day int, n int64) []event {
	r := newRand(w.opts.Seed, streamDayBase+uint64(day))
	evs := make([]event, 0, n)
	for int64(len(evs)) < n {
		dev := int32(pick(r, w.deviceCum))
		shop := pick(r, w.shopCum)
		apLo, apHi := w.apStart[shop], w.apStart[shop+1]
		home := apLo + r.Int32N(apHi-apLo)
		probes := 1 + int(r.ExpFloat64()*19)
		start := int64(pick(r, hourCum))*microsPerHour + r.Int64N(microsPerHour)
		dur := int64(r.ExpFloat64() * float64(30*microsPerMinute))
		dur = min(max(dur, microsPerMinute), 4*microsPerHour, microsPerDay-start)
		base := float64(w.deviceMinRSSI[dev]) + 5 + 30*r.Float64()
		for range probes {
			if int64(len(evs)) == n {
				break
			}
			e := event{
				t:   start + r.Int64N(dur),
				seq: int32(len(evs)),
				dev: dev,
				ap:  home,
			}
			if r.IntN(5) == 0 {
				e.ap = apLo + r.Int32N(apHi-apLo)
			}
			e.rssi = int16(min(max(math.Round(base+4*r.NormFloat64()), -95), -30))
			if r.IntN(1000) < rssiNullPerMille {
				e.flags |= flagRSSINull
			}
			if r.IntN(1000) < apMACNullPerMille {
				e.flags |= flagAPMACNull
			}
			evs = append(evs, e)
		}
	}
	slices.SortFunc(evs, func(a, b event) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return evs
}

// probeBatch builds the rows of evs as one record batch of schema sc (the
// Arrow form of mall.probe_events). Row i gets id firstID+i. The caller owns
// the returned batch.
func (w *world) probeBatch(mem memory.Allocator, sc *arrow.Schema, evs []event, firstID, dayStart int64, pt arrow.Date32) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	n := len(evs)
	rb.Reserve(n)

	ids := rb.Field(0).(*array.Int64Builder)
	shops := rb.Field(1).(*array.StringBuilder)
	apIPs := rb.Field(2).(*array.StringBuilder)
	times := rb.Field(3).(*array.TimestampBuilder)
	macs := rb.Field(4).(*array.StringBuilder)
	rssi := rb.Field(5).(*array.Int32Builder)
	apMACs := rb.Field(6).(*array.StringBuilder)
	pts := rb.Field(7).(*array.Date32Builder)

	var shopBytes, ipBytes, macBytes, apMACBytes int
	for i := range evs {
		e := &evs[i]
		shopBytes += len(w.shopCodes[w.apShop[e.ap]])
		ipBytes += len(w.apIPs[e.ap])
		macBytes += len(w.deviceMACs[e.dev])
		apMACBytes += len(w.apMACs[e.ap])
	}
	shops.ReserveData(shopBytes)
	apIPs.ReserveData(ipBytes)
	macs.ReserveData(macBytes)
	apMACs.ReserveData(apMACBytes)

	for i := range evs {
		e := &evs[i]
		ids.UnsafeAppend(firstID + int64(i))
		shops.Append(w.shopCodes[w.apShop[e.ap]])
		apIPs.Append(w.apIPs[e.ap])
		times.UnsafeAppend(arrow.Timestamp(dayStart + e.t))
		macs.Append(w.deviceMACs[e.dev])
		if e.flags&flagRSSINull != 0 {
			rssi.AppendNull()
		} else {
			rssi.UnsafeAppend(int32(e.rssi))
		}
		if e.flags&flagAPMACNull != 0 {
			apMACs.AppendNull()
		} else {
			apMACs.Append(w.apMACs[e.ap])
		}
		pts.UnsafeAppend(pt)
	}
	return rb.NewRecordBatch()
}
