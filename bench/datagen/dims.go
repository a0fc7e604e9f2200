package datagen

import (
	"cmp"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// shopsBatch builds every row of mall.shops, ordered by shop_code, as one
// record batch of schema sc. The caller owns the returned batch.
func (w *world) shopsBatch(mem memory.Allocator, sc *arrow.Schema) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	rb.Field(0).(*array.StringBuilder).AppendValues(w.shopCodes, nil)
	rb.Field(1).(*array.StringBuilder).AppendValues(w.shopNames, nil)
	rb.Field(2).(*array.StringBuilder).AppendValues(w.categories, nil)
	rb.Field(3).(*array.Int32Builder).AppendValues(w.floors, nil)
	opened := rb.Field(4).(*array.Date32Builder)
	opened.Reserve(len(w.opened))
	for _, d := range w.opened {
		opened.UnsafeAppend(arrow.Date32(d))
	}
	return rb.NewRecordBatch()
}

// devicePlacesBatch builds every row of mall.device_places, ordered by
// user_device_mac so that data files have tight key bounds for lookups, as
// one record batch of schema sc. The caller owns the returned batch.
func (w *world) devicePlacesBatch(mem memory.Allocator, sc *arrow.Schema) arrow.RecordBatch {
	n := len(w.deviceMACs)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(w.deviceMACs[a], w.deviceMACs[b]) })

	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	rb.Reserve(n)
	macs := rb.Field(0).(*array.StringBuilder)
	xs := rb.Field(1).(*array.Float64Builder)
	ys := rb.Field(2).(*array.Float64Builder)
	minRSSI := rb.Field(3).(*array.Int32Builder)
	macs.ReserveData(17 * n)
	for _, d := range order {
		macs.Append(w.deviceMACs[d])
		xs.UnsafeAppend(w.deviceX[d])
		ys.UnsafeAppend(w.deviceY[d])
		minRSSI.UnsafeAppend(w.deviceMinRSSI[d])
	}
	return rb.NewRecordBatch()
}

var deviceTags = []string{"regular", "staff", "vip", "new", "tourist", "night-owl", "weekend", "family"}

var attributeKeys = []string{"carrier", "lang", "app_version", "randomized_mac", "band"}

var attributeValues = [][]string{
	{"China Mobile", "China Unicom", "China Telecom", "roaming"},
	{"zh-CN", "en-US", "zh-HK", "ja-JP", "ko-KR"},
	{"3.2.0", "3.3.1", "4.0.0"},
	{"true", "false"},
	{"2.4GHz", "5GHz", "6GHz"},
}

// devicesBatch builds every row of the nested table mall.devices (the first
// min(Devices, 5000) devices) as one record batch of schema sc. NULLs appear
// at each level: whole structs, struct fields, lists, maps and map values.
// The caller owns the returned batch.
func (w *world) devicesBatch(mem memory.Allocator, sc *arrow.Schema) arrow.RecordBatch {
	n := min(len(w.deviceMACs), maxNestedDevices)
	r := newRand(w.opts.Seed, streamNested)

	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	rb.Reserve(n)

	ids := rb.Field(0).(*array.Int64Builder)
	macs := rb.Field(1).(*array.StringBuilder)
	info := rb.Field(2).(*array.StructBuilder)
	vendor := info.FieldBuilder(0).(*array.StringBuilder)
	model := info.FieldBuilder(1).(*array.StringBuilder)
	osb := info.FieldBuilder(2).(*array.StructBuilder)
	osName := osb.FieldBuilder(0).(*array.StringBuilder)
	osVersion := osb.FieldBuilder(1).(*array.StringBuilder)
	geo := rb.Field(3).(*array.StructBuilder)
	lat := geo.FieldBuilder(0).(*array.Float64Builder)
	lon := geo.FieldBuilder(1).(*array.Float64Builder)
	tags := rb.Field(4).(*array.ListBuilder)
	tagValues := tags.ValueBuilder().(*array.StringBuilder)
	attrs := rb.Field(5).(*array.MapBuilder)
	attrKeys := attrs.KeyBuilder().(*array.StringBuilder)
	attrValues := attrs.ItemBuilder().(*array.StringBuilder)
	firstSeen := rb.Field(6).(*array.TimestampBuilder)

	startMicros := w.opts.Start.UnixMicro()
	for d := range n {
		ids.UnsafeAppend(int64(d) + 1)
		macs.Append(w.deviceMACs[d])

		// info: NULL for 1%; a randomized MAC hides the vendor sometimes.
		if r.IntN(100) == 0 {
			info.AppendNull()
		} else {
			info.Append(true)
			v := int(w.deviceVendor[d])
			if v < 0 {
				v = r.IntN(len(vendors))
			}
			vd := vendors[v]
			if w.deviceVendor[d] < 0 && r.IntN(4) == 0 {
				vendor.AppendNull()
			} else {
				vendor.Append(vd.name)
			}
			if r.IntN(100) < 3 {
				model.AppendNull()
			} else {
				model.Append(vd.models[r.IntN(len(vd.models))])
			}
			if r.IntN(100) < 4 {
				osb.AppendNull()
			} else {
				osb.Append(true)
				osName.Append(vd.os)
				if r.IntN(100) < 5 {
					osVersion.AppendNull()
				} else {
					versions := osVersions[vd.os]
					osVersion.Append(versions[r.IntN(len(versions))])
				}
			}
		}

		// geo: NULL for 8%; otherwise near the mall (Shanghai).
		if r.IntN(100) < 8 {
			geo.AppendNull()
		} else {
			geo.Append(true)
			lat.Append(31.2304 + (r.Float64()-0.5)*0.2)
			lon.Append(121.4737 + (r.Float64()-0.5)*0.2)
		}

		// tags: NULL for 3%, empty for about 15%, else 1-3 distinct tags.
		switch k := r.IntN(100); {
		case k < 3:
			tags.AppendNull()
		case k < 18:
			tags.Append(true)
		default:
			tags.Append(true)
			first := r.IntN(len(deviceTags))
			cnt := 1 + r.IntN(3)
			for j := range cnt {
				tagValues.Append(deviceTags[(first+j*3)%len(deviceTags)])
			}
		}

		// attributes: NULL for 2%, else 0-3 entries, 5% of values NULL.
		if r.IntN(100) < 2 {
			attrs.AppendNull()
		} else {
			attrs.Append(true)
			first := r.IntN(len(attributeKeys))
			cnt := r.IntN(4)
			for j := range cnt {
				k := (first + j) % len(attributeKeys)
				attrKeys.Append(attributeKeys[k])
				if r.IntN(100) < 5 {
					attrValues.AppendNull()
				} else {
					vals := attributeValues[k]
					attrValues.Append(vals[r.IntN(len(vals))])
				}
			}
		}

		firstSeen.UnsafeAppend(arrow.Timestamp(startMicros - 1 - r.Int64N(365*microsPerDay)))
	}
	return rb.NewRecordBatch()
}
