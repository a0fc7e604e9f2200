package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/scan"
)

// Time travel clauses after a table name, which PostgreSQL's grammar does
// not have:
//
//	FROM t FOR VERSION AS OF 4083540169725224996   -- a snapshot id
//	FROM t FOR VERSION AS OF 'nightly'             -- a tag or branch
//	FROM t FOR TIMESTAMP AS OF '2026-11-20 08:00:00'
//	FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-20T08:00:00Z'
//	JOIN d FOR SYSTEM_TIME AS OF e.proc_time AS s ON ...  -- processing time
//
// FOR SYSTEM_TIME AS OF followed by a column or function (e.proc_time,
// PROCTIME()) rather than a constant asks, as in Flink, for a lookup join
// at processing time: the dimension as the lookup manager holds it when
// the query runs (its latest snapshot). The expression is not evaluated.
//
// A token-level pass blanks each clause out of the statement (keeping
// every other character at its offset, so positions in errors still point
// at the text the user wrote) and records it under the offset of the table
// name before it, where the parsed tree's RangeVar is.

// asOfClause is one FOR ... AS OF clause.
type asOfClause struct {
	byTime bool   // TIMESTAMP or SYSTEM_TIME; else VERSION
	value  string // the number, or the string literal's contents
	quoted bool   // value was a string literal
	text   string // the clause as written, for errors
	pos    int    // 1-based position of FOR
	// procTime: SYSTEM_TIME AS OF a column or function, a lookup join at
	// processing time; value holds the expression's text.
	procTime bool
}

// sqlToken is a token of the pre-pass: a word, a number, a quoted string or
// identifier, or one punctuation character.
type sqlToken struct {
	start, end int
	kind       byte // 'w' word, 'n' number, 's' string, 'q' quoted identifier, 'p' punctuation
	text       string
}

func tokenize(sql string) []sqlToken { return lexSQL(sql, nil) }

// lexSQL splits sql into tokens, handing the text of each /*+ ... */
// comment (an optimizer hint) to hint when it is set.
func lexSQL(sql string, hint func(string)) []sqlToken {
	var toks []sqlToken
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return toks
			}
			if hint != nil && strings.HasPrefix(sql[i:], "/*+") {
				hint(sql[i+3 : i+2+end])
			}
			i += end + 4
		case c == '$' && (i == 0 || !identByte(sql[i-1])) && isDollarQuote(sql[i:]):
			// A dollar-quoted string: $$...$$ or $tag$...$tag$.
			tag, _ := dollarTag(sql[i:])
			end := len(sql)
			if k := strings.Index(sql[i+len(tag):], tag); k >= 0 {
				end = i + len(tag) + k + len(tag)
			}
			toks = append(toks, sqlToken{start: i, end: end, kind: 'd', text: sql[i:end]})
			i = end
		case c == '\'' || c == '"':
			// E'...' strings escape with backslashes.
			esc := c == '\'' && i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i == 1 || !identByte(sql[i-2]))
			j := i + 1
			for j < len(sql) {
				if esc && sql[j] == '\\' {
					j += 2
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(sql))
			kind := byte('s')
			if c == '"' {
				kind = 'q'
			}
			toks = append(toks, sqlToken{start: i, end: end, kind: kind, text: sql[i:end]})
			i = end
		case unicode.IsSpace(rune(c)):
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.') {
				j++
			}
			toks = append(toks, sqlToken{start: i, end: j, kind: 'n', text: sql[i:j]})
			i = j
		case c == '_' || c >= 0x80 || unicode.IsLetter(rune(c)):
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 0x80 || unicode.IsLetter(rune(sql[j])) || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			toks = append(toks, sqlToken{start: i, end: j, kind: 'w', text: sql[i:j]})
			i = j
		default:
			toks = append(toks, sqlToken{start: i, end: i + 1, kind: 'p', text: sql[i : i+1]})
			i++
		}
	}
	return toks
}

func isDollarQuote(s string) bool { _, ok := dollarTag(s); return ok }

func (t sqlToken) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

func (t sqlToken) ident() bool { return t.kind == 'w' || t.kind == 'q' }

// Words after which a name is a table, not an alias.
var beforeTable = map[string]bool{"from": true, "join": true, "lateral": true, "only": true}

// stripAsOf blanks the FOR ... AS OF clauses out of sql and returns them by
// the offset of the table name each follows.
func stripAsOf(sql string) (string, map[int]asOfClause, error) {
	toks := tokenize(sql)
	var out map[int]asOfClause
	buf := []byte(sql)
	for i := 0; i+3 < len(toks); i++ {
		var kind sqlToken
		var v int
		switch {
		case i+4 < len(toks) && toks[i].is("for") && (toks[i+1].is("version") || toks[i+1].is("timestamp") || toks[i+1].is("system_time")) &&
			toks[i+2].is("as") && toks[i+3].is("of"):
			kind, v = toks[i+1], i+4
		case (toks[i].is("version") || toks[i].is("timestamp")) && toks[i+1].is("as") && toks[i+2].is("of") &&
			inFromList(toks, tableNameBefore(toks, i)):
			// Spark's spelling, without FOR.
			kind, v = toks[i], i+3
		default:
			continue
		}
		c := asOfClause{byTime: !kind.is("version"), pos: toks[i].start + 1}
		if (toks[v].is("timestamp") || toks[v].is("timestamptz")) && v+1 < len(toks) && toks[v+1].kind == 's' {
			v++ // TIMESTAMP '...'
		}
		switch toks[v].kind {
		case 'n':
			c.value = toks[v].text
		case 's':
			c.value, c.quoted = strings.ReplaceAll(toks[v].text[1:len(toks[v].text)-1], "''", "'"), true
		case 'w', 'q':
			if !kind.is("system_time") {
				return "", nil, &SyntaxError{Msg: fmt.Sprintf("%s AS OF needs a number or a quoted value", strings.ToUpper(kind.text)), Pos: toks[v].start + 1}
			}
			// A (dotted) column or a function call: processing time.
			end := v
			for end+2 < len(toks) && toks[end+1].text == "." && toks[end+2].ident() {
				end += 2
			}
			if end+2 < len(toks) && toks[end+1].text == "(" && toks[end+2].text == ")" {
				end += 2
			}
			c.value, c.procTime = sql[toks[v].start:toks[end].end], true
			v = end
		default:
			return "", nil, &SyntaxError{Msg: fmt.Sprintf("%s AS OF needs a number or a quoted value", strings.ToUpper(kind.text)), Pos: toks[v].start + 1}
		}
		c.text = sql[toks[i].start:toks[v].end]
		name := tableNameBefore(toks, i)
		if name < 0 {
			return "", nil, &SyntaxError{Msg: fmt.Sprintf("%s must follow a table name", c.text), Pos: c.pos}
		}
		if out == nil {
			out = map[int]asOfClause{}
		}
		out[toks[name].start] = c
		for k := toks[i].start; k < toks[v].end; k++ {
			if buf[k] != '\n' {
				buf[k] = ' '
			}
		}
		i = v
	}
	return string(buf), out, nil
}

// inFromList reports whether the name starting at toks[name] is where a
// table goes: after FROM, JOIN, LATERAL, ONLY or a comma. (Otherwise
// "version AS of" is a column and its alias.)
func inFromList(toks []sqlToken, name int) bool {
	if name < 1 {
		return false
	}
	prev := toks[name-1]
	return prev.text == "," || prev.kind == 'w' && beforeTable[strings.ToLower(prev.text)]
}

// tableNameBefore finds the token that starts the table name before
// toks[i]: a dotted name, optionally followed by an alias (with or without
// AS). It returns -1 when there is none.
func tableNameBefore(toks []sqlToken, i int) int {
	start := func(j int) int { // start of the dotted name ending at j
		if j < 0 || !toks[j].ident() {
			return -1
		}
		for j >= 2 && toks[j-1].text == "." && toks[j-2].ident() {
			j -= 2
		}
		return j
	}
	s := start(i - 1)
	if s < 0 {
		return -1
	}
	switch {
	case s >= 1 && toks[s-1].is("as"):
		return start(s - 2)
	case s >= 1 && toks[s-1].ident() && !beforeTable[strings.ToLower(toks[s-1].text)]:
		return start(s - 1)
	}
	return s
}

// asOfSnapshot resolves a clause against a table's snapshots.
func asOfSnapshot(tbl *table.Table, key string, c asOfClause, loc *time.Location) (int64, error) {
	if !c.byTime {
		if !c.quoted {
			id, err := strconv.ParseInt(c.value, 10, 64)
			if err != nil {
				return 0, invalid("%s: %q is not a snapshot id", c.text, c.value)
			}
			if tbl.SnapshotByID(id) == nil {
				return 0, fmt.Errorf("%w: table %s has no snapshot %d (%s)", scan.ErrNoSuchSnapshot, key, id, c.text)
			}
			return id, nil
		}
		s := tbl.SnapshotByName(c.value)
		if s == nil {
			return 0, fmt.Errorf("%w: table %s has no tag or branch %q (%s)", scan.ErrNoSuchSnapshot, key, c.value, c.text)
		}
		return s.SnapshotID, nil
	}
	var ms int64
	if c.quoted {
		t, err := parseAsOfTime(c.value, loc)
		if err != nil {
			return 0, invalid("%s: %v", c.text, err)
		}
		ms = t.UnixMilli()
	} else {
		n, err := strconv.ParseInt(c.value, 10, 64)
		if err != nil {
			return 0, invalid("%s: %q is not a timestamp or milliseconds since 1970", c.text, c.value)
		}
		ms = n
	}
	s := tbl.SnapshotAsOf(ms, true)
	if s == nil {
		return 0, fmt.Errorf("%w: table %s has no snapshot at or before %s (%s)", scan.ErrNoSuchSnapshot, key,
			time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), c.text)
	}
	return s.SnapshotID, nil
}

// parseAsOfTime reads a timestamp literal: RFC 3339, or date and time with
// a space, with or without fractions and zone; loc is the zone when none
// is written.
func parseAsOfTime(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (write 2026-11-20 08:00:00, with an optional zone)", s)
}
