package executor

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeflight/lakeflight/expr"
)

// A table large enough for its Bloom filter finds exactly the keys it
// holds, with every duplicate row, and no others.
func TestJoinTableFilterKeepsEveryMatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	key := []expr.Expr{&expr.Column{Index: 0, Name: "k", Type: arrow.PrimitiveTypes.Int64}}
	rng := rand.New(rand.NewPCG(3, 4))
	build := map[int64]int{}
	bb := array.NewInt64Builder(mem)
	for i := 0; i < 3*bloomMinKeys; i++ {
		k := rng.Int64N(1 << 40)
		if i%7 == 0 && i > 0 {
			k = rng.Int64N(1000) // some repeated keys
		}
		build[k]++
		bb.Append(k)
	}
	bb.AppendNull()
	barr := bb.NewArray()
	bb.Release()
	brec := array.NewRecordBatch(schema, []arrow.Array{barr}, int64(barr.Len()))
	barr.Release()
	defer brec.Release()
	table, err := buildJoinTable(ctx, key, brec)
	if err != nil {
		t.Fatal(err)
	}
	if table.filter == nil {
		t.Fatalf("a table of %d keys has no filter", table.keys)
	}
	pb := array.NewInt64Builder(mem)
	want := 0
	for i := 0; i < 50000; i++ {
		var k int64
		switch i % 3 {
		case 0: // a key the table holds
			k = brec.Column(0).(*array.Int64).Value(rng.IntN(int(brec.NumRows()) - 1))
		default:
			k = rng.Int64N(1 << 40)
		}
		want += build[k]
		pb.Append(k)
	}
	parr := pb.NewArray()
	pb.Release()
	prec := array.NewRecordBatch(schema, []arrow.Array{parr}, int64(parr.Len()))
	parr.Release()
	defer prec.Release()
	li, ri, err := table.probe(ctx, key, prec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(li) != want {
		t.Fatalf("probe found %d pairs, want %d", len(li), want)
	}
	for i := range li {
		if p, b := prec.Column(0).(*array.Int64).Value(int(li[i])), brec.Column(0).(*array.Int64).Value(int(ri[i])); p != b {
			t.Fatalf("pair %d joins key %d with key %d", i, p, b)
		}
	}
}

// Two integer keys are packed into one when every build value fits in 32
// bits; probe values that do not fit match nothing, NULLs match nothing,
// and a build side with a wide value falls back to encoded keys.
func TestJoinTablePairKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)
	keys := []expr.Expr{&expr.Column{Index: 0, Name: "a", Type: arrow.PrimitiveTypes.Int64},
		&expr.Column{Index: 1, Name: "b", Type: arrow.PrimitiveTypes.Int32}}
	type pair struct {
		a, b  int64
		nullA bool
		nullB bool
	}
	record := func(ps []pair) arrow.RecordBatch {
		ab, bb := array.NewInt64Builder(mem), array.NewInt32Builder(mem)
		defer ab.Release()
		defer bb.Release()
		for _, p := range ps {
			if p.nullA {
				ab.AppendNull()
			} else {
				ab.Append(p.a)
			}
			if p.nullB {
				bb.AppendNull()
			} else {
				bb.Append(int32(p.b))
			}
		}
		a, b := ab.NewArray(), bb.NewArray()
		defer a.Release()
		defer b.Release()
		return array.NewRecordBatch(schema, []arrow.Array{a, b}, int64(len(ps)))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, wideBuild := range []bool{false, true} {
		var build []pair
		count := map[[2]int64]int{}
		for i := 0; i < 2*bloomMinKeys; i++ {
			p := pair{a: rng.Int64N(1 << 31), b: rng.Int64N(50)}
			switch {
			case i%97 == 0:
				p.nullB = true
			case i%89 == 0:
				p.nullA = true
			default:
				count[[2]int64{p.a, p.b}]++
			}
			build = append(build, p)
		}
		if wideBuild {
			build = append(build, pair{a: 1 << 40, b: 1})
			count[[2]int64{1 << 40, 1}]++
		}
		brec := record(build)
		table, err := buildJoinTable(ctx, keys, brec)
		if err != nil {
			t.Fatal(err)
		}
		if table.pair == wideBuild {
			t.Errorf("wide build value %v: packed pairs = %v", wideBuild, table.pair)
		}
		var probe []pair
		want := 0
		for i := 0; i < 20000; i++ {
			var p pair
			switch i % 4 {
			case 0:
				p = build[rng.IntN(len(build))]
			case 1:
				p = pair{a: -1 - rng.Int64N(10), b: rng.Int64N(50)}
			case 2:
				p = pair{a: 1<<32 + rng.Int64N(10), b: 1}
			default:
				p = pair{a: rng.Int64N(1 << 31), b: rng.Int64N(50)}
			}
			if !p.nullA && !p.nullB {
				want += count[[2]int64{p.a, p.b}]
			}
			probe = append(probe, p)
		}
		probe = append(probe, pair{a: 1 << 40, b: 1})
		want += count[[2]int64{1 << 40, 1}]
		prec := record(probe)
		li, _, err := table.probe(ctx, keys, prec, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(li) != want {
			t.Errorf("wide build value %v: %d pairs, want %d", wideBuild, len(li), want)
		}
		brec.Release()
		prec.Release()
	}
}

// The open-addressing table finds every key it was given, through its
// doublings, and no other.
func TestIntTableGrows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tab := newIntTable(4)
	want := map[int64]int32{}
	for i := 0; i < 100000; i++ {
		k := rng.Int64() - rng.Int64()
		if i%3 == 0 {
			k = int64(i) // dense keys too
		}
		if _, dup := want[k]; dup {
			continue
		}
		want[k] = int32(i)
		tab.add(k, int32(i))
	}
	if tab.n != len(want) || 2*tab.n > len(tab.slots) {
		t.Fatalf("%d keys in %d slots, want %d keys at most half full", tab.n, len(tab.slots), len(want))
	}
	for k, r := range want {
		if got, ok := tab.get(k); !ok || got != r {
			t.Fatalf("key %d: got %d, %v; want %d", k, got, ok, r)
		}
	}
	for i := 0; i < 1000; i++ {
		k := rng.Int64()
		if _, in := want[k]; !in {
			if _, ok := tab.get(k); ok {
				t.Fatalf("found key %d that was never added", k)
			}
		}
	}
}
