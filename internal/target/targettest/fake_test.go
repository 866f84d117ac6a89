package targettest_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFakeConformance(t *testing.T) {
	f := targettest.NewFake()
	var services atomic.Int64
	targettest.Run(t, targettest.Harness{
		New: func(*testing.T) target.Target { return f.Restarted() },
		Spec: func(_ *testing.T, b targettest.Behaviour) target.Spec {
			name := "svc" + strconv.FormatInt(services.Add(1), 10)
			f.SetScript(name, targettest.ScriptFor(b))
			return target.Spec{Service: name, Argv: []string{name}, StopSignal: "SIGTERM"}
		},
		Reused: func(h target.Handle) target.Handle {
			pid, _, _ := strings.Cut(h.ID, ":")
			h.ID = pid + ":2"
			return h
		},
		Alive: f.Alive,
	})
}

var errBoom = errors.New("boom")

func TestFakeScripts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := targettest.NewFake()
		f.SetScript("broken", targettest.Script{StartErr: errBoom})
		f.SetScript("oneshot", targettest.Script{Exits: true, ExitAfter: 5 * time.Second, Exit: target.Exit{Code: 7}})
		f.SetScript("stubborn", targettest.Script{IgnoreStop: true})

		_, err := f.Start(ctx, target.Spec{Service: "broken", Argv: []string{"x"}})
		if diff := cmp.Diff(errBoom, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Start broken (-want +got):\n%s", diff)
		}

		began := time.Now()
		h, err := f.Start(ctx, target.Spec{Service: "oneshot", Argv: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.Wait(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(target.Exit{Code: 7, At: began.Add(5 * time.Second)}, e); diff != "" {
			t.Errorf("Wait oneshot (-want +got):\n%s", diff)
		}

		h, err = f.Start(ctx, target.Spec{Service: "stubborn", Argv: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		began = time.Now()
		if err := f.Stop(ctx, h, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(10*time.Second, time.Since(began)); diff != "" {
			t.Errorf("Stop stubborn took (-want +got):\n%s", diff)
		}
		e, err = f.Wait(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(target.Exit{Code: -1, Signal: "SIGKILL"}, e, cmpopts.IgnoreFields(target.Exit{}, "At")); diff != "" {
			t.Errorf("Wait stubborn (-want +got):\n%s", diff)
		}

		h, err = f.Start(ctx, target.Spec{Service: "plain", Argv: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Exit(h, target.Exit{Code: 2}); err != nil {
			t.Fatal(err)
		}
		st, err := f.Inspect(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&target.Exit{Code: 2, At: time.Now()}, st.Exit); diff != "" {
			t.Errorf("Inspect after Exit (-want +got):\n%s", diff)
		}

		var methods []string
		for _, c := range f.Calls() {
			methods = append(methods, c.Method+" "+c.Service)
		}
		want := []string{"Start broken", "Start oneshot", "Start stubborn", "Stop stubborn", "Start plain"}
		if diff := cmp.Diff(want, methods); diff != "" {
			t.Errorf("Calls (-want +got):\n%s", diff)
		}
	})
}

func TestFakeExec(t *testing.T) {
	ctx := context.Background()
	f := targettest.NewFake()
	f.SetScript("db", targettest.Script{Exec: func(argv []string) (target.ExecResult, error) {
		return target.ExecResult{ExitCode: len(argv), Output: []byte(strings.Join(argv, " "))}, nil
	}})
	h, err := f.Start(ctx, target.Spec{Service: "db", Argv: []string{"db"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Exec(ctx, h, []string{"pg_isready", "-q"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.ExecResult{ExitCode: 2, Output: []byte("pg_isready -q")}, got); diff != "" {
		t.Errorf("Exec (-want +got):\n%s", diff)
	}
	if err := f.Stop(ctx, h, time.Second); err != nil {
		t.Fatal(err)
	}
}
