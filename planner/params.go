package planner

import (
	"strconv"
	"strings"
)

// numberParams rewrites JDBC/ODBC-style ? placeholders into PostgreSQL's $1,
// $2, ... outside string literals (including E'...' strings with backslash
// escapes and $tag$...$tag$ dollar quotes), quoted identifiers and comments
// (block comments nest, as in PostgreSQL).
func numberParams(sql string) string {
	var out []byte
	n := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			// In E'...' a backslash escapes the next character, a quote
			// included.
			esc := c == '\'' && i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !identByte(sql[i-2]))
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
			if j >= len(sql) {
				j = len(sql) - 1
			}
			out = append(out, sql[i:j+1]...)
			i = j
		case c == '$' && (i == 0 || !identByte(sql[i-1])):
			tag, ok := dollarTag(sql[i:])
			if !ok {
				out = append(out, c)
				continue
			}
			j := len(sql)
			if end := strings.Index(sql[i+len(tag):], tag); end >= 0 {
				j = i + len(tag) + end + len(tag)
			}
			out = append(out, sql[i:j]...)
			i = j - 1
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := i
			for j < len(sql) && sql[j] != '\n' {
				j++
			}
			out = append(out, sql[i:j]...)
			i = j - 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth, j := 0, i
			for j < len(sql) {
				if j+1 < len(sql) && sql[j] == '/' && sql[j+1] == '*' {
					depth++
					j += 2
					continue
				}
				if j+1 < len(sql) && sql[j] == '*' && sql[j+1] == '/' {
					depth--
					j += 2
					if depth == 0 {
						break
					}
					continue
				}
				j++
			}
			out = append(out, sql[i:j]...)
			i = j - 1
		case c == '?':
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
		case isWordStart(c) && (i == 0 || !isWord(sql[i-1])):
			// A bare word. "default" is a reserved word in PostgreSQL, but it
			// is also the default catalog's name: quote it where it
			// qualifies a name (default.ns.table).
			j := i
			for j < len(sql) && isWord(sql[j]) {
				j++
			}
			w := sql[i:j]
			if strings.EqualFold(w, "default") && j < len(sql) && sql[j] == '.' {
				out = append(out, '"')
				out = append(out, strings.ToLower(w)...)
				out = append(out, '"')
			} else {
				out = append(out, w...)
			}
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// identByte reports whether c can continue an identifier.
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// dollarTag returns the opening delimiter of a dollar-quoted string at the
// start of s ($$ or $tag$), if there is one. $1 is a parameter, not a tag.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		case '0' <= c && c <= '9' && j > 1:
		default:
			return "", false
		}
	}
	return "", false
}

func isWordStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isWord(c byte) bool      { return isWordStart(c) || (c >= '0' && c <= '9') || c == '$' }
