package deploy

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Render renders the config template file with env: ${NAME} is the value of NAME,
// ${NAME:-DEFAULT} that value or DEFAULT when NAME is unset or empty, and $${ a literal ${.
// Any other $ is kept as it is ($HOME, $1, nginx's $host), so most files need no escaping.
// A ${NAME} with no value and no default, or a ${ without its }, is an error naming
// FILE:LINE:COL.
func Render(file string, data []byte, env map[string]string) ([]byte, error) {
	var out bytes.Buffer
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '\n':
			line, lineStart = line+1, i+1
		case c == '$' && bytes.HasPrefix(data[i:], []byte("$${")):
			out.WriteString("${")
			i += 3
			continue
		case c == '$' && bytes.HasPrefix(data[i:], []byte("${")):
			at := fmt.Sprintf("%s:%d:%d", file, line, utf8.RuneCount(data[lineStart:i])+1)
			end := bytes.IndexAny(data[i+2:], "}\n")
			if end < 0 || data[i+2+end] != '}' {
				return nil, fmt.Errorf("%s: ${ without its closing }", at)
			}
			expr := string(data[i+2 : i+2+end])
			name, def, hasDef := strings.Cut(expr, ":-")
			if !envName.MatchString(name) {
				return nil, fmt.Errorf("%s: ${%s}: want ${NAME} or ${NAME:-DEFAULT} (write $${ for a literal ${)", at, expr)
			}
			v := env[name]
			switch {
			case v == "" && hasDef:
				v = def
			case v == "" && !hasEnv(env, name):
				return nil, fmt.Errorf("%s: ${%s}: %s is not set (give it in env, or write ${%s:-DEFAULT})", at, expr, name, name)
			}
			out.WriteString(v)
			i += 2 + end + 1
			continue
		}
		out.WriteByte(c)
		i++
	}
	return out.Bytes(), nil
}

func hasEnv(env map[string]string, name string) bool {
	_, ok := env[name]
	return ok
}
