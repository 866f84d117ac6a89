package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

func TestLogPrinter(t *testing.T) {
	lines := []api.LogLine{
		{Service: "db", Time: now, Stream: "stdout", Text: "ready"},
		{Service: "api", Time: now.Add(1500 * time.Millisecond), Stream: "stderr", Text: "listening on :8080"},
		{Service: "db", Time: now.Add(2 * time.Second), Stream: "stdout", Text: ""},
		{Service: "stranger", Time: now.Add(3 * time.Second), Stream: "harness", Text: "not among the names"},
	}
	tests := []struct {
		name       string
		p          palette
		timestamps bool
		want       string
	}{
		{
			name: "plain",
			want: "db     | ready\n" +
				"api    | listening on :8080\n" +
				"db     | \n" +
				"stranger | not among the names\n",
		},
		{
			name:       "timestamps",
			timestamps: true,
			want: "db     | 2026-11-27T12:00:00.000Z ready\n" +
				"api    | 2026-11-27T12:00:01.500Z listening on :8080\n" +
				"db     | 2026-11-27T12:00:02.000Z \n" +
				"stranger | 2026-11-27T12:00:03.000Z not among the names\n",
		},
		{
			name: "colours per service, in the order of the names",
			p:    palette{on: true},
			want: cyan + "db     |" + reset + " ready\n" +
				green + "api    |" + reset + " listening on :8080\n" +
				cyan + "db     |" + reset + " \n" +
				magenta + "stranger |" + reset + " not among the names\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			lp := newLogPrinter(&b, tc.p, []string{"db", "worker", "api"}, tc.timestamps)
			for _, l := range lines {
				if err := lp.print(l); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "", want: time.Time{}},
		{in: "10m", want: now.Add(-10 * time.Minute)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "0s", want: now},
		{in: "2026-11-27T10:00:00Z", want: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-27T10:00:00.5+01:00", want: time.Date(2026, 11, 27, 9, 0, 0, 500e6, time.UTC)},
		{in: "-10m", wantErr: `invalid --since "-10m": want a duration (10m) or an RFC 3339 time (2026-11-27T10:00:00Z)`},
		{in: "yesterday", wantErr: `invalid --since "yesterday": want a duration (10m) or an RFC 3339 time (2026-11-27T10:00:00Z)`},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if tc.wantErr != "" {
			var usage *usageError
			if err == nil || err.Error() != tc.wantErr || !errors.As(err, &usage) {
				t.Errorf("parseSince(%q) = %v, %v; want usage error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
