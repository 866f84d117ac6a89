package deploy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/deploy"
)

func TestRender(t *testing.T) {
	env := map[string]string{
		"HOST":  "db.internal",
		"PORT":  "5432",
		"EMPTY": "",
		"REF":   "${HOST}", // a value is not rendered again
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "host=${HOST}\nport = ${PORT}\n", want: "host=db.internal\nport = 5432\n"},
		{name: "twice on a line, back to back", in: "${HOST}:${PORT}${PORT}", want: "db.internal:54325432"},
		{name: "default, unset", in: "level=${LOG_LEVEL:-info}", want: "level=info"},
		{name: "default, set but empty", in: "x=${EMPTY:-fallback}", want: "x=fallback"},
		{name: "default, set", in: "port=${PORT:-80}", want: "port=5432"},
		{name: "empty default", in: "[${UNSET:-}]", want: "[]"},
		{name: "default holding :, :-, $ and spaces", in: "${UNSET:-http://a:1/$x y:-z}", want: "http://a:1/$x y:-z"},
		{name: "set but empty, no default", in: "[${EMPTY}]", want: "[]"},
		{name: "escape", in: "$${HOST} and $${UNSET:-x}", want: "${HOST} and ${UNSET:-x}"},
		{name: "escape then a variable", in: "$${HOST}=${HOST}", want: "${HOST}=db.internal"},
		{name: "other $ forms kept", in: "$HOME $1 $host $$ $(pwd) ${HOST}$\nproxy_pass http://$host;\n$", want: "$HOME $1 $host $$ $(pwd) db.internal$\nproxy_pass http://$host;\n$"},
		{name: "value not rendered again", in: "${REF}", want: "${HOST}"},
		{name: "no template", in: "just text\n", want: "just text\n"},
		{name: "empty file", in: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := deploy.Render("config/app.conf", []byte(tc.in), env)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("Render(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	env := map[string]string{"HOST": "db.internal", "EMPTY": ""}
	tests := []struct {
		name string
		in   string
		want string // in the error message, from its start
	}{
		{
			name: "unknown variable, line 3 column 7",
			in:   "# app\nhost=${HOST}\nport: ${PORT}\n",
			want: "config/app.conf:3:7: ${PORT}: PORT is not set",
		},
		{
			// The column counts the template's characters, not what was rendered before it.
			name: "column after a substitution and an escape",
			in:   "${HOST} $${x} ${NOPE}",
			want: "config/app.conf:1:15: ${NOPE}: NOPE is not set",
		},
		{
			// Columns count characters, as config.Pos does.
			name: "column after a multi-byte character",
			in:   "é ${X}",
			want: "config/app.conf:1:3: ${X}: X is not set",
		},
		{
			name: "unterminated at the end",
			in:   "a\nx ${HOST",
			want: "config/app.conf:2:3: ${ without its closing }",
		},
		{
			name: "a newline before the }",
			in:   "ok\n\nurl=${HOST\n}\n",
			want: "config/app.conf:3:5: ${ without its closing }",
		},
		{
			name: "a lone ${ at the end",
			in:   "x${",
			want: "config/app.conf:1:2: ${ without its closing }",
		},
		{
			name: "name starting with a digit",
			in:   "${1X}",
			want: "config/app.conf:1:1: ${1X}: want ${NAME} or ${NAME:-DEFAULT}",
		},
		{
			name: "dotted name",
			in:   "v = ${a.b}",
			want: "config/app.conf:1:5: ${a.b}: want ${NAME} or ${NAME:-DEFAULT}",
		},
		{
			name: "empty name",
			in:   "${}",
			want: "config/app.conf:1:1: ${}: want ${NAME} or ${NAME:-DEFAULT}",
		},
		{
			name: "bad name with a default",
			in:   "${A B:-x}",
			want: "config/app.conf:1:1: ${A B:-x}: want ${NAME} or ${NAME:-DEFAULT}",
		},
		{
			name: "sh's ${NAME-DEFAULT} is not a form",
			in:   "${HOST-x}",
			want: "config/app.conf:1:1: ${HOST-x}: want ${NAME} or ${NAME:-DEFAULT}",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := deploy.Render("config/app.conf", []byte(tc.in), env)
			if err == nil {
				t.Fatalf("Render(%q) = %q, want an error", tc.in, got)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Render(%q) error:\n got %s\nwant %s…", tc.in, err, tc.want)
			}
			if got != nil {
				t.Errorf("Render(%q) returned %q with its error, want nil", tc.in, got)
			}
		})
	}
}
