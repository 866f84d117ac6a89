package logfile_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/logfile"
)

func TestParseLine(t *testing.T) {
	at := time.Date(2026, 11, 28, 1, 2, 3, 123456789, time.UTC)
	tests := []struct {
		in      string
		want    logfile.Line
		wantErr bool
	}{
		{in: "2026-11-28T01:02:03.123456789Z stdout the text\n",
			want: logfile.Line{Time: at, Stream: "stdout", Text: "the text"}},
		{in: "2026-11-28T01:02:03.123456789Z stderr  two  spaces ",
			want: logfile.Line{Time: at, Stream: "stderr", Text: " two  spaces "}},
		{in: "2026-11-28T01:02:03.000000000Z harness \n",
			want: logfile.Line{Time: at.Truncate(time.Second), Stream: "harness", Text: ""}},
		{in: "2026-11-28T01:02:03.123456789Z stdout caf\xc3\xa9 \xff\r",
			want: logfile.Line{Time: at, Stream: "stdout", Text: "caf\xc3\xa9 \xff\r"}},
		{in: "2026-11-28T01:02:03.123456789Z stdout", wantErr: true},        // no space after the stream
		{in: "2026-11-28T01:02:03.123456789Z  text", wantErr: true},         // empty stream
		{in: "2026-11-28T01:02:03.123456Z stdout text", wantErr: true},      // six digits
		{in: "2026-11-28T01:02:03.123456789+00:00 stdout x", wantErr: true}, // not Z
		{in: "2026-13-28T01:02:03.123456789Z stdout text", wantErr: true},   // month 13
		{in: "2026-02-30T01:02:03.123456789Z stdout text", wantErr: true},   // February 30
		{in: "2026-11-28T01:0x:03.123456789Z stdout text", wantErr: true},
		{in: "", wantErr: true},
		{in: "\x00\x00\x00", wantErr: true},
	}
	for _, tt := range tests {
		got, err := logfile.ParseLine([]byte(tt.in))
		if diff := cmp.Diff(tt.wantErr, err != nil); diff != "" {
			t.Errorf("ParseLine(%q) error = %v; want error: %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseLine(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
