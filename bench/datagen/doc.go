// Package datagen writes the lakeflight demo warehouse: the mall WiFi
// analytics workload as Apache Iceberg (format v2) tables, written with
// iceberg-go into any [catalog.Catalog].
//
// [WriteDemo] creates namespace "mall" with four tables:
//
//   - mall.probe_events: the WiFi probe-event fact table, partitioned by
//     identity(pt), one append snapshot per day, several data files per day,
//     rows sorted by occur_time within a day and ids ascending over the table.
//     Shops and devices are skewed (some shops and some repeat visitors are
//     much busier), events follow a daily curve that peaks 10:00-21:00, and a
//     few rssi and ap_mac values are NULL.
//   - mall.shops: keyed dimension shop_code -> shop_name, category, floor,
//     opened. shop_code is the Iceberg identifier field (primary key).
//   - mall.device_places: keyed dimension user_device_mac -> x, y, min_rssi.
//   - mall.devices: a nested table with structs, a list and a map, with NULLs
//     at several nesting levels.
//
// Generation is deterministic: the same [DemoOptions] give byte-identical row
// contents (file names, snapshot ids and timestamps of commits differ between
// runs because iceberg-go draws them at random or from the clock). Columns are
// built with typed Arrow builders on [DemoOptions.Alloc], and every Arrow
// object the package creates is released before WriteDemo returns.
package datagen
