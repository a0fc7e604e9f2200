-- Differential corpus over TPC-H (bench/tpch/make_tpch.py; namespace tpch).
--
-- Same format and rules as demo.sql: "-- name: NAME", one statement ending
-- with ";", valid PostgreSQL and DuckDB with the same meaning, total order
-- when ORDER BY is used.
--
-- q01..q22 are the 22 TPC-H queries in their standard form with the
-- validation substitution parameters of the specification (Q11's FRACTION
-- is the SF 1 value 0.0001), in PostgreSQL syntax: interval arithmetic on
-- date literals, extract(year from ...), substring(... from ... for ...),
-- and Q15's view as a CTE.

-- ================================================================ TPC-H
-- name: q01
select
    l_returnflag,
    l_linestatus,
    sum(l_quantity) as sum_qty,
    sum(l_extendedprice) as sum_base_price,
    sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
    avg(l_quantity) as avg_qty,
    avg(l_extendedprice) as avg_price,
    avg(l_discount) as avg_disc,
    count(*) as count_order
from
    tpch.lineitem
where
    l_shipdate <= date '1998-12-01' - interval '90' day
group by
    l_returnflag,
    l_linestatus
order by
    l_returnflag,
    l_linestatus;

-- name: q02
select
    s_acctbal,
    s_name,
    n_name,
    p_partkey,
    p_mfgr,
    s_address,
    s_phone,
    s_comment
from
    tpch.part,
    tpch.supplier,
    tpch.partsupp,
    tpch.nation,
    tpch.region
where
    p_partkey = ps_partkey
    and s_suppkey = ps_suppkey
    and p_size = 15
    and p_type like '%BRASS'
    and s_nationkey = n_nationkey
    and n_regionkey = r_regionkey
    and r_name = 'EUROPE'
    and ps_supplycost = (
        select
            min(ps_supplycost)
        from
            tpch.partsupp,
            tpch.supplier,
            tpch.nation,
            tpch.region
        where
            p_partkey = ps_partkey
            and s_suppkey = ps_suppkey
            and s_nationkey = n_nationkey
            and n_regionkey = r_regionkey
            and r_name = 'EUROPE'
    )
order by
    s_acctbal desc,
    n_name,
    s_name,
    p_partkey
limit 100;

-- name: q03
select
    l_orderkey,
    sum(l_extendedprice * (1 - l_discount)) as revenue,
    o_orderdate,
    o_shippriority
from
    tpch.customer,
    tpch.orders,
    tpch.lineitem
where
    c_mktsegment = 'BUILDING'
    and c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and o_orderdate < date '1995-03-15'
    and l_shipdate > date '1995-03-15'
group by
    l_orderkey,
    o_orderdate,
    o_shippriority
order by
    revenue desc,
    o_orderdate,
    l_orderkey
limit 10;

-- name: q04
select
    o_orderpriority,
    count(*) as order_count
from
    tpch.orders
where
    o_orderdate >= date '1993-07-01'
    and o_orderdate < date '1993-07-01' + interval '3' month
    and exists (
        select
            *
        from
            tpch.lineitem
        where
            l_orderkey = o_orderkey
            and l_commitdate < l_receiptdate
    )
group by
    o_orderpriority
order by
    o_orderpriority;

-- name: q05
select
    n_name,
    sum(l_extendedprice * (1 - l_discount)) as revenue
from
    tpch.customer,
    tpch.orders,
    tpch.lineitem,
    tpch.supplier,
    tpch.nation,
    tpch.region
where
    c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and l_suppkey = s_suppkey
    and c_nationkey = s_nationkey
    and s_nationkey = n_nationkey
    and n_regionkey = r_regionkey
    and r_name = 'ASIA'
    and o_orderdate >= date '1994-01-01'
    and o_orderdate < date '1994-01-01' + interval '1' year
group by
    n_name
order by
    revenue desc,
    n_name;

-- name: q06
select
    sum(l_extendedprice * l_discount) as revenue
from
    tpch.lineitem
where
    l_shipdate >= date '1994-01-01'
    and l_shipdate < date '1994-01-01' + interval '1' year
    and l_discount between 0.06 - 0.01 and 0.06 + 0.01
    and l_quantity < 24;

-- name: q07
select
    supp_nation,
    cust_nation,
    l_year,
    sum(volume) as revenue
from
    (
        select
            n1.n_name as supp_nation,
            n2.n_name as cust_nation,
            extract(year from l_shipdate) as l_year,
            l_extendedprice * (1 - l_discount) as volume
        from
            tpch.supplier,
            tpch.lineitem,
            tpch.orders,
            tpch.customer,
            tpch.nation n1,
            tpch.nation n2
        where
            s_suppkey = l_suppkey
            and o_orderkey = l_orderkey
            and c_custkey = o_custkey
            and s_nationkey = n1.n_nationkey
            and c_nationkey = n2.n_nationkey
            and (
                (n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY')
                or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE')
            )
            and l_shipdate between date '1995-01-01' and date '1996-12-31'
    ) as shipping
group by
    supp_nation,
    cust_nation,
    l_year
order by
    supp_nation,
    cust_nation,
    l_year;

-- name: q08
select
    o_year,
    sum(case
        when nation = 'BRAZIL' then volume
        else 0
    end) / sum(volume) as mkt_share
from
    (
        select
            extract(year from o_orderdate) as o_year,
            l_extendedprice * (1 - l_discount) as volume,
            n2.n_name as nation
        from
            tpch.part,
            tpch.supplier,
            tpch.lineitem,
            tpch.orders,
            tpch.customer,
            tpch.nation n1,
            tpch.nation n2,
            tpch.region
        where
            p_partkey = l_partkey
            and s_suppkey = l_suppkey
            and l_orderkey = o_orderkey
            and o_custkey = c_custkey
            and c_nationkey = n1.n_nationkey
            and n1.n_regionkey = r_regionkey
            and r_name = 'AMERICA'
            and s_nationkey = n2.n_nationkey
            and o_orderdate between date '1995-01-01' and date '1996-12-31'
            and p_type = 'ECONOMY ANODIZED STEEL'
    ) as all_nations
group by
    o_year
order by
    o_year;

-- name: q09
select
    nation,
    o_year,
    sum(amount) as sum_profit
from
    (
        select
            n_name as nation,
            extract(year from o_orderdate) as o_year,
            l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
        from
            tpch.part,
            tpch.supplier,
            tpch.lineitem,
            tpch.partsupp,
            tpch.orders,
            tpch.nation
        where
            s_suppkey = l_suppkey
            and ps_suppkey = l_suppkey
            and ps_partkey = l_partkey
            and p_partkey = l_partkey
            and o_orderkey = l_orderkey
            and s_nationkey = n_nationkey
            and p_name like '%green%'
    ) as profit
group by
    nation,
    o_year
order by
    nation,
    o_year desc;

-- name: q10
select
    c_custkey,
    c_name,
    sum(l_extendedprice * (1 - l_discount)) as revenue,
    c_acctbal,
    n_name,
    c_address,
    c_phone,
    c_comment
from
    tpch.customer,
    tpch.orders,
    tpch.lineitem,
    tpch.nation
where
    c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and o_orderdate >= date '1993-10-01'
    and o_orderdate < date '1993-10-01' + interval '3' month
    and l_returnflag = 'R'
    and c_nationkey = n_nationkey
group by
    c_custkey,
    c_name,
    c_acctbal,
    c_phone,
    n_name,
    c_address,
    c_comment
order by
    revenue desc,
    c_custkey
limit 20;

-- name: q11
select
    ps_partkey,
    sum(ps_supplycost * ps_availqty) as value
from
    tpch.partsupp,
    tpch.supplier,
    tpch.nation
where
    ps_suppkey = s_suppkey
    and s_nationkey = n_nationkey
    and n_name = 'GERMANY'
group by
    ps_partkey having
        sum(ps_supplycost * ps_availqty) > (
            select
                sum(ps_supplycost * ps_availqty) * 0.0001
            from
                tpch.partsupp,
                tpch.supplier,
                tpch.nation
            where
                ps_suppkey = s_suppkey
                and s_nationkey = n_nationkey
                and n_name = 'GERMANY'
        )
order by
    value desc,
    ps_partkey;

-- name: q12
select
    l_shipmode,
    sum(case
        when o_orderpriority = '1-URGENT'
            or o_orderpriority = '2-HIGH'
            then 1
        else 0
    end) as high_line_count,
    sum(case
        when o_orderpriority <> '1-URGENT'
            and o_orderpriority <> '2-HIGH'
            then 1
        else 0
    end) as low_line_count
from
    tpch.orders,
    tpch.lineitem
where
    o_orderkey = l_orderkey
    and l_shipmode in ('MAIL', 'SHIP')
    and l_commitdate < l_receiptdate
    and l_shipdate < l_commitdate
    and l_receiptdate >= date '1994-01-01'
    and l_receiptdate < date '1994-01-01' + interval '1' year
group by
    l_shipmode
order by
    l_shipmode;

-- name: q13
select
    c_count,
    count(*) as custdist
from
    (
        select
            c_custkey,
            count(o_orderkey)
        from
            tpch.customer left outer join tpch.orders on
                c_custkey = o_custkey
                and o_comment not like '%special%requests%'
        group by
            c_custkey
    ) as c_orders (c_custkey, c_count)
group by
    c_count
order by
    custdist desc,
    c_count desc;

-- name: q14
select
    100.00 * sum(case
        when p_type like 'PROMO%'
            then l_extendedprice * (1 - l_discount)
        else 0
    end) / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from
    tpch.lineitem,
    tpch.part
where
    l_partkey = p_partkey
    and l_shipdate >= date '1995-09-01'
    and l_shipdate < date '1995-09-01' + interval '1' month;

-- name: q15
with revenue0 as (
    select
        l_suppkey as supplier_no,
        sum(l_extendedprice * (1 - l_discount)) as total_revenue
    from
        tpch.lineitem
    where
        l_shipdate >= date '1996-01-01'
        and l_shipdate < date '1996-01-01' + interval '3' month
    group by
        l_suppkey
)
select
    s_suppkey,
    s_name,
    s_address,
    s_phone,
    total_revenue
from
    tpch.supplier,
    revenue0
where
    s_suppkey = supplier_no
    and total_revenue = (
        select
            max(total_revenue)
        from
            revenue0
    )
order by
    s_suppkey;

-- name: q16
select
    p_brand,
    p_type,
    p_size,
    count(distinct ps_suppkey) as supplier_cnt
from
    tpch.partsupp,
    tpch.part
where
    p_partkey = ps_partkey
    and p_brand <> 'Brand#45'
    and p_type not like 'MEDIUM POLISHED%'
    and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
    and ps_suppkey not in (
        select
            s_suppkey
        from
            tpch.supplier
        where
            s_comment like '%Customer%Complaints%'
    )
group by
    p_brand,
    p_type,
    p_size
order by
    supplier_cnt desc,
    p_brand,
    p_type,
    p_size;

-- name: q17
select
    sum(l_extendedprice) / 7.0 as avg_yearly
from
    tpch.lineitem,
    tpch.part
where
    p_partkey = l_partkey
    and p_brand = 'Brand#23'
    and p_container = 'MED BOX'
    and l_quantity < (
        select
            0.2 * avg(l_quantity)
        from
            tpch.lineitem
        where
            l_partkey = p_partkey
    );

-- name: q18
select
    c_name,
    c_custkey,
    o_orderkey,
    o_orderdate,
    o_totalprice,
    sum(l_quantity)
from
    tpch.customer,
    tpch.orders,
    tpch.lineitem
where
    o_orderkey in (
        select
            l_orderkey
        from
            tpch.lineitem
        group by
            l_orderkey having
                sum(l_quantity) > 300
    )
    and c_custkey = o_custkey
    and o_orderkey = l_orderkey
group by
    c_name,
    c_custkey,
    o_orderkey,
    o_orderdate,
    o_totalprice
order by
    o_totalprice desc,
    o_orderdate,
    o_orderkey
limit 100;

-- name: q19
select
    sum(l_extendedprice* (1 - l_discount)) as revenue
from
    tpch.lineitem,
    tpch.part
where
    (
        p_partkey = l_partkey
        and p_brand = 'Brand#12'
        and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
        and l_quantity >= 1 and l_quantity <= 1 + 10
        and p_size between 1 and 5
        and l_shipmode in ('AIR', 'AIR REG')
        and l_shipinstruct = 'DELIVER IN PERSON'
    )
    or
    (
        p_partkey = l_partkey
        and p_brand = 'Brand#23'
        and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
        and l_quantity >= 10 and l_quantity <= 10 + 10
        and p_size between 1 and 10
        and l_shipmode in ('AIR', 'AIR REG')
        and l_shipinstruct = 'DELIVER IN PERSON'
    )
    or
    (
        p_partkey = l_partkey
        and p_brand = 'Brand#34'
        and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
        and l_quantity >= 20 and l_quantity <= 20 + 10
        and p_size between 1 and 15
        and l_shipmode in ('AIR', 'AIR REG')
        and l_shipinstruct = 'DELIVER IN PERSON'
    );

-- name: q20
select
    s_name,
    s_address
from
    tpch.supplier,
    tpch.nation
where
    s_suppkey in (
        select
            ps_suppkey
        from
            tpch.partsupp
        where
            ps_partkey in (
                select
                    p_partkey
                from
                    tpch.part
                where
                    p_name like 'forest%'
            )
            and ps_availqty > (
                select
                    0.5 * sum(l_quantity)
                from
                    tpch.lineitem
                where
                    l_partkey = ps_partkey
                    and l_suppkey = ps_suppkey
                    and l_shipdate >= date '1994-01-01'
                    and l_shipdate < date '1994-01-01' + interval '1' year
            )
    )
    and s_nationkey = n_nationkey
    and n_name = 'CANADA'
order by
    s_name;

-- name: q21
select
    s_name,
    count(*) as numwait
from
    tpch.supplier,
    tpch.lineitem l1,
    tpch.orders,
    tpch.nation
where
    s_suppkey = l1.l_suppkey
    and o_orderkey = l1.l_orderkey
    and o_orderstatus = 'F'
    and l1.l_receiptdate > l1.l_commitdate
    and exists (
        select
            *
        from
            tpch.lineitem l2
        where
            l2.l_orderkey = l1.l_orderkey
            and l2.l_suppkey <> l1.l_suppkey
    )
    and not exists (
        select
            *
        from
            tpch.lineitem l3
        where
            l3.l_orderkey = l1.l_orderkey
            and l3.l_suppkey <> l1.l_suppkey
            and l3.l_receiptdate > l3.l_commitdate
    )
    and s_nationkey = n_nationkey
    and n_name = 'SAUDI ARABIA'
group by
    s_name
order by
    numwait desc,
    s_name
limit 100;

-- name: q22
select
    cntrycode,
    count(*) as numcust,
    sum(c_acctbal) as totacctbal
from
    (
        select
            substring(c_phone from 1 for 2) as cntrycode,
            c_acctbal
        from
            tpch.customer
        where
            substring(c_phone from 1 for 2) in
                ('13', '31', '23', '29', '30', '18', '17')
            and c_acctbal > (
                select
                    avg(c_acctbal)
                from
                    tpch.customer
                where
                    c_acctbal > 0.00
                    and substring(c_phone from 1 for 2) in
                        ('13', '31', '23', '29', '30', '18', '17')
            )
            and not exists (
                select
                    *
                from
                    tpch.orders
                where
                    o_custkey = c_custkey
            )
    ) as custsale
group by
    cntrycode
order by
    cntrycode;

-- ================================================================ more over TPC-H data
-- name: t_filter_decimal_eq
SELECT l_orderkey, l_linenumber, l_extendedprice FROM tpch.lineitem WHERE l_discount = 0.05 AND l_quantity > 49;

-- name: t_decimal_arithmetic
SELECT l_orderkey, l_linenumber, l_extendedprice * (1 - l_discount) AS net,
       l_extendedprice * (1 - l_discount) * (1 + l_tax) AS gross, l_quantity - 1 AS q1, l_tax + l_discount AS td
FROM tpch.lineitem WHERE l_orderkey < 100;

-- name: t_decimal_sums_by_flag
SELECT l_returnflag, sum(l_quantity) AS q, sum(l_extendedprice) AS p, avg(l_discount) AS d, count(*) AS n
FROM tpch.lineitem GROUP BY 1;

-- name: t_date_range_count
SELECT count(*) AS n FROM tpch.lineitem WHERE l_shipdate >= DATE '1995-01-01' AND l_shipdate < DATE '1996-01-01';

-- name: t_year_group
SELECT extract(year FROM o_orderdate) AS y, count(*) AS n, sum(o_totalprice) AS total FROM tpch.orders GROUP BY 1;

-- name: t_date_trunc_month
SELECT date_trunc('month', o_orderdate) AS m, count(*) AS n FROM tpch.orders WHERE o_orderdate < DATE '1993-01-01' GROUP BY 1;

-- name: t_date_differences
SELECT l_shipmode, avg(l_receiptdate - l_shipdate) AS transit, max(l_receiptdate - l_commitdate) AS worst_late,
       min(l_commitdate - l_shipdate) AS earliest
FROM tpch.lineitem GROUP BY 1;

-- name: t_like_two_patterns
SELECT p_partkey, p_name, p_type FROM tpch.part WHERE p_name LIKE '%green%' AND p_type LIKE 'PROMO%';

-- name: t_in_list_group
SELECT p_container, count(*) AS n FROM tpch.part WHERE p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') GROUP BY 1;

-- name: t_decimal_literal_arithmetic
SELECT count(*) AS n FROM tpch.lineitem WHERE l_discount = 0.06 - 0.01 OR l_discount = 0.06 + 0.01;

-- name: t_decimal_vs_integer
SELECT count(*) AS n, sum(l_quantity) AS q FROM tpch.lineitem WHERE l_quantity >= 10 AND l_quantity < 12;

-- name: t_between_decimal
SELECT count(*) AS n, sum(l_extendedprice) AS s FROM tpch.lineitem WHERE l_discount BETWEEN 0.05 AND 0.07;

-- name: t_string_functions
SELECT c_custkey, substring(c_phone, 1, 2) AS cc, split_part(c_phone, '-', 2) AS p2, upper(c_mktsegment) AS seg,
       lower(c_name) AS nm, length(c_address) AS alen
FROM tpch.customer WHERE c_custkey < 50;

-- name: t_strpos_position
SELECT p_partkey, p_type, strpos(p_type, 'BRASS') AS b, position('STEEL' IN p_type) AS s FROM tpch.part WHERE p_size = 15;

-- name: t_starts_with_count
SELECT count(*) AS n FROM tpch.part WHERE starts_with(p_type, 'STANDARD');

-- name: t_replace_trim_concat
SELECT s_suppkey, replace(s_name, 'Supplier#', 'S') AS short, trim(s_address) AS addr, s_name || ' / ' || s_phone AS label
FROM tpch.supplier WHERE s_suppkey <= 20;

-- name: t_case_buckets
SELECT CASE WHEN o_totalprice < 50000 THEN 'small' WHEN o_totalprice < 200000 THEN 'medium' ELSE 'large' END AS bucket,
       count(*) AS n, sum(o_totalprice) AS total
FROM tpch.orders GROUP BY 1;

-- name: t_join_nation_region
SELECT n_name, r_name FROM tpch.nation JOIN tpch.region ON n_regionkey = r_regionkey;

-- name: t_join_revenue_by_nation
SELECT n_name, count(DISTINCT o_orderkey) AS orders, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM tpch.customer
JOIN tpch.orders ON o_custkey = c_custkey
JOIN tpch.lineitem ON l_orderkey = o_orderkey
JOIN tpch.nation ON n_nationkey = c_nationkey
WHERE o_orderdate >= DATE '1996-01-01'
GROUP BY n_name;

-- name: t_left_join_no_orders
SELECT c_custkey, count(o_orderkey) AS n FROM tpch.customer LEFT JOIN tpch.orders ON c_custkey = o_custkey
GROUP BY c_custkey HAVING count(o_orderkey) = 0;

-- name: t_right_join_counts
SELECT count(*) AS n, count(o_orderkey) AS matched, count(DISTINCT c_custkey) AS customers
FROM tpch.orders RIGHT JOIN tpch.customer ON o_custkey = c_custkey AND o_orderstatus = 'P';

-- name: t_full_join_counts
SELECT count(*) AS n, count(n_nationkey) AS nations, count(s_suppkey) AS suppliers
FROM tpch.nation FULL JOIN tpch.supplier ON s_nationkey = n_nationkey AND s_acctbal > 9000;

-- name: t_full_join_rows
SELECT n_name, s_name, s_acctbal FROM tpch.nation FULL JOIN tpch.supplier ON s_nationkey = n_nationkey AND s_acctbal > 9500;

-- name: t_multi_key_join
SELECT count(*) AS n, sum(ps_supplycost * l_quantity) AS cost FROM tpch.lineitem
JOIN tpch.partsupp ON ps_partkey = l_partkey AND ps_suppkey = l_suppkey;

-- name: t_count_distinct_keys
SELECT count(DISTINCT l_orderkey) AS o, count(DISTINCT l_partkey) AS p, count(DISTINCT l_suppkey) AS s FROM tpch.lineitem;

-- name: t_min_max_dates
SELECT min(l_shipdate) AS s0, max(l_shipdate) AS s1, min(l_commitdate) AS c0, max(l_receiptdate) AS r1 FROM tpch.lineitem;

-- name: t_stddev_decimal
SELECT l_shipmode, stddev(l_quantity) AS sq, variance(l_extendedprice) AS ve, stddev_pop(l_discount) AS sd FROM tpch.lineitem GROUP BY 1;

-- name: t_bool_aggregates
SELECT o_orderpriority, bool_and(o_totalprice > 1000) AS all_big, bool_or(o_orderstatus = 'P') AS any_pending FROM tpch.orders GROUP BY 1;

-- name: t_round_decimal
SELECT l_returnflag, round(sum(l_extendedprice) / 3, 2) AS third, round(sum(l_tax), 1) AS tax FROM tpch.lineitem GROUP BY 1;

-- name: t_order_limit
SELECT o_orderkey, o_totalprice FROM tpch.orders ORDER BY o_totalprice DESC, o_orderkey LIMIT 10;

-- name: t_order_offset
SELECT c_custkey, c_acctbal FROM tpch.customer ORDER BY c_acctbal, c_custkey LIMIT 5 OFFSET 100;

-- name: t_distinct_pairs
SELECT DISTINCT l_shipmode, l_shipinstruct FROM tpch.lineitem;

-- name: t_having_sum
SELECT l_orderkey, sum(l_quantity) AS q FROM tpch.lineitem GROUP BY l_orderkey HAVING sum(l_quantity) > 250;

-- name: t_group_year_flag
SELECT extract(year FROM l_shipdate) AS y, l_returnflag, sum(l_extendedprice * l_discount) AS disc FROM tpch.lineitem GROUP BY 1, 2;

-- name: t_empty_join
SELECT c_name, o_orderkey FROM tpch.customer JOIN tpch.orders ON c_custkey = o_custkey WHERE o_totalprice < 0;

-- name: t_empty_aggregate
SELECT sum(l_quantity) AS q, count(*) AS n, max(l_shipdate) AS d, avg(l_discount) AS a FROM tpch.lineitem WHERE l_shipdate > DATE '2000-01-01';

-- name: t_math_functions
SELECT p_partkey, abs(p_retailprice - 1500) AS a, floor(p_retailprice) AS f, ceil(p_retailprice) AS c, mod(p_size, 7) AS m,
       power(p_size, 2) AS p2, sqrt(p_size) AS sq, ln(p_retailprice) AS l
FROM tpch.part WHERE p_partkey <= 30;

-- name: t_decimal_division
SELECT o_orderpriority, sum(o_totalprice) / count(*) AS mean_price FROM tpch.orders GROUP BY 1;

-- name: t_cast_double_sum
SELECT l_linestatus, sum(CAST(l_extendedprice AS double precision)) AS s FROM tpch.lineitem GROUP BY 1;

-- name: t_left_join_nulls_ordered
SELECT c_custkey, o_orderkey, o_totalprice FROM tpch.customer
LEFT JOIN tpch.orders ON o_custkey = c_custkey AND o_totalprice > 300000
WHERE c_custkey < 40 ORDER BY c_custkey, o_orderkey NULLS FIRST;

-- name: t_partsupp_availability
SELECT ps_suppkey, count(*) AS parts, sum(ps_availqty) AS qty, min(ps_supplycost) AS lo, max(ps_supplycost) AS hi
FROM tpch.partsupp GROUP BY ps_suppkey HAVING sum(ps_availqty) > 400000;

-- name: t_shipdate_pruned_range
SELECT l_shipdate, count(*) AS n FROM tpch.lineitem WHERE l_shipdate BETWEEN DATE '1993-06-28' AND DATE '1993-07-03' GROUP BY 1;

-- name: t_year_boundary
SELECT extract(year FROM l_shipdate) AS y, count(*) AS n FROM tpch.lineitem
WHERE l_shipdate >= DATE '1994-12-30' AND l_shipdate <= DATE '1995-01-02' GROUP BY 1;

-- name: t_subquery_in
SELECT count(*) AS n FROM tpch.orders WHERE o_custkey IN (SELECT c_custkey FROM tpch.customer WHERE c_mktsegment = 'BUILDING');

-- name: t_cte_top_customers
WITH spend AS (SELECT o_custkey, sum(o_totalprice) AS total FROM tpch.orders GROUP BY o_custkey)
SELECT c_name, total FROM spend JOIN tpch.customer ON c_custkey = o_custkey ORDER BY total DESC, c_name LIMIT 5;

-- name: t_window_rank_suppliers
SELECT n_name, s_name, s_acctbal, rank() OVER (PARTITION BY n_name ORDER BY s_acctbal DESC) AS r
FROM tpch.supplier JOIN tpch.nation ON s_nationkey = n_nationkey;

-- name: t_union_nations
SELECT n_name FROM tpch.nation WHERE n_regionkey = 1 UNION SELECT n_name FROM tpch.nation WHERE n_name LIKE 'A%';

-- name: t_except_nations
SELECT c_nationkey FROM tpch.customer EXCEPT SELECT s_nationkey FROM tpch.supplier WHERE s_acctbal > 7000;

-- name: t_scalar_subquery
SELECT count(*) AS n FROM tpch.part WHERE p_retailprice > (SELECT avg(p_retailprice) FROM tpch.part);

-- name: t_interval_arith
SELECT count(*) AS n FROM tpch.lineitem WHERE l_receiptdate > l_shipdate + INTERVAL '20' DAY;

-- name: t_corr_count_empty_group
SELECT count(*) AS n FROM tpch.nation n WHERE 0 = (SELECT count(*) FROM tpch.supplier s WHERE s.s_nationkey = n.n_nationkey AND s.s_acctbal > 9990);

-- name: t_corr_coalesce_sum_select_list
SELECT n_name, (SELECT coalesce(sum(s_acctbal), 0) FROM tpch.supplier s WHERE s.s_nationkey = n.n_nationkey AND s.s_acctbal > 9990) AS top FROM tpch.nation n;

-- name: t_corr_max_no_rows_is_null
SELECT n_name, (SELECT max(s_acctbal) FROM tpch.supplier s WHERE s.s_nationkey = n.n_nationkey AND s.s_acctbal > 9990) AS top FROM tpch.nation n;

-- name: t_corr_count_in_select_list
SELECT r_name, (SELECT count(*) FROM tpch.nation n WHERE n.n_regionkey = r.r_regionkey AND n.n_name LIKE 'A%') AS a_nations FROM tpch.region r;

-- name: t_window_sum_decimal
SELECT s_suppkey, sum(s_acctbal) OVER (PARTITION BY s_nationkey) AS nation_total FROM tpch.supplier WHERE s_suppkey < 50;

-- name: t_window_max_text
SELECT n_nationkey, max(n_name) OVER (PARTITION BY n_regionkey) AS last_name, min(n_name) OVER (PARTITION BY n_regionkey ORDER BY n_nationkey) AS first_so_far FROM tpch.nation;

-- name: t_cte_self_join
WITH nat AS (SELECT n_nationkey, n_name, n_regionkey FROM tpch.nation WHERE n_regionkey < 3) SELECT a.n_name AS first, b.n_name AS second FROM nat a JOIN nat b ON a.n_regionkey = b.n_regionkey AND a.n_nationkey < b.n_nationkey;

-- name: t_cte_in_scalar_subquery
WITH rev AS (SELECT o_custkey, sum(o_totalprice) AS total FROM tpch.orders GROUP BY o_custkey) SELECT count(*) AS n, min(total) AS least FROM rev WHERE total > (SELECT avg(total) FROM rev);

-- name: t_not_in_subquery_with_null
SELECT count(*) AS n FROM tpch.nation WHERE n_nationkey NOT IN (SELECT CASE WHEN n_nationkey = 0 THEN NULL ELSE n_nationkey END FROM tpch.nation WHERE n_regionkey = 0);

-- name: t_not_in_empty_subquery_null_value
SELECT count(*) AS n FROM tpch.nation WHERE (CASE WHEN n_nationkey < 5 THEN NULL ELSE n_nationkey END) NOT IN (SELECT n_nationkey FROM tpch.nation WHERE n_regionkey = 99);

-- name: t_not_in_null_value
SELECT count(*) AS n FROM tpch.nation WHERE (CASE WHEN n_nationkey < 5 THEN NULL ELSE n_nationkey END) NOT IN (SELECT n_nationkey FROM tpch.nation WHERE n_regionkey = 0);

-- name: t_cast_int_to_narrow_decimal
SELECT n_name, CAST(n_nationkey AS decimal(5,2)) AS k, CAST(n_regionkey AS numeric(3,1)) * 2 AS r FROM tpch.nation;

-- name: t_not_in_correlated_with_null
SELECT count(*) AS n FROM tpch.nation n WHERE n.n_nationkey NOT IN (SELECT CASE WHEN s.s_suppkey % 7 = 0 THEN NULL ELSE s.s_nationkey END FROM tpch.supplier s WHERE s.s_nationkey = n.n_nationkey AND s.s_suppkey < 40);

-- name: t_not_in_correlated_null_value
SELECT count(*) AS n FROM tpch.nation n WHERE (CASE WHEN n.n_nationkey < 10 THEN NULL ELSE n.n_regionkey END) NOT IN (SELECT r.r_regionkey + 1 FROM tpch.region r WHERE r.r_regionkey = n.n_regionkey);
