package process

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/target"
)

func TestParseStat(t *testing.T) {
	// The tail of a real /proc/PID/stat, after the command name.
	const tail = " S 1 15785 20960 0 -1 4194304 140 0 0 0 0 0 0 0 20 0 1 0 532355 2990080 383 " +
		"18446744073709551615 94907440029696 94907440047625 140733793686944 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0\n"
	tests := []struct {
		name, stat string
		want       procStat
		wantErr    bool
	}{
		{name: "plain", stat: "15791 (sleep)" + tail, want: procStat{State: 'S', PGRP: 15785, StartTime: 532355}},
		{name: "spaces and parentheses", stat: "15791 (a) (b c)" + tail, want: procStat{State: 'S', PGRP: 15785, StartTime: 532355}},
		{name: "only a parenthesis", stat: "15791 ())" + tail, want: procStat{State: 'S', PGRP: 15785, StartTime: 532355}},
		{name: "a field that looks like the state", stat: "15791 (x) Z 1 2)" + tail, want: procStat{State: 'S', PGRP: 15785, StartTime: 532355}},
		{name: "zombie", stat: "7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n", want: procStat{State: 'Z', PGRP: 7, StartTime: 99}},
		{name: "no parenthesis", stat: "15791 sleep" + tail, wantErr: true},
		{name: "truncated", stat: "15791 (sleep) S 1 15785 20960 0", wantErr: true},
		{name: "long state", stat: "15791 (sleep) SS 1 15785 20960 0 -1 4194304 140 0 0 0 0 0 0 0 20 0 1 0 532355", wantErr: true},
		{name: "bad start time", stat: "15791 (sleep) S 1 15785 20960 0 -1 4194304 140 0 0 0 0 0 0 0 20 0 1 0 x", wantErr: true},
		{name: "bad pgrp", stat: "15791 (sleep) S 1 x 20960 0 -1 4194304 140 0 0 0 0 0 0 0 20 0 1 0 5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.stat))
			if diff := cmp.Diff(tc.wantErr, err != nil); diff != "" {
				t.Fatalf("error %v (-want +got):\n%s", err, diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseStat (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadStatOfThisProcess(t *testing.T) {
	got, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(syscall.Getpgrp(), got.PGRP); diff != "" {
		t.Errorf("PGRP (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(false, got.zombie()); diff != "" {
		t.Errorf("zombie (-want +got):\n%s", diff)
	}
	_, err = readStat(1 << 30) // beyond any pid_max
	if diff := cmp.Diff(errNoProcess, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("readStat of no process (-want +got):\n%s", diff)
	}
}

func TestBootTimeAndStartedAt(t *testing.T) {
	boot, err := readBootTime()
	if err != nil {
		t.Fatal(err)
	}
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// This process started after boot and before now; btime is whole seconds.
	got := startedAt(boot, st.StartTime)
	if got.Before(boot) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("startedAt = %v, want between boot %v and now", got, boot)
	}
}

// TestCommandNameWithParentheses runs a program whose name (its comm in /proc) has spaces
// and parentheses, and checks that its handle works end to end.
func TestCommandNameWithParentheses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prog := filepath.Join(t.TempDir(), "a) (b c")
	src, err := os.Open("/usr/bin/sleep")
	if err != nil {
		t.Skip("no /usr/bin/sleep")
	}
	defer src.Close()
	dst, err := os.OpenFile(prog, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	tg := New(Options{})
	defer tg.Close()
	h, err := tg.Start(ctx, target.Spec{Argv: []string{prog, "60"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(Options{}).Inspect(ctx, h) // a fresh Target reads /proc
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(true, st.Running); diff != "" {
		t.Errorf("Running (-want +got):\n%s", diff)
	}
	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	e, err := tg.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("SIGTERM", e.Signal); diff != "" {
		t.Errorf("Wait: Signal (-want +got):\n%s", diff)
	}
}
