package scan

import (
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"
)

func TestRowRanges(t *testing.T) {
	r := func(p ...int64) []rowRange {
		var out []rowRange
		for i := 0; i < len(p); i += 2 {
			out = append(out, rowRange{p[i], p[i+1]})
		}
		return out
	}
	tests := []struct {
		a, b, and, or []rowRange
	}{
		{r(0, 10), r(5, 15), r(5, 10), r(0, 15)},
		{r(0, 10), r(10, 20), nil, r(0, 20)},
		{r(0, 5, 10, 15), r(3, 12), r(3, 5, 10, 12), r(0, 15)},
		{r(0, 5, 20, 25), r(6, 8), nil, r(0, 5, 6, 8, 20, 25)},
		{nil, r(1, 2), nil, r(1, 2)},
		{r(0, 100), r(0, 1, 50, 51, 99, 100), r(0, 1, 50, 51, 99, 100), r(0, 100)},
	}
	for _, tt := range tests {
		if got := intersectRanges(tt.a, tt.b); !reflect.DeepEqual(got, tt.and) {
			t.Errorf("%v AND %v = %v, want %v", tt.a, tt.b, got, tt.and)
		}
		if got := unionRanges(tt.a, tt.b); !reflect.DeepEqual(got, tt.or) {
			t.Errorf("%v OR %v = %v, want %v", tt.a, tt.b, got, tt.or)
		}
	}
}

func TestPagesKeptAndPageOf(t *testing.T) {
	locs := []*metadata.PageLocation{{Offset: 100, CompressedPageSize: 10, FirstRowIndex: 0},
		{Offset: 110, CompressedPageSize: 10, FirstRowIndex: 10}, {Offset: 120, CompressedPageSize: 10, FirstRowIndex: 20},
		{Offset: 130, CompressedPageSize: 10, FirstRowIndex: 30}}
	got := pagesKept(locs, []rowRange{{5, 6}, {29, 31}}, 40)
	if want := []bool{true, false, true, true}; !reflect.DeepEqual(got, want) {
		t.Errorf("pages kept %v, want %v", got, want)
	}
	for row, page := range map[int64]int{0: 0, 9: 0, 10: 1, 29: 2, 30: 3, 39: 3} {
		if got := pageOf(locs, row); got != page {
			t.Errorf("row %d in page %d, want %d", row, got, page)
		}
	}
	if !validLocations(locs, 40) || validLocations(locs, 30) || validLocations(locs[1:], 40) {
		t.Errorf("validLocations accepts bad locations or rejects good ones")
	}
}
