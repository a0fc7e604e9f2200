package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/expr"
)

// scopeCol is one column visible to name resolution.
type scopeCol struct {
	src   int      // index of the FROM source it comes from; -1 for derived columns
	quals []string // names that qualify it: alias, table name, namespace.table
	field arrow.Field
}

// scope is the row type an expression is bound against: the columns of the
// FROM clause in order.
type scope struct {
	cols []scopeCol
	// merged are the columns that JOIN ... USING joins on: referenced
	// unqualified, each pair is one column.
	merged []mergedCol
}

// mergedCol is a USING column of a join: left and right index the scope.
type mergedCol struct {
	name        string
	left, right int
	full        bool // FULL JOIN: the value is coalesce(left, right)
	rightWins   bool // RIGHT JOIN: the value is the right column's
}

func (s *scope) schema() *arrow.Schema {
	fields := make([]arrow.Field, len(s.cols))
	for i, c := range s.cols {
		fields[i] = c.field
	}
	return arrow.NewSchema(fields, nil)
}

func (s *scope) hasQualifier(q string) bool {
	for _, c := range s.cols {
		for _, cq := range c.quals {
			if strings.EqualFold(cq, q) {
				return true
			}
		}
	}
	return false
}

func qualifies(c scopeCol, q string) bool {
	for _, cq := range c.quals {
		if strings.EqualFold(cq, q) {
			return true
		}
	}
	return false
}

// lookup finds a top-level column by name among the columns that qual (if
// not empty) qualifies: exact match first, then case-insensitive.
func (s *scope) lookup(qual, name string) ([]int, error) {
	var exact, folded []int
	for i, c := range s.cols {
		if qual != "" && !qualifies(c, qual) {
			continue
		}
		if c.field.Name == name {
			exact = append(exact, i)
		} else if strings.EqualFold(c.field.Name, name) {
			folded = append(folded, i)
		}
	}
	if len(exact) > 0 {
		return exact, nil
	}
	return folded, nil
}

// resolve binds a dotted name: [qualifier.]column[.field...].
func (s *scope) resolve(names []string, loc int32) (*expr.Column, error) {
	var qual string
	rest := names
	// A qualifier may be one name (alias or table) or two (namespace.table).
	for _, n := range []int{2, 1} {
		if len(names) > n {
			q := strings.Join(names[:n], ".")
			if s.hasQualifier(q) {
				if idx, _ := s.lookup(q, names[n]); len(idx) > 0 {
					qual, rest = q, names[n:]
					break
				}
			}
		}
	}
	idx, _ := s.lookup(qual, rest[0])
	if len(idx) == 0 {
		if qual == "" && len(names) > 1 && s.hasQualifier(names[0]) {
			return nil, s.noColumn(names[0]+"."+names[1], loc)
		}
		return nil, s.noColumn(strings.Join(names, "."), loc)
	}
	if len(idx) > 1 {
		var where []string
		for _, i := range idx {
			if len(s.cols[i].quals) > 0 {
				where = append(where, s.cols[i].quals[0]+"."+s.cols[i].field.Name)
			}
		}
		return nil, invalid("column reference %q at position %d is ambiguous (%s)", rest[0], loc+1, strings.Join(where, ", "))
	}
	i := idx[0]
	c := s.cols[i]
	f := c.field
	col := &expr.Column{Index: i, Type: f.Type}
	path := []string{f.Name}
	for _, n := range rest[1:] {
		st, isStruct := f.Type.(*arrow.StructType)
		if !isStruct {
			return nil, invalid("%s is of type %s, not a struct: cannot select field %q", strings.Join(path, "."), f.Type, n)
		}
		j, cf, ok := findField(st.Fields(), n)
		if !ok {
			return nil, fmt.Errorf("%w: %s.%s", ErrNoSuchColumn, strings.Join(path, "."), n)
		}
		col.Path = append(col.Path, j)
		f = cf
		path = append(path, cf.Name)
	}
	col.Type = f.Type
	col.Name = strings.Join(path, ".")
	return col, nil
}

func (s *scope) noColumn(name string, loc int32) error {
	var names []string
	for _, c := range s.cols {
		if !slices.Contains(names, c.field.Name) {
			names = append(names, c.field.Name)
		}
	}
	msg := fmt.Sprintf("%q at position %d", name, loc+1)
	if best := closest(name, names); best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	} else if len(names) > 0 {
		msg += " (columns: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Errorf("%w: %s", ErrNoSuchColumn, msg)
}

// closest returns the candidate nearest to name by edit distance, if near.
func closest(name string, cands []string) string {
	last := name
	if i := strings.LastIndex(name, "."); i >= 0 {
		last = name[i+1:]
	}
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := editDistance(strings.ToLower(last), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(last)/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func findField(fields []arrow.Field, name string) (int, arrow.Field, bool) {
	for i, f := range fields {
		if f.Name == name {
			return i, f, true
		}
	}
	found := -1
	for i, f := range fields {
		if strings.EqualFold(f.Name, name) {
			if found >= 0 {
				return 0, arrow.Field{}, false
			}
			found = i
		}
	}
	if found < 0 {
		return 0, arrow.Field{}, false
	}
	return found, fields[found], true
}
