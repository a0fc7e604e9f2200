-- Differential corpus over the demo warehouse (lakeflight serve --demo):
-- mall.probe_events, mall.shops, mall.device_places, mall.devices.
--
-- Each query runs through lakeflight (Flight SQL) and through DuckDB over the
-- same Iceberg data (clients/python/tests/test_differential.py). Format: a
-- "-- name: NAME" line, then one statement ending with ";" at the end of a
-- line. Other "--" lines are comments. Every query is valid PostgreSQL and
-- valid DuckDB with the same meaning (no integer division, no round() of
-- exact halves on doubles, no collation-dependent string order beyond plain
-- ASCII); a query with a top-level ORDER BY orders totally (ties broken by
-- a key), so its rows compare in order.

-- ---------------------------------------------------------------- filters
-- name: filter_eq
SELECT id, shop_code, rssi FROM mall.probe_events WHERE shop_code = 'S0007';

-- name: filter_range
SELECT id, rssi, pt FROM mall.probe_events WHERE rssi >= -50 AND rssi < -46;

-- name: filter_or
SELECT id, shop_code, rssi FROM mall.probe_events WHERE shop_code = 'S0001' OR rssi > -43;

-- name: filter_not
SELECT shop_code, floor FROM mall.shops WHERE NOT (floor > 1);

-- name: filter_in_list
SELECT shop_code, category FROM mall.shops WHERE category IN ('Books', 'Toys', 'Jewelry');

-- name: filter_not_in_list
SELECT shop_code, floor FROM mall.shops WHERE floor NOT IN (1, 2, 3);

-- name: filter_between
SELECT id, shop_code, occur_time FROM mall.probe_events WHERE id BETWEEN 1000 AND 1100;

-- name: filter_not_between_dates
SELECT shop_code, opened FROM mall.shops WHERE opened NOT BETWEEN DATE '2010-01-01' AND DATE '2024-12-31';

-- name: filter_like_prefix
SELECT shop_code, shop_name FROM mall.shops WHERE shop_name LIKE 'Golden%';

-- name: filter_like_underscore
SELECT shop_code FROM mall.shops WHERE shop_code LIKE 'S01_0';

-- name: filter_not_like
SELECT shop_code, shop_name FROM mall.shops WHERE shop_name NOT LIKE '% Cafe' AND floor = 2;

-- name: filter_ilike
SELECT shop_code, shop_name FROM mall.shops WHERE shop_name ILIKE '%dragon%';

-- name: filter_is_null
SELECT id, shop_code, ap_mac FROM mall.probe_events WHERE rssi IS NULL;

-- name: filter_null_and_not_null
SELECT id, rssi FROM mall.probe_events WHERE ap_mac IS NULL AND rssi IS NOT NULL;

-- name: filter_timestamp_window
SELECT id, occur_time, user_device_mac FROM mall.probe_events
WHERE occur_time >= TIMESTAMP '2026-11-03 12:00:00' AND occur_time < TIMESTAMP '2026-11-03 12:30:00';

-- name: filter_partition_date
SELECT count(*) AS n FROM mall.probe_events WHERE pt = DATE '2026-11-04';

-- name: filter_eq_null_is_empty
SELECT id FROM mall.probe_events WHERE rssi = NULL;

-- name: filter_is_distinct_from
SELECT count(*) AS n FROM mall.probe_events WHERE rssi IS DISTINCT FROM -60;

-- name: filter_is_not_distinct_from
SELECT count(*) AS n FROM mall.probe_events WHERE ap_mac IS NOT DISTINCT FROM NULL;

-- name: filter_float
SELECT user_device_mac, x, y FROM mall.device_places WHERE x > 299.5 AND y < 10;

-- name: filter_empty
SELECT shop_code, shop_name FROM mall.shops WHERE floor > 100;

-- name: filter_contradiction
SELECT id, rssi FROM mall.probe_events WHERE id < 0 OR (rssi > 0 AND rssi < 0);

-- name: filter_boolean_equality
SELECT shop_code, floor, category FROM mall.shops WHERE (floor = 1) = (category = 'Food & Beverage');

-- name: filter_not_equal
SELECT shop_code, category, floor FROM mall.shops WHERE category <> 'Fashion' AND floor != 3 AND floor > 2;

-- name: filter_nested_and_or
SELECT id FROM mall.probe_events
WHERE (shop_code = 'S0003' OR shop_code = 'S0004') AND NOT (rssi < -70 OR rssi IS NULL) AND pt <> DATE '2026-11-02';

-- ---------------------------------------------------------------- projections and arithmetic
-- name: arith_int
SELECT id, id * 3 + 1 AS a, id - 7 AS b, -id AS neg FROM mall.probe_events WHERE id < 50;

-- name: arith_float
SELECT user_device_mac, x * 2.5 + y AS s, x - y AS d FROM mall.device_places WHERE min_rssi = -60;

-- name: arith_cast_division
SELECT id, CAST(id AS double precision) / 7 AS q FROM mall.probe_events WHERE id <= 30;

-- name: arith_modulo
SELECT id, id % 7 AS m7, mod(id, 5) AS m5 FROM mall.probe_events WHERE id BETWEEN 100 AND 130;

-- name: arith_null_propagation
SELECT id, rssi + 100 AS r, rssi * 2 AS d FROM mall.probe_events WHERE rssi IS NULL OR id < 5;

-- name: arith_float_division
SELECT user_device_mac, x / (y + 1) AS r FROM mall.device_places WHERE x < 1;

-- name: arith_decimal_literal
SELECT shop_code, floor * 1.5 AS f, floor + 0.25 AS g FROM mall.shops WHERE floor > 3;

-- name: arith_precedence
SELECT id, (id + 2) * 3 - id % 4 * 2 AS e, id - -id AS dbl FROM mall.probe_events WHERE id < 20;

-- name: arith_abs_negate
SELECT id, rssi, abs(rssi) AS a, -rssi AS n FROM mall.probe_events WHERE id < 20;

-- name: arith_in_where
SELECT id, rssi FROM mall.probe_events WHERE rssi * 2 + 150 < -30;

-- name: arith_bigint
SELECT id, id * 1000000007 AS big FROM mall.probe_events WHERE id > 49990;

-- ---------------------------------------------------------------- CASE, COALESCE, NULLIF
-- name: case_searched
SELECT id, CASE WHEN rssi >= -60 THEN 'strong' WHEN rssi >= -80 THEN 'medium' ELSE 'weak' END AS strength
FROM mall.probe_events WHERE id < 200;

-- name: case_simple
SELECT shop_code, CASE floor WHEN -1 THEN 'basement' WHEN 1 THEN 'ground' ELSE 'upper' END AS level FROM mall.shops;

-- name: case_no_else
SELECT shop_code, CASE WHEN floor > 3 THEN floor END AS high_floor FROM mall.shops;

-- name: coalesce_columns
SELECT id, coalesce(rssi, -999) AS r, coalesce(ap_mac, 'none') AS m FROM mall.probe_events
WHERE rssi IS NULL OR ap_mac IS NULL;

-- name: nullif_int
SELECT shop_code, nullif(floor, 1) AS f FROM mall.shops;

-- name: nullif_safe_division
SELECT category, CAST(sum(floor) AS double precision) / nullif(count(*), 0) AS mean_floor FROM mall.shops GROUP BY category;

-- name: case_inside_sum
SELECT shop_code, sum(CASE WHEN rssi > -60 THEN 1 ELSE 0 END) AS strong, count(*) AS n FROM mall.probe_events GROUP BY shop_code;

-- name: greatest_least
SELECT user_device_mac, greatest(x, y) AS hi, least(x, y) AS lo FROM mall.device_places WHERE min_rssi = -95;

-- name: null_heavy_expressions
SELECT id, rssi, ap_mac, rssi + NULL AS n1, coalesce(NULL, rssi, 0) AS c, nullif(ap_mac, ap_mac) AS n2,
       CASE WHEN rssi IS NULL THEN NULL ELSE 1 END AS n3, ap_mac || NULL AS n4
FROM mall.probe_events WHERE rssi IS NULL OR ap_mac IS NULL;

-- name: null_three_valued_logic
SELECT id, (rssi > -60) AND (ap_mac IS NULL) AS a, (rssi > -60) OR (ap_mac IS NOT NULL) AS o, NOT (rssi > -60) AS n
FROM mall.probe_events WHERE rssi IS NULL OR ap_mac IS NULL;

-- name: null_not_in_with_null
SELECT id FROM mall.probe_events WHERE rssi NOT IN (-60, NULL);

-- name: null_aggregates_over_nulls
SELECT count(rssi) AS c, count(*) AS n, sum(rssi) AS s, avg(rssi) AS a, min(ap_mac) AS m FROM mall.probe_events WHERE rssi IS NULL;

-- name: null_aggregates_no_rows
SELECT count(*) AS n, sum(rssi) AS s, avg(rssi) AS a, min(id) AS lo, max(id) AS hi, count(DISTINCT shop_code) AS d
FROM mall.probe_events WHERE id < 0;

-- name: null_group_no_rows
SELECT shop_code, count(*) AS n FROM mall.probe_events WHERE id < 0 GROUP BY shop_code;

-- name: null_coalesce_chain
SELECT id, coalesce(ap_mac, CAST(rssi AS varchar), 'both-null') AS v FROM mall.probe_events WHERE ap_mac IS NULL;

-- ---------------------------------------------------------------- strings
-- name: str_lower_upper
SELECT shop_code, lower(shop_name) AS l, upper(category) AS u FROM mall.shops WHERE floor = 1;

-- name: str_length
SELECT shop_code, length(shop_name) AS n FROM mall.shops WHERE length(shop_name) > 20;

-- name: str_substring_from_for
SELECT shop_code, substring(shop_name FROM 1 FOR 5) AS head, substring(shop_code FROM 2) AS num FROM mall.shops;

-- name: str_substring_args
SELECT shop_code, substring(shop_name, 3, 4) AS mid FROM mall.shops WHERE floor = 3;

-- name: str_trim
SELECT shop_code, trim('  ' || shop_name || '  ') AS t, ltrim('  ' || shop_code) AS l, rtrim(shop_code || '   ') AS r
FROM mall.shops WHERE floor = -1;

-- name: str_replace
SELECT shop_code, replace(shop_name, ' ', '_') AS r FROM mall.shops WHERE category = 'Food & Beverage';

-- name: str_split_part
SELECT id, ap_ip, split_part(ap_ip, '.', 3) AS third, split_part(ap_mac, ':', 6) AS last_octet
FROM mall.probe_events WHERE id < 100;

-- name: str_strpos_position
SELECT shop_code, strpos(shop_name, 'a') AS p, position('e' IN shop_name) AS q FROM mall.shops;

-- name: str_starts_with
SELECT shop_code, shop_name FROM mall.shops WHERE starts_with(shop_name, 'Blue');

-- name: str_concat_operator
SELECT shop_code, shop_code || '-' || category || '-' || floor AS tag FROM mall.shops;

-- name: str_concat_null
SELECT id, 'mac:' || ap_mac AS m, concat('mac:', ap_mac) AS c FROM mall.probe_events WHERE ap_mac IS NULL OR id < 10;

-- name: str_group_by_function
SELECT lower(category) AS c, count(*) AS n FROM mall.shops GROUP BY lower(category);

-- name: str_oui_having
SELECT substring(user_device_mac, 1, 8) AS oui, count(*) AS n FROM mall.device_places GROUP BY 1 HAVING count(*) > 100;

-- name: str_upper_like
SELECT shop_code, shop_name FROM mall.shops WHERE upper(shop_name) LIKE '%TEA%';

-- name: str_compare_range
SELECT shop_code, shop_name FROM mall.shops WHERE shop_name > 'S' AND shop_name < 'U';

-- name: str_cast_to_int
SELECT CAST(split_part(ap_ip, '.', 4) AS integer) AS host, count(*) AS n FROM mall.probe_events GROUP BY 1;

-- name: str_int_to_text
SELECT shop_code, CAST(floor AS varchar) AS f, length(CAST(floor AS varchar)) AS n FROM mall.shops WHERE floor < 2;

-- name: str_nested_functions
SELECT shop_code, upper(substring(replace(shop_name, ' ', ''), 1, 6)) AS k, length(trim(lower(category))) AS n
FROM mall.shops WHERE floor = 4;

-- name: str_equality_join_key_text
SELECT id, user_device_mac FROM mall.probe_events WHERE user_device_mac = lower(upper(user_device_mac)) AND id < 40;

-- ---------------------------------------------------------------- dates and timestamps
-- name: date_trunc_hour
SELECT date_trunc('hour', occur_time) AS h, count(*) AS n FROM mall.probe_events WHERE pt = DATE '2026-11-02' GROUP BY 1;

-- name: date_trunc_day
SELECT date_trunc('day', occur_time) AS d, count(*) AS n, min(id) AS first_id FROM mall.probe_events GROUP BY 1;

-- name: extract_hour
SELECT extract(hour FROM occur_time) AS h, count(*) AS n FROM mall.probe_events GROUP BY 1;

-- name: date_part_dow
SELECT date_part('dow', pt) AS dow, count(*) AS n FROM mall.probe_events GROUP BY 1;

-- name: extract_year_month
SELECT extract(year FROM opened) AS y, extract(month FROM opened) AS m, count(*) AS n FROM mall.shops GROUP BY 1, 2;

-- name: date_literal_compare
SELECT shop_code, opened FROM mall.shops WHERE opened >= DATE '2025-01-01';

-- name: date_plus_days
SELECT shop_code, opened, opened + 30 AS later, opened - 1 AS before FROM mall.shops WHERE floor = 4;

-- name: date_minus_date
SELECT shop_code, DATE '2026-11-01' - opened AS age_days FROM mall.shops;

-- name: date_trunc_month_of_date
SELECT date_trunc('month', opened) AS m, count(*) AS n FROM mall.shops GROUP BY 1;

-- name: date_extract_fields
SELECT shop_code, extract(doy FROM opened) AS doy, extract(week FROM opened) AS wk, extract(quarter FROM opened) AS q,
       extract(day FROM opened) AS d, extract(isodow FROM opened) AS idow
FROM mall.shops WHERE floor = 5;

-- name: ts_cast_to_date
SELECT CAST(occur_time AS date) AS d, count(*) AS n FROM mall.probe_events GROUP BY 1;

-- name: ts_extract_minute_filter
SELECT count(*) AS n FROM mall.probe_events WHERE extract(minute FROM occur_time) = 0;

-- name: ts_compare_date_column
SELECT count(*) AS n FROM mall.probe_events WHERE CAST(occur_time AS date) <> pt;

-- name: ts_min_max_per_day
SELECT pt, min(occur_time) AS first_seen, max(occur_time) AS last_seen FROM mall.probe_events GROUP BY pt;

-- name: ts_plus_interval
SELECT id, occur_time + INTERVAL '1 hour' AS later FROM mall.probe_events WHERE id < 10;

-- name: ts_interval_filter
SELECT count(*) AS n FROM mall.probe_events WHERE occur_time < TIMESTAMP '2026-11-02 00:00:00' - INTERVAL '6' HOUR;

-- name: date_plus_interval_month
SELECT shop_code, opened + INTERVAL '1' MONTH AS next_month FROM mall.shops WHERE floor = -1;

-- name: ts_date_trunc_week
SELECT date_trunc('week', occur_time) AS wk, count(*) AS n FROM mall.probe_events GROUP BY 1;

-- ---------------------------------------------------------------- math
-- name: math_abs_floor_ceil_sqrt
SELECT user_device_mac, abs(x - 150) AS a, floor(x) AS f, ceil(y) AS c, sqrt(x) AS s FROM mall.device_places WHERE min_rssi = -62;

-- name: math_power_ln_exp
SELECT shop_code, power(floor + 2, 2) AS p, ln(floor + 2) AS l, exp(floor) AS e FROM mall.shops WHERE floor >= 3;

-- name: math_round_numeric
SELECT category, round(CAST(avg(floor) AS numeric(20, 6)), 2) AS r FROM mall.shops GROUP BY category;

-- name: math_round_double_cast
SELECT min_rssi, round(CAST(avg(x) AS numeric(20, 6)), 1) AS ax FROM mall.device_places GROUP BY min_rssi;

-- name: math_mod_negative
SELECT id, rssi, mod(rssi, 7) AS m, rssi % 10 AS r FROM mall.probe_events WHERE id < 30;

-- name: math_sign_floor
SELECT id, sign(rssi + 70) AS s, floor(CAST(rssi AS double precision) / 10) AS bucket FROM mall.probe_events WHERE id < 40;

-- name: math_sqrt_of_sum
SELECT category, sqrt(sum(floor * floor)) AS norm FROM mall.shops GROUP BY category;

-- name: math_distance_top
SELECT user_device_mac, sqrt(power(x - 150, 2) + power(y - 60, 2)) AS dist FROM mall.device_places
ORDER BY dist, user_device_mac LIMIT 10;

-- name: math_ceil_negative
SELECT id, ceil(CAST(rssi AS double precision) / 3) AS c, floor(-1.5 * id) AS f FROM mall.probe_events WHERE id < 12;

-- ---------------------------------------------------------------- aggregates
-- name: agg_count_star
SELECT count(*) AS n FROM mall.probe_events;

-- name: agg_basic
SELECT count(*) AS n, count(rssi) AS nr, count(DISTINCT shop_code) AS shops, sum(rssi) AS s, avg(rssi) AS a,
       min(rssi) AS lo, max(rssi) AS hi, min(occur_time) AS t0, max(occur_time) AS t1
FROM mall.probe_events;

-- name: agg_group_by
SELECT shop_code, count(*) AS n, avg(rssi) AS a FROM mall.probe_events GROUP BY shop_code;

-- name: agg_having_count
SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code HAVING count(*) > 500;

-- name: agg_having_avg
SELECT shop_code, avg(rssi) AS a FROM mall.probe_events GROUP BY shop_code HAVING avg(rssi) < -74;

-- name: agg_group_by_positions
SELECT category, floor, count(*) AS n FROM mall.shops GROUP BY 1, 2;

-- name: agg_group_by_alias
SELECT extract(hour FROM occur_time) AS hr, count(*) AS n FROM mall.probe_events GROUP BY hr;

-- name: agg_group_by_expression
SELECT floor * 10 + 1 AS k, count(*) AS n FROM mall.shops GROUP BY floor * 10 + 1;

-- name: agg_count_distinct_grouped
SELECT pt, count(DISTINCT user_device_mac) AS devices, count(DISTINCT shop_code) AS shops FROM mall.probe_events GROUP BY pt;

-- name: agg_bool_and_or
SELECT category, bool_and(floor > 0) AS all_above, bool_or(floor = 5) AS any_top FROM mall.shops GROUP BY category;

-- name: agg_stddev_variance
SELECT shop_code, stddev(rssi) AS sd, variance(rssi) AS v FROM mall.probe_events GROUP BY shop_code HAVING count(*) > 1;

-- name: agg_stats_float
SELECT min_rssi, stddev_pop(x) AS sdx, var_pop(y) AS vy, stddev_samp(x) AS ssx, var_samp(y) AS svy, count(*) AS n
FROM mall.device_places GROUP BY min_rssi;

-- name: agg_min_max_text
SELECT category, min(shop_name) AS first_name, max(shop_name) AS last_name FROM mall.shops GROUP BY category;

-- name: agg_distinct_aggregates
SELECT sum(DISTINCT floor) AS s, count(DISTINCT floor) AS c, avg(DISTINCT floor) AS a FROM mall.shops;

-- name: agg_filter_clause
SELECT shop_code, count(*) FILTER (WHERE rssi > -60) AS strong, count(*) AS n FROM mall.probe_events GROUP BY shop_code;

-- name: agg_arithmetic_on_aggregates
SELECT category, max(floor) - min(floor) AS spread, sum(floor) * 2 AS s2, count(*) + 1 AS c1 FROM mall.shops GROUP BY category;

-- name: agg_group_by_null_flags
SELECT ap_mac IS NULL AS no_ap, rssi IS NULL AS no_rssi, count(*) AS n FROM mall.probe_events GROUP BY 1, 2;

-- name: agg_group_by_nullable_key
SELECT rssi, count(*) AS n FROM mall.probe_events GROUP BY rssi;

-- name: agg_having_without_group_by
SELECT count(*) AS n FROM mall.shops HAVING count(*) > 1000;

-- name: agg_group_by_case
SELECT CASE WHEN floor <= 1 THEN 'low' ELSE 'high' END AS band, count(*) AS n, min(opened) AS oldest FROM mall.shops GROUP BY 1;

-- name: agg_count_distinct_expression
SELECT count(DISTINCT substring(user_device_mac, 1, 8)) AS ouis FROM mall.device_places;

-- name: agg_string_agg_ordered
SELECT floor, string_agg(shop_code, ',' ORDER BY shop_code) AS codes FROM mall.shops GROUP BY floor;

-- name: agg_group_two_keys_having
SELECT pt, shop_code, count(*) AS n FROM mall.probe_events GROUP BY pt, shop_code HAVING count(*) >= 100;

-- name: agg_sum_bigint_expr
SELECT pt, sum(id) AS s, sum(id * rssi) AS w FROM mall.probe_events GROUP BY pt;

-- name: agg_avg_float
SELECT min_rssi, avg(x) AS ax, avg(y) AS ay, sum(x) AS sx FROM mall.device_places GROUP BY min_rssi;

-- name: agg_having_bool_combination
SELECT category, count(*) AS n FROM mall.shops GROUP BY category HAVING count(*) > 10 AND max(floor) = 5 OR min(floor) = -1;

-- ---------------------------------------------------------------- DISTINCT
-- name: distinct_one
SELECT DISTINCT category FROM mall.shops;

-- name: distinct_multi
SELECT DISTINCT floor, category FROM mall.shops;

-- name: distinct_expression
SELECT DISTINCT pt, extract(dow FROM pt) AS dow FROM mall.probe_events;

-- name: distinct_with_nulls
SELECT DISTINCT CASE WHEN rssi < -90 THEN rssi END AS weak FROM mall.probe_events;

-- name: distinct_order_limit
SELECT DISTINCT shop_code FROM mall.probe_events ORDER BY shop_code DESC LIMIT 5;

-- ---------------------------------------------------------------- ORDER BY, LIMIT, OFFSET
-- name: order_multi_key
SELECT shop_code, floor, opened FROM mall.shops ORDER BY floor DESC, opened ASC, shop_code;

-- name: order_limit_offset
SELECT id, occur_time FROM mall.probe_events ORDER BY occur_time DESC, id LIMIT 10 OFFSET 20;

-- name: order_nulls_first
SELECT id, rssi FROM mall.probe_events WHERE id < 3000 ORDER BY rssi NULLS FIRST, id LIMIT 20;

-- name: order_desc_nulls_last
SELECT id, rssi FROM mall.probe_events WHERE id < 3000 ORDER BY rssi DESC NULLS LAST, id LIMIT 20;

-- name: order_desc_default_nulls
SELECT id, rssi FROM mall.probe_events WHERE id < 3000 ORDER BY rssi DESC, id LIMIT 15;

-- name: order_asc_default_nulls
SELECT id, ap_mac FROM mall.probe_events ORDER BY ap_mac, id DESC LIMIT 8 OFFSET 49750;

-- name: order_by_position
SELECT category, count(*) AS n FROM mall.shops GROUP BY 1 ORDER BY 2 DESC, 1;

-- name: order_by_alias
SELECT shop_code, length(shop_name) AS len FROM mall.shops ORDER BY len DESC, shop_code LIMIT 10;

-- name: order_by_unselected_expression
SELECT shop_code FROM mall.shops ORDER BY floor * -1, shop_code LIMIT 10;

-- name: order_by_aggregate
SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code ORDER BY n DESC, shop_code LIMIT 10;

-- name: limit_zero
SELECT id FROM mall.probe_events LIMIT 0;

-- name: offset_past_end
SELECT shop_code FROM mall.shops ORDER BY shop_code OFFSET 500;

-- name: order_float_desc
SELECT user_device_mac, x FROM mall.device_places ORDER BY x DESC, user_device_mac LIMIT 10;

-- name: order_timestamp
SELECT id, occur_time FROM mall.probe_events WHERE pt = DATE '2026-11-05' ORDER BY occur_time, id LIMIT 5;

-- name: order_by_case
SELECT shop_code, floor FROM mall.shops ORDER BY CASE WHEN floor < 0 THEN 0 ELSE 1 END, opened DESC, shop_code LIMIT 12;

-- name: order_full_table_by_key
SELECT shop_code, shop_name, category, floor, opened FROM mall.shops ORDER BY shop_code;

-- ---------------------------------------------------------------- joins
-- name: join_inner_on
SELECT p.id, p.shop_code, s.shop_name FROM mall.probe_events p JOIN mall.shops s ON p.shop_code = s.shop_code WHERE p.id < 200;

-- name: join_using_grouped
SELECT shop_code, s.category, count(*) AS n FROM mall.probe_events p JOIN mall.shops s USING (shop_code) GROUP BY shop_code, s.category;

-- name: join_aggregate_by_dimension
SELECT s.category, count(*) AS n, avg(p.rssi) AS a FROM mall.probe_events p JOIN mall.shops s ON p.shop_code = s.shop_code GROUP BY s.category;

-- name: join_three_tables
SELECT s.floor, count(DISTINCT p.user_device_mac) AS devices, avg(d.x) AS ax
FROM mall.probe_events p
JOIN mall.shops s ON s.shop_code = p.shop_code
JOIN mall.device_places d ON d.user_device_mac = p.user_device_mac
GROUP BY s.floor;

-- name: join_left_with_nulls
SELECT s.shop_code, p.id, p.rssi FROM mall.shops s LEFT JOIN mall.probe_events p ON p.shop_code = s.shop_code AND p.rssi < -94;

-- name: join_left_count
SELECT s.shop_code, count(p.id) AS n FROM mall.shops s
LEFT JOIN mall.probe_events p ON p.shop_code = s.shop_code AND p.pt = DATE '2026-11-01' AND p.rssi > -50
GROUP BY s.shop_code;

-- name: join_left_anti
SELECT s.shop_code, s.shop_name FROM mall.shops s
LEFT JOIN mall.probe_events p ON p.shop_code = s.shop_code AND p.rssi > -45
WHERE p.id IS NULL;

-- name: join_right
SELECT p.id, s.shop_code FROM mall.probe_events p RIGHT JOIN mall.shops s ON p.shop_code = s.shop_code AND p.id < 100;

-- name: join_full_on
SELECT a.shop_code AS a_code, b.shop_code AS b_code FROM mall.shops a
FULL JOIN mall.shops b ON a.shop_code = b.shop_code AND a.floor = 1 AND b.category = 'Fashion';

-- name: join_full_using_counts
SELECT count(*) AS n, count(p.id) AS events, count(d.x) AS places, count(DISTINCT user_device_mac) AS macs
FROM mall.probe_events p FULL JOIN mall.device_places d USING (user_device_mac);

-- name: join_multi_key_self
SELECT count(*) AS n FROM mall.probe_events a
JOIN mall.probe_events b ON a.user_device_mac = b.user_device_mac AND a.shop_code = b.shop_code AND a.id < b.id
WHERE a.pt = DATE '2026-11-01' AND b.pt = DATE '2026-11-01';

-- name: join_using_two_keys
SELECT user_device_mac, shop_code, count(*) AS n FROM mall.probe_events a
JOIN mall.probe_events b USING (user_device_mac, shop_code)
WHERE a.id < 2000 AND b.id < 2000 GROUP BY user_device_mac, shop_code;

-- name: join_comma_where
SELECT a.shop_code AS a_code, b.shop_code AS b_code, a.shop_name FROM mall.shops a, mall.shops b
WHERE a.shop_code < b.shop_code AND a.shop_name = b.shop_name;

-- name: join_cross_counted
SELECT count(*) AS n, min(a.shop_code) AS a0, max(b.shop_code) AS b1 FROM mall.shops a CROSS JOIN mall.shops b
WHERE a.floor = 5 AND b.floor = -1;

-- name: join_non_equi
SELECT a.shop_code, count(*) AS newer FROM mall.shops a JOIN mall.shops b ON a.opened < b.opened AND a.floor = b.floor GROUP BY a.shop_code;

-- name: join_left_coalesce_sum
SELECT s.category, coalesce(sum(p.rssi), 0) AS s, count(p.id) AS n FROM mall.shops s
LEFT JOIN mall.probe_events p ON p.shop_code = s.shop_code AND p.id < 50 GROUP BY s.category;

-- name: join_order_limit
SELECT p.id, s.shop_name, p.rssi FROM mall.probe_events p JOIN mall.shops s ON p.shop_code = s.shop_code
ORDER BY p.rssi DESC NULLS LAST, p.id LIMIT 10;

-- name: join_having
SELECT s.shop_name, count(*) AS n FROM mall.probe_events p JOIN mall.shops s ON p.shop_code = s.shop_code
WHERE s.floor = 2 GROUP BY s.shop_name HAVING count(*) > 200;

-- name: join_empty_side
SELECT p.id, s.shop_name FROM mall.probe_events p JOIN mall.shops s ON p.shop_code = s.shop_code WHERE s.floor = 99;

-- name: join_left_empty_right
SELECT s.shop_code, p.id FROM mall.shops s LEFT JOIN mall.probe_events p ON p.shop_code = s.shop_code AND p.id < 0 WHERE s.floor = 5;

-- name: join_expression_key
SELECT d.user_device_mac, d.min_rssi, p.id FROM mall.device_places d
JOIN mall.probe_events p ON p.user_device_mac = d.user_device_mac AND p.rssi = d.min_rssi + 30 WHERE p.id < 5000;

-- name: join_nested_devices
SELECT (d.info).vendor AS vendor, count(*) AS n, avg(p.x) AS ax FROM mall.devices d
JOIN mall.device_places p ON p.user_device_mac = d.mac GROUP BY 1;

-- ---------------------------------------------------------------- nested and timestamptz (mall.devices)
-- name: nested_fields
SELECT id, (info).vendor AS vendor, (info).os.name AS os_name FROM mall.devices WHERE id <= 50;

-- name: nested_group_by
SELECT (info).os.name AS os_name, count(*) AS n FROM mall.devices GROUP BY 1;

-- name: nested_null_field
SELECT count(*) AS n FROM mall.devices WHERE (info).vendor IS NULL;

-- name: nested_geo_filter
SELECT id, (geo).lat AS lat, (geo).lon AS lon FROM mall.devices WHERE (geo).lat > 31.25;

-- name: timestamptz_filter
SELECT id, first_seen FROM mall.devices WHERE first_seen >= TIMESTAMPTZ '2026-08-01 00:00:00+00';

-- name: timestamptz_trunc_month
SELECT date_trunc('month', first_seen) AS m, count(*) AS n FROM mall.devices GROUP BY 1;

-- ---------------------------------------------------------------- no FROM, VALUES
-- name: select_without_from
SELECT 1 + 2 AS three, 'x' || 'y' AS xy, 7 % 3 AS m, CAST(NULL AS integer) IS NULL AS isnull;

-- name: numeric_literals_exact
SELECT 0.1 + 0.2 = 0.3 AS exact, 1.10 * 3 AS m, 10.5 - 0.25 AS d, 2.50 > 2.5 AS gt;

-- name: values_in_from
SELECT k, v FROM (VALUES (1, 'a'), (2, NULL), (3, 'c')) AS t(k, v) WHERE k > 1;

-- ---------------------------------------------------------------- subqueries and CTEs
-- name: subquery_in_from
SELECT category, n FROM (SELECT category, count(*) AS n FROM mall.shops GROUP BY category) t WHERE n > 15;

-- name: subquery_in_from_joined
SELECT s.shop_name, t.n FROM mall.shops s
JOIN (SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code) t ON t.shop_code = s.shop_code
ORDER BY t.n DESC, s.shop_code LIMIT 5;

-- name: cte_basic
WITH busy AS (SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code)
SELECT avg(n) AS a, max(n) AS m, count(*) AS shops FROM busy;

-- name: cte_two_joined
WITH per_shop AS (SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code),
     per_cat AS (SELECT s.category, sum(p.n) AS n FROM per_shop p JOIN mall.shops s ON s.shop_code = p.shop_code GROUP BY s.category)
SELECT category, n FROM per_cat WHERE n > 1000;

-- name: in_subquery
SELECT shop_code, shop_name FROM mall.shops WHERE shop_code IN (SELECT shop_code FROM mall.probe_events WHERE rssi > -42);

-- name: not_in_subquery
SELECT shop_code FROM mall.shops WHERE shop_code NOT IN (SELECT shop_code FROM mall.probe_events WHERE pt = DATE '2026-11-01');

-- name: exists_correlated
SELECT s.shop_code FROM mall.shops s
WHERE EXISTS (SELECT 1 FROM mall.probe_events p WHERE p.shop_code = s.shop_code AND p.rssi IS NULL);

-- name: not_exists_correlated
SELECT s.shop_code FROM mall.shops s
WHERE NOT EXISTS (SELECT 1 FROM mall.probe_events p WHERE p.shop_code = s.shop_code AND p.rssi > -48);

-- name: scalar_subquery_where
SELECT shop_code, floor FROM mall.shops WHERE floor > (SELECT avg(floor) FROM mall.shops);

-- name: scalar_subquery_select
SELECT shop_code, floor - (SELECT min(floor) FROM mall.shops) AS above_lowest FROM mall.shops WHERE floor = 5;

-- name: scalar_subquery_correlated
SELECT s.shop_code, (SELECT count(*) FROM mall.probe_events p WHERE p.shop_code = s.shop_code) AS n
FROM mall.shops s WHERE s.floor = 4;

-- ---------------------------------------------------------------- set operations
-- name: union_all
SELECT shop_code FROM mall.shops WHERE floor = 5 UNION ALL SELECT shop_code FROM mall.shops WHERE category = 'Books';

-- name: union_distinct
SELECT shop_code FROM mall.shops WHERE floor = 5 UNION SELECT shop_code FROM mall.shops WHERE category = 'Books';

-- name: intersect
SELECT shop_code FROM mall.shops WHERE floor = 5 INTERSECT SELECT shop_code FROM mall.probe_events WHERE rssi > -45;

-- name: except
SELECT shop_code FROM mall.shops EXCEPT SELECT shop_code FROM mall.probe_events WHERE pt = DATE '2026-11-03';

-- name: union_order_limit
SELECT shop_code, floor FROM mall.shops WHERE floor = -1
UNION
SELECT shop_code, floor FROM mall.shops WHERE floor = 5
ORDER BY 2, 1 LIMIT 7;

-- ---------------------------------------------------------------- window functions
-- name: window_row_number
SELECT shop_code, floor, row_number() OVER (PARTITION BY floor ORDER BY shop_code) AS rn FROM mall.shops;

-- name: window_rank_over_aggregate
SELECT shop_code, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS r FROM mall.probe_events GROUP BY shop_code;

-- name: window_running_sum
SELECT pt, count(*) AS n, sum(count(*)) OVER (ORDER BY pt) AS running FROM mall.probe_events GROUP BY pt;

-- name: window_lag_lead
SELECT id, rssi, lag(rssi) OVER (ORDER BY id) AS prev, lead(rssi, 2) OVER (ORDER BY id) AS next2
FROM mall.probe_events WHERE id <= 60;

-- name: window_partition_avg
SELECT id, shop_code, rssi, avg(rssi) OVER (PARTITION BY shop_code) AS shop_avg FROM mall.probe_events WHERE id < 300;

-- name: window_dense_rank
SELECT shop_code, floor, dense_rank() OVER (ORDER BY floor DESC) AS dr FROM mall.shops;

-- name: group_by_same_name_two_tables
SELECT a.category AS c1, b.category AS c2, count(*) AS n FROM mall.shops a JOIN mall.shops b ON a.floor = b.floor GROUP BY a.category, b.category ORDER BY n DESC, c1, c2 LIMIT 20;

-- name: or_with_common_join_condition
SELECT count(*) FROM mall.probe_events e, mall.shops s WHERE (e.shop_code = s.shop_code AND s.floor = 1 AND e.rssi > -50) OR (e.shop_code = s.shop_code AND s.floor = 2 AND e.rssi < -90);

-- name: or_same_column_name_different_tables
SELECT count(*) FROM mall.shops a JOIN mall.shops b ON a.floor = b.floor WHERE (a.category = 'Books' AND b.category = 'Toys') OR (a.category = 'Toys' AND b.category = 'Books');

-- name: fold_where_always_false
SELECT count(*) AS n FROM mall.probe_events WHERE 1 = 0;

-- name: fold_where_false_or_column
SELECT count(*) AS n FROM mall.probe_events WHERE false OR rssi IS NULL;

-- name: fold_where_null_condition
SELECT count(*) AS n FROM mall.probe_events WHERE CAST(NULL AS boolean) OR rssi > -40;

-- name: fold_constant_arithmetic_in_filter_and_select
SELECT id, rssi + (2 * 3 - 6) AS r, upper('ab') || 'c' AS tag FROM mall.probe_events WHERE rssi > -100 + 45 AND 1 = 1 ORDER BY id LIMIT 10;

-- name: filter_through_subquery_projection
SELECT r, count(*) AS n FROM (SELECT id, rssi + 1 AS r, shop_code FROM mall.probe_events) t WHERE r > -50 AND shop_code = 'S0003' GROUP BY r ORDER BY r;

-- name: having_on_group_column_and_aggregate
SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code HAVING shop_code IN ('S0001', 'S0002') AND count(*) > 5 ORDER BY shop_code;

-- name: filter_above_union_all_subquery
SELECT count(*) AS n FROM (SELECT shop_code, rssi FROM mall.probe_events UNION ALL SELECT shop_code, floor FROM mall.shops) u WHERE rssi > -45;

-- name: filter_above_limited_subquery_stays_above
SELECT count(*) AS n FROM (SELECT id, rssi FROM mall.probe_events ORDER BY id LIMIT 100) t WHERE rssi > -60;

-- name: filter_above_window_subquery_stays_above
SELECT shop_code, rn FROM (SELECT shop_code, row_number() OVER (ORDER BY shop_code) AS rn FROM mall.shops) t WHERE shop_code > 'S0010' ORDER BY shop_code;

-- name: semi_join_below_inner_join
SELECT count(*) AS n FROM mall.probe_events e JOIN mall.shops s ON e.shop_code = s.shop_code WHERE e.user_device_mac IN (SELECT user_device_mac FROM mall.device_places WHERE min_rssi > -60) AND s.floor <= 2;

-- name: left_join_on_filter_and_where_filter
SELECT s.shop_code, count(e.id) AS n FROM mall.shops s LEFT JOIN mall.probe_events e ON e.shop_code = s.shop_code AND e.rssi > -50 WHERE s.floor > 1 GROUP BY s.shop_code ORDER BY s.shop_code;

-- name: derived_table_unused_columns
SELECT a FROM (SELECT id AS a, rssi, ap_mac, upper(shop_code) AS u FROM mall.probe_events) t WHERE a < 50 ORDER BY a;

-- name: nested_leaf_through_derived_table
SELECT v, count(*) AS n FROM (SELECT info.vendor AS v, geo FROM mall.devices) d WHERE d.geo.lat > 31.2 GROUP BY v ORDER BY v;

-- ---------------------------------------------------------------- rewrite rules: adversarial cases
-- Each targets one rule of planner/rules.go, pushdown.go or prune.go.

-- name: rules_left_join_where_on_padded_side_stays_above
SELECT s.shop_code FROM mall.shops s LEFT JOIN mall.probe_events e ON e.shop_code = s.shop_code AND e.rssi > -31 WHERE e.id IS NULL AND s.floor = 2 ORDER BY s.shop_code;

-- name: rules_right_join_where_on_both_sides
SELECT count(*) AS n, count(e.id) AS matched FROM mall.probe_events e RIGHT JOIN mall.shops s ON e.shop_code = s.shop_code AND e.rssi > -35 WHERE s.floor > 2 AND (e.rssi IS NULL OR e.rssi > -33);

-- name: rules_full_join_where_stays_above
SELECT count(*) AS n, count(a.shop_code) AS na, count(b.shop_code) AS nb FROM (SELECT shop_code, floor FROM mall.shops WHERE floor < 3) a FULL JOIN (SELECT shop_code, floor FROM mall.shops WHERE floor > 1) b ON a.shop_code = b.shop_code WHERE a.floor IS NULL OR b.floor = 2;

-- name: rules_full_join_on_conditions_of_one_side
SELECT count(*) AS n, count(a.shop_code) AS na, count(b.shop_code) AS nb FROM mall.shops a FULL JOIN mall.shops b ON a.shop_code = b.shop_code AND a.floor > 2 AND b.floor < 4;

-- name: rules_where_on_aggregate_of_padded_side
SELECT s.shop_code, t.n FROM mall.shops s LEFT JOIN (SELECT shop_code, count(*) AS n FROM mall.probe_events WHERE rssi > -35 GROUP BY shop_code) t ON t.shop_code = s.shop_code WHERE coalesce(t.n, 0) = 0 AND s.floor = 3 ORDER BY s.shop_code;

-- name: rules_filter_through_distinct
SELECT k, v FROM (SELECT DISTINCT shop_code AS k, rssi AS v FROM mall.probe_events WHERE id < 3000) d WHERE v IS NULL OR (k = 'S0007' AND v > -50) ORDER BY k, v;

-- name: rules_filter_on_group_expression_and_aggregate
SELECT t.g, t.n FROM (SELECT upper(category) AS g, count(*) AS n FROM mall.shops GROUP BY upper(category)) t WHERE t.g LIKE 'B%' OR t.n > 20 ORDER BY t.g;

-- name: rules_not_in_with_null_in_subquery_under_join
SELECT count(*) AS n FROM mall.shops s JOIN mall.probe_events e ON e.shop_code = s.shop_code WHERE e.id < 2000 AND s.floor NOT IN (SELECT CASE WHEN floor = 5 THEN NULL ELSE floor + 1 END FROM mall.shops WHERE category = 'Books');

-- name: rules_not_in_drops_null_tested_values
SELECT count(*) AS n FROM mall.probe_events e WHERE e.id < 5000 AND e.rssi NOT IN (SELECT min_rssi FROM mall.device_places WHERE x < 5);

-- name: rules_not_in_empty_subquery_keeps_null_tested_values
SELECT count(*) AS n, count(e.rssi) AS with_rssi FROM mall.probe_events e WHERE e.id < 5000 AND e.rssi NOT IN (SELECT min_rssi FROM mall.device_places WHERE x < 0);

-- name: rules_semi_join_sinks_to_right_of_inner_join
SELECT count(*) AS n FROM mall.shops s JOIN mall.probe_events e ON e.shop_code = s.shop_code WHERE e.user_device_mac IN (SELECT user_device_mac FROM mall.device_places WHERE x < 40) AND s.floor = 2;

-- name: rules_not_exists_residual_on_outer_side_stays
SELECT count(*) AS n FROM mall.probe_events e WHERE e.id < 5000 AND NOT EXISTS (SELECT 1 FROM mall.shops s WHERE s.shop_code = e.shop_code AND e.rssi > -50);

-- name: rules_not_in_on_padded_side_of_left_join
SELECT count(*) AS n FROM mall.shops s LEFT JOIN (SELECT * FROM mall.probe_events WHERE rssi > -33) e ON e.shop_code = s.shop_code WHERE e.user_device_mac NOT IN (SELECT user_device_mac FROM mall.device_places WHERE x < 100);

-- name: rules_not_in_correlated_max_without_group_by
SELECT count(*) AS n FROM mall.shops s WHERE s.floor NOT IN (SELECT max(x.floor) FROM mall.shops x WHERE x.category = s.category AND x.floor > 4);

-- name: rules_in_correlated_count_without_group_by
SELECT count(*) AS n FROM mall.shops s WHERE 0 IN (SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -31);

-- name: rules_key_filter_on_right_of_inner_join
SELECT s.shop_code, (SELECT count(*) FROM mall.shops x JOIN mall.probe_events e ON e.shop_code = x.shop_code WHERE e.shop_code = s.shop_code AND x.floor > 1) AS n FROM mall.shops s WHERE s.floor < 3;

-- name: rules_key_filter_below_anti_join
SELECT s.shop_code, (SELECT count(*) FROM mall.probe_events e JOIN mall.shops x ON x.shop_code = e.shop_code WHERE x.category = s.category AND e.user_device_mac NOT IN (SELECT user_device_mac FROM mall.device_places WHERE x < 100)) AS n FROM mall.shops s WHERE s.floor = 2;

-- name: rules_key_filter_on_padded_side_of_left_join
SELECT s.shop_code, (SELECT count(x.floor) FROM mall.probe_events e LEFT JOIN mall.shops x ON e.shop_code = x.shop_code AND x.floor > 3 WHERE x.category = s.category) AS n FROM mall.shops s;

-- name: rules_prune_window_over_join
SELECT w.shop_code, w.rn FROM (SELECT s.shop_code, s.category, e.n, row_number() OVER (PARTITION BY s.category ORDER BY e.n DESC, s.shop_code) AS rn FROM mall.shops s JOIN (SELECT shop_code, count(*) AS n FROM mall.probe_events GROUP BY shop_code) e ON e.shop_code = s.shop_code) w WHERE w.rn <= 2 ORDER BY w.shop_code;

-- name: rules_prune_struct_paths_through_derived_table
SELECT (t.o).name AS os, count(*) AS n FROM (SELECT (info).os AS o, geo AS g, id FROM mall.devices) t WHERE (t.g).lat > 31.2 AND (t.o).version IS NOT NULL GROUP BY (t.o).name ORDER BY os;

-- name: rules_prune_struct_correlation_key
SELECT d.id, (SELECT count(*) FROM mall.devices x WHERE (x.info).vendor = (d.info).vendor AND (x.geo).lat > 31.2) AS n FROM mall.devices d WHERE d.id < 40;

-- name: rules_prune_exists_on_struct_fields
SELECT count(*) AS n FROM mall.devices d WHERE d.id < 500 AND EXISTS (SELECT 1 FROM mall.devices x WHERE (x.info).vendor = (d.info).vendor AND (x.geo).lat > (d.geo).lat + 0.05);

-- name: rules_prune_distinct_keeps_every_column
SELECT count(*) AS n FROM (SELECT DISTINCT shop_code, rssi, ap_mac FROM mall.probe_events WHERE id < 5000) t;

-- name: rules_prune_correlated_scalars_in_derived_table
SELECT t.shop_code, t.m FROM (SELECT s.shop_code, s.floor, (SELECT max(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) AS m, (SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) AS n FROM mall.shops s) t WHERE t.n > 250 AND t.floor < 4 ORDER BY t.shop_code;

-- name: rules_correlated_subquery_in_aggregate
SELECT s.floor, sum((SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code)) AS events, count(*) FILTER (WHERE (SELECT max(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) > -31) AS hot FROM mall.shops s GROUP BY s.floor;

-- name: rules_correlated_subquery_in_group_by
SELECT count(*) AS shops FROM mall.shops s GROUP BY (SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -33);

-- name: rules_correlated_subquery_in_window
SELECT s.shop_code, (SELECT min(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) AS lo, rank() OVER (ORDER BY (SELECT max(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code), s.shop_code) AS r FROM mall.shops s;

-- name: rules_correlated_subquery_tested_by_in
SELECT count(*) AS n FROM mall.shops s WHERE (SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -33) IN (SELECT CAST(floor AS bigint) FROM mall.shops) AND EXISTS (SELECT 1 FROM mall.shops x WHERE x.category = s.category AND x.floor > s.floor);

-- name: rules_or_of_two_correlated_subqueries
SELECT count(*) AS n FROM mall.shops s WHERE ((SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) > 100 AND s.floor = 1) OR ((SELECT max(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) > 100 AND s.floor = 2);

-- name: rules_or_of_two_uncorrelated_subqueries
SELECT count(*) AS n FROM mall.shops WHERE (floor > (SELECT min(floor) FROM mall.shops) AND category = 'Books') OR (floor > (SELECT max(floor) FROM mall.shops) AND category = 'Toys');

-- name: rules_order_by_another_correlated_subquery
SELECT s.shop_code, (SELECT count(*) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) AS n FROM mall.shops s ORDER BY (SELECT max(rssi) FROM mall.probe_events e WHERE e.shop_code = s.shop_code) DESC, s.shop_code LIMIT 5;

-- name: rules_fold_null_in_list_and_case
SELECT count(*) AS n FROM mall.probe_events WHERE rssi NOT IN (-40, CAST(NULL AS int)) OR CASE WHEN CAST(NULL AS boolean) THEN false ELSE rssi IS NULL END;

-- name: rules_fold_false_join_condition
SELECT count(*) AS n, count(e.id) AS matched FROM mall.shops s LEFT JOIN mall.probe_events e ON 1 = 0 AND e.shop_code = s.shop_code;

-- name: rules_fold_casts_and_null_arithmetic
SELECT count(*) AS n FROM mall.probe_events WHERE pt = CAST('2026-11-01' AS date) + 1 AND coalesce(rssi + CAST(NULL AS int), -1) = -1 AND shop_code = 'S00' || '07';

-- name: rules_fold_constant_group_key_over_no_rows
SELECT count(*) AS n FROM (SELECT 1 + 1 AS k, count(*) AS c FROM mall.shops WHERE floor > 100 GROUP BY 1) t WHERE k = 2;

-- name: rules_limit_zero_with_offset
SELECT count(*) AS n FROM (SELECT id FROM mall.probe_events ORDER BY id LIMIT 0 OFFSET 5) a, (SELECT id FROM mall.probe_events LIMIT 0) b;

-- name: rules_limit_offset_nested
SELECT id FROM (SELECT id FROM mall.probe_events ORDER BY id LIMIT 20 OFFSET 5) t ORDER BY id DESC LIMIT 3 OFFSET 2;

-- name: rules_limit_all_offset_in_joined_derived_table
SELECT count(*) AS n, min(t.shop_code) AS first FROM (SELECT shop_code FROM mall.shops ORDER BY shop_code LIMIT ALL OFFSET 195) s JOIN mall.shops t ON s.shop_code = t.shop_code;
