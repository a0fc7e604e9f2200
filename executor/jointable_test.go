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
