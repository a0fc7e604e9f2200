package planner

import "strconv"

// numberParams rewrites JDBC/ODBC-style ? placeholders into PostgreSQL's $1,
// $2, ... outside string literals, quoted identifiers and comments.
func numberParams(sql string) string {
	var out []byte
	n := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
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
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := i
			for j < len(sql) && sql[j] != '\n' {
				j++
			}
			out = append(out, sql[i:j]...)
			i = j - 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := i + 2
			for j+1 < len(sql) && !(sql[j] == '*' && sql[j+1] == '/') {
				j++
			}
			j = min(j+2, len(sql))
			out = append(out, sql[i:j]...)
			i = j - 1
		case c == '?':
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
