package planner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
)

var fuzzSeeds = []string{
	"SELECT 1",
	"SELECT id, rssi FROM probe_events WHERE rssi > -60 AND shop_code LIKE 'S00%' LIMIT 5",
	"SELECT * FROM mall.shops WHERE floor IN (1, 2, NULL) OR opened < '2020-01-01'",
	"SELECT info.vendor, (info).os.name FROM devices WHERE info.os.version IS NULL",
	"SELECT id FROM probe_events WHERE NOT (rssi BETWEEN -80 AND -50) OFFSET 3",
	"SELECT shop_code, count(*), avg(rssi) FROM probe_events GROUP BY shop_code HAVING count(*) > 1 ORDER BY 2 DESC",
	"SELECT p.id, s.shop_name FROM probe_events p JOIN shops s ON p.shop_code = s.shop_code WHERE s.floor = ?",
	"EXPLAIN SELECT id FROM probe_events WHERE pt = $1 AND ap_mac IS NOT NULL",
	"SELECT $$who?$$, E'it\\'s', CAST('2026-11-02' AS date), 1 = 1.0, NULL IS NULL",
	"WITH t AS (SELECT id FROM probe_events WHERE id < 10) SELECT * FROM t UNION SELECT 1",
	"SELECT id FROM devices WHERE mac ILIKE '%a_%' AND first_seen > '2026-01-01 00:00:00+08:00'",
	"SELECT id FROM probe_events WHERE rssi IN (1.5, -60, 3000000000) AND id < 0x10 /* ? */ -- ?",
	"SELECT shop_code FROM shops WHERE shop_code = (SELECT max(shop_code) FROM shops)",
	"SELEC 1",
	// Expressions, also tried inside the templates below.
	"rssi + 1 > id * 2 OR shop_code || 'x' LIKE '%1_'",
	"CASE WHEN rssi IS NULL THEN 'n' ELSE lower(ap_mac) END = coalesce(ap_ip, '')",
	"pt + 1 > '2026-11-01' AND occur_time - interval '1 day' < now()",
}

// fuzzTemplates place fuzz input where an expression goes.
var fuzzTemplates = []string{
	"%s",
	"SELECT %s FROM probe_events",
	"SELECT id FROM devices WHERE %s",
	"SELECT shop_code, count(*) FROM probe_events GROUP BY shop_code HAVING %s",
}

// FuzzPlan plans random SQL text: it must never panic. Errors are fine,
// but each must carry one of the sentinels the server maps to a status
// code. Plans over at most two scans are executed too (on a tiny
// warehouse), on a checked allocator.
func FuzzPlan(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sentinels := []error{ErrSyntax, ErrUnsupported, ErrNoSuchColumn, ErrInvalid, catalog.ErrNoSuchTable, catalog.ErrNoSuchNamespace}
	f.Fuzz(func(t *testing.T, sql string) {
		if len(sql) > 4096 {
			t.Skip()
		}
		for _, tmpl := range fuzzTemplates {
			planAndRun(t, strings.Replace(tmpl, "%s", sql, 1), sentinels)
		}
	})
}

func planAndRun(t *testing.T, sql string, sentinels []error) {
	p := New(tiny.catalog(t), Options{MaxParts: 2, BatchSize: 7, ScanConcurrency: 1})
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	ctx, cancel := context.WithTimeout(executor.WithAllocator(context.Background(), mem), 10*time.Second)
	defer cancel()
	q, err := p.Plan(ctx, Request{SQL: sql})
	if err != nil {
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("Plan(%q): error without a sentinel: %v", sql, err)
		}
		return
	}
	plan := q.Explain()
	if strings.Count(plan, "Scan ") > 2 || len(q.ParamTypes) > 0 {
		return
	}
	for part := 0; part < q.Parts; part++ {
		err := executor.Drain(ctx, q.Operator(part, q.Parts), func(rec arrow.RecordBatch) error {
			if !rec.Schema().Equal(q.Schema) {
				t.Errorf("Plan(%q): batch schema %s, query schema %s", sql, rec.Schema(), q.Schema)
			}
			return nil
		})
		if err != nil {
			t.Logf("execute %q: %v", sql, err)
		}
	}
	mem.AssertSize(t, 0)
}
