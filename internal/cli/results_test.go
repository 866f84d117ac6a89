package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

var mixedResults = []api.ServiceResult{
	{Name: "db", Action: "start", Outcome: api.OutcomeOK},
	{Name: "cache", Action: "keep", Outcome: api.OutcomeOK},
	{Name: "queue", Action: "recreate", Outcome: api.OutcomeOK},
	{Name: "api", Action: "start", Outcome: api.OutcomeFailed, Error: "exit status 1"},
	{Name: "search", Action: "start", Outcome: api.OutcomeTimeout, Error: "not ready within 30s"},
	{Name: "web", Action: "start", Outcome: api.OutcomeBlocked, BlockedBy: "api"},
}

func TestWriteResults(t *testing.T) {
	tests := []struct {
		name  string
		rs    []api.ServiceResult
		stop  bool
		quiet bool
		want  string
	}{
		{
			name: "start",
			rs:   mixedResults,
			want: `✔ db      started
= cache   running already
✔ queue   recreated
✖ api     failed: exit status 1
⏱ search  timeout: not ready within 30s
⊘ web     blocked by api
2 started, 1 running already, 1 timed out, 1 failed, 1 blocked
`,
		},
		{
			name:  "quiet: problems only",
			rs:    mixedResults,
			quiet: true,
			want: `✖ api     failed: exit status 1
⏱ search  timeout: not ready within 30s
⊘ web     blocked by api
`,
		},
		{
			name: "all started",
			rs:   []api.ServiceResult{{Name: "db", Action: "start", Outcome: "ok"}, {Name: "api", Action: "start", Outcome: "ok"}},
			want: "✔ db   started\n✔ api  started\n2 started, 0 failed, 0 blocked\n",
		},
		{
			name: "nothing to do",
			want: "0 started, 0 failed, 0 blocked\n",
		},
		{
			name: "stop",
			rs:   []api.ServiceResult{{Name: "web", Action: "stop", Outcome: "ok"}, {Name: "api", Action: "stop", Outcome: "failed", Error: "kill: operation not permitted"}},
			stop: true,
			want: "✔ web  stopped\n✖ api  failed: kill: operation not permitted\n1 stopped, 1 failed\n",
		},
		{
			name: "an outcome of a newer daemon",
			rs:   []api.ServiceResult{{Name: "db", Action: "start", Outcome: "skipped", Error: "disabled"}},
			want: "? db  skipped: disabled\n0 started, 1 failed, 0 blocked\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeResults(&b, palette{}, tc.rs, tc.stop, tc.quiet)
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteResultsColours(t *testing.T) {
	var b strings.Builder
	writeResults(&b, palette{on: true}, mixedResults[3:4], false, true)
	if diff := cmp.Diff(red+"✖"+reset+" api  failed: exit status 1\n", b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResultsError(t *testing.T) {
	ok := api.ServiceResult{Name: "a", Outcome: api.OutcomeOK}
	failed := api.ServiceResult{Name: "b", Outcome: api.OutcomeFailed}
	timeout := api.ServiceResult{Name: "c", Outcome: api.OutcomeTimeout}
	blocked := api.ServiceResult{Name: "d", Outcome: api.OutcomeBlocked}
	unreachable := api.ServiceResult{Name: "u", Outcome: api.OutcomeUnreachable}
	tests := []struct {
		name string
		rs   []api.ServiceResult
		want int
	}{
		{"none", nil, ExitOK},
		{"all ok", []api.ServiceResult{ok, ok}, ExitOK},
		{"failed", []api.ServiceResult{ok, failed}, ExitServiceFailed},
		{"blocked", []api.ServiceResult{blocked}, ExitServiceFailed},
		{"timeout", []api.ServiceResult{ok, timeout}, ExitTimeout},
		{"failed beats timeout, in any order", []api.ServiceResult{failed, timeout}, ExitServiceFailed},
		{"blocked beats timeout", []api.ServiceResult{timeout, blocked}, ExitServiceFailed},
		{"blocked by a timeout is a timeout", []api.ServiceResult{timeout, blockedBy("e", "c"), blockedBy("f", "e")}, ExitTimeout},
		{"blocked by a failure is a failure", []api.ServiceResult{failed, timeout, blockedBy("e", "b")}, ExitServiceFailed},
		{"unreachable beats failed, in any order", []api.ServiceResult{unreachable, failed, timeout}, ExitUnreachable},
		{"failed then unreachable", []api.ServiceResult{failed, unreachable}, ExitUnreachable},
		{"blocked by an unreachable node", []api.ServiceResult{ok, blockedBy("e", "u"), unreachable}, ExitUnreachable},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, exitCode(resultsError(tc.rs))); diff != "" {
			t.Errorf("%s: exit code (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestRestartNames(t *testing.T) {
	stopped := []api.ServiceResult{
		{Name: "web", Action: "stop", Outcome: api.OutcomeOK},
		{Name: "api", Action: "stop", Outcome: api.OutcomeOK},
		{Name: "worker", Action: "stop", Outcome: api.OutcomeFailed},
	}
	if diff := cmp.Diff([]string{"api", "web"}, restartNames([]string{"api"}, stopped)); diff != "" {
		t.Errorf("named (-want +got):\n%s", diff)
	}
	if got := restartNames(nil, stopped); got != nil {
		t.Errorf("none named: %q, want nil (all)", got)
	}
}

func TestStartedNames(t *testing.T) {
	// mixedResults: db started, cache kept, queue recreated, api failed, search timed out,
	// web blocked.
	if diff := cmp.Diff([]string{"db", "queue", "api", "search"}, startedNames(mixedResults)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	kept := []api.ServiceResult{{Name: "db", Action: "keep", Outcome: api.OutcomeOK}}
	if got := startedNames(kept); got != nil {
		t.Errorf("all kept: %q, want none", got)
	}
}

func blockedBy(name, dep string) api.ServiceResult {
	return api.ServiceResult{Name: name, Outcome: api.OutcomeBlocked, BlockedBy: dep}
}
