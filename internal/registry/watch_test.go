package registry_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
)

// timeout bounds every wait on a watcher or a writer, so that a hang fails the test instead of
// stalling it. No test measures time.
const timeout = 30 * time.Second

// watch starts a watcher from since.
func watch(ctx context.Context, t testing.TB, r *registry.Registry, since uint64) *registry.Watcher {
	t.Helper()
	w, err := r.Watch(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// collect receives events until one has revision until, or Events closes.
func collect(t testing.TB, w *registry.Watcher, until uint64) []registry.Event {
	t.Helper()
	var got []registry.Event
	deadline := time.After(timeout)
	for len(got) == 0 || got[len(got)-1].Revision < until {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("no event %d after %s; got %d events", until, timeout, len(got))
		}
	}
	return got
}

// drain receives the events left until Events closes, and returns them with Err.
func drain(t testing.TB, w *registry.Watcher) ([]registry.Event, error) {
	t.Helper()
	var got []registry.Event
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return got, w.Err()
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("watcher still open after %s", timeout)
		}
	}
}

// revisions returns the revisions of evs.
func revisions(evs []registry.Event) []uint64 {
	revs := make([]uint64, 0, len(evs))
	for _, ev := range evs {
		revs = append(revs, ev.Revision)
	}
	return revs
}

// seq returns the revisions from, from+1, …, to.
func seq(from, to uint64) []uint64 {
	revs := make([]uint64, 0, to-from+1)
	for rev := from; rev <= to; rev++ {
		revs = append(revs, rev)
	}
	return revs
}

// putEvent is the event a Put that returned rec made.
func putEvent(rec registry.Record) registry.Event {
	return registry.Event{Revision: rec.Revision, Type: registry.EventPut, Record: rec, At: rec.UpdatedAt}
}

// ignoreTimes ignores the times the registry sets, which a test cannot know for a delete.
var ignoreTimes = cmp.Options{
	cmpopts.IgnoreFields(registry.Event{}, "At"),
	cmpopts.IgnoreFields(registry.Record{}, "UpdatedAt"),
}

// writeSome makes one of each kind of change to r and returns the events they must make, with
// the times of the delete left zero.
func writeSome(t testing.TB, r *registry.Registry, stack string) []registry.Event {
	t.Helper()
	var want []registry.Event
	db := put(t, r, record(stack, "db", 0))
	want = append(want, putEvent(db))
	want = append(want, putEvent(put(t, r, record(stack, "api", 0))))
	want = append(want, putEvent(put(t, r, record(stack, "api", 1))))
	updated, err := r.Update(db.Key, func(rec *registry.Record) error {
		rec.State = lifecycle.Stopping
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, putEvent(updated))
	if err := r.Delete(updated.Key); err != nil {
		t.Fatal(err)
	}
	deleted := updated
	deleted.Revision = updated.Revision + 1
	want = append(want, registry.Event{Revision: deleted.Revision, Type: registry.EventDelete, Record: deleted})
	return want
}

// TestWatchResume: a watcher from revision N gets exactly the events after N, live or replayed,
// also across a reopen, and nothing else.
func TestWatchResume(t *testing.T) {
	path := dbPath(t)
	ctx := t.Context()

	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := watch(ctx, t, r, 0)
	want := writeSome(t, r, "shop")
	before := collect(t, live, 5)
	if diff := cmp.Diff(want, before, ignoreTimes); diff != "" {
		t.Errorf("live events before reopen (-want +got):\n%s", diff)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	rest, err := drain(t, live)
	if diff := cmp.Diff(registry.ErrClosed, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("live watcher after Close: error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]registry.Event(nil), rest); diff != "" {
		t.Errorf("live watcher after Close: events (-want +got):\n%s", diff)
	}

	r = open(t, path, registry.Options{})
	live = watch(ctx, t, r, 5)
	// Revisions continue after the reopen: writeSome's events are 6 to 10.
	want = writeSome(t, r, "blog")
	after := collect(t, live, 10)
	if diff := cmp.Diff(want, after, ignoreTimes); diff != "" {
		t.Errorf("live events after reopen (-want +got):\n%s", diff)
	}
	history := append(before, after...)
	for _, ev := range history {
		if diff := cmp.Diff(ev.At, ev.Record.UpdatedAt); diff != "" {
			t.Errorf("event %d: At and Record.UpdatedAt differ (-At +UpdatedAt):\n%s", ev.Revision, diff)
		}
	}

	for since := range uint64(11) {
		ctx, cancel := context.WithCancel(ctx)
		w := watch(ctx, t, r, since)
		var got []registry.Event
		if since < 10 {
			got = collect(t, w, 10)
		}
		cancel()
		rest, err := drain(t, w)
		if diff := cmp.Diff(history[since:], append(got, rest...), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Watch(%d) events (-want +got):\n%s", since, diff)
		}
		if diff := cmp.Diff(nil, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Watch(%d) ended by its ctx: Err (-want +got):\n%s", since, diff)
		}
	}
}

// follow watches r from since until it has seen revision until, resuming after ErrSlow. It
// calls onEvent, when not nil, with every event, and returns the events and how often it
// resumed.
func follow(ctx context.Context, r *registry.Registry, since, until uint64, onEvent func(registry.Event)) ([]registry.Event, int, error) {
	var (
		got     []registry.Event
		resumed int
	)
	for since < until {
		wctx, cancel := context.WithCancel(ctx)
		w, err := r.Watch(wctx, since)
		if err != nil {
			cancel()
			return got, resumed, err
		}
		for ev := range w.Events() {
			got = append(got, ev)
			since = ev.Revision
			if onEvent != nil {
				onEvent(ev)
			}
			if since >= until {
				cancel()
			}
		}
		cancel()
		switch err := w.Err(); {
		case errors.Is(err, registry.ErrSlow):
			resumed++
		case err != nil:
			return got, resumed, err
		case since < until:
			return got, resumed, fmt.Errorf("stopped at revision %d: %w", since, ctx.Err())
		}
	}
	return got, resumed, nil
}

// TestWatchHandOver: watchers started from various revisions while writers write each see a
// gap-free, duplicate-free sequence up to the last revision, whether their events came from the
// log or live, and whether they were cut off and resumed on the way.
func TestWatchHandOver(t *testing.T) {
	for _, buffer := range []int{1, 256} {
		t.Run(fmt.Sprintf("buffer=%d", buffer), func(t *testing.T) {
			const (
				writers  = 4
				writes   = 40
				final    = writers * writes
				watchers = 9
			)
			r := open(t, dbPath(t), registry.Options{WatchBuffer: buffer})
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()

			type result struct {
				since   uint64
				events  []registry.Event
				resumed int
				err     error
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				results []result
			)
			start := func(since uint64) {
				wg.Go(func() {
					evs, resumed, err := follow(ctx, r, since, final, nil)
					mu.Lock()
					defer mu.Unlock()
					results = append(results, result{since, evs, resumed, err})
				})
			}
			// The pacer starts watcher i when it sees revision i*final/watchers+1: at the live
			// edge, halfway back, or from the beginning.
			started := 0
			pacer := func(ev registry.Event) {
				if started == watchers || ev.Revision < uint64(started*final/watchers+1) {
					return
				}
				switch started % 3 {
				case 0:
					start(ev.Revision)
				case 1:
					start(ev.Revision / 2)
				case 2:
					start(0)
				}
				started++
			}
			wg.Go(func() {
				evs, resumed, err := follow(ctx, r, 0, final, pacer)
				mu.Lock()
				defer mu.Unlock()
				results = append(results, result{0, evs, resumed, err})
			})

			errs := make([]error, writers)
			for w := range writers {
				wg.Go(func() {
					for i := range writes {
						rec := record(fmt.Sprintf("stack%d", w), "svc", i%3)
						rec.Restarts = i
						if _, err := r.Put(rec); err != nil {
							errs[w] = err
							return
						}
					}
				})
			}
			wg.Wait()
			if diff := cmp.Diff(make([]error, writers), errs, cmpopts.EquateErrors()); diff != "" {
				t.Fatalf("writer errors (-want +got):\n%s", diff)
			}

			history := collect(t, watch(ctx, t, r, 0), final)
			if diff := cmp.Diff(seq(1, final), revisions(history)); diff != "" {
				t.Fatalf("revisions in the log (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(watchers+1, len(results)); diff != "" {
				t.Errorf("watchers that ran (-want +got):\n%s", diff)
			}
			resumed := 0
			for _, res := range results {
				if diff := cmp.Diff(nil, res.err, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("watcher from %d: error (-want +got):\n%s", res.since, diff)
				}
				if diff := cmp.Diff(history[res.since:], res.events, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("watcher from %d, resumed %d times (-want +got):\n%s", res.since, res.resumed, diff)
				}
				resumed += res.resumed
			}
			t.Logf("%d watchers, %d resumptions after ErrSlow", len(results), resumed)
		})
	}
}

// TestWatchCompacted: the log keeps the last KeepEvents events, also after KeepEvents is
// lowered, and a watch from before them fails with ErrCompacted.
func TestWatchCompacted(t *testing.T) {
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{KeepEvents: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		put(t, r, record("shop", "db", i%2))
	}
	tests := []struct {
		since uint64
		want  error
		revs  []uint64
	}{
		{since: 0, want: registry.ErrCompacted},
		{since: 14, want: registry.ErrCompacted},
		{since: 15, revs: seq(16, 20)},
		{since: 19, revs: seq(20, 20)},
		{since: 20},
		{since: 21, want: registry.ErrFutureRevision},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := r.Watch(ctx, tt.since)
		if diff := cmp.Diff(tt.want, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Watch(%d) error (-want +got):\n%s", tt.since, diff)
		}
		var got []registry.Event
		if w != nil {
			if tt.revs != nil {
				got = collect(t, w, 20)
			}
			cancel()
			rest, _ := drain(t, w)
			got = append(got, rest...)
		}
		cancel()
		if diff := cmp.Diff(tt.revs, revisions(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Watch(%d) revisions (-want +got):\n%s", tt.since, diff)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seq(16, 20), logRevisions(t, path)); diff != "" {
		t.Errorf("revisions in the log file (-want +got):\n%s", diff)
	}

	r, err = registry.Open(path, registry.Options{KeepEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	put(t, r, record("shop", "db", 0))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seq(19, 21), logRevisions(t, path)); diff != "" {
		t.Errorf("revisions in the log file after lowering KeepEvents (-want +got):\n%s", diff)
	}
}

// logRevisions reads the keys of the events bucket of the closed registry file at path.
func logRevisions(t testing.TB, path string) []uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var revs []uint64
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("events")).ForEach(func(k, _ []byte) error {
			revs = append(revs, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return revs
}

// TestWatchCompactedDuringReplay: when writers trim the log past a watcher that is still
// replaying, the watcher ends with ErrCompacted after a gap-free prefix.
func TestWatchCompactedDuringReplay(t *testing.T) {
	const keep = 300 // more than one replay batch
	r := open(t, dbPath(t), registry.Options{KeepEvents: keep, WatchBuffer: 2 * keep})
	for i := range keep {
		put(t, r, record("shop", "db", i%2))
	}
	w := watch(t.Context(), t, r, 0)
	// Nobody reads yet: the replay is stuck at its first batch, or has not read it.
	for i := range keep {
		put(t, r, record("shop", "db", i%2))
	}
	got, err := drain(t, w)
	if diff := cmp.Diff(registry.ErrCompacted, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Err (-want +got):\n%s", diff)
	}
	if len(got) > 0 {
		if diff := cmp.Diff(seq(1, uint64(len(got))), revisions(got)); diff != "" {
			t.Errorf("revisions before the cut (-want +got):\n%s", diff)
		}
	}
}

// TestWatchSlow: a watcher that does not read is cut off with ErrSlow while writers go on
// unblocked, and resuming from the last revision seen yields the rest.
func TestWatchSlow(t *testing.T) {
	const writes = 50
	r := open(t, dbPath(t), registry.Options{WatchBuffer: 4})
	ctx := t.Context()
	slow := watch(ctx, t, r, 0)

	done := make(chan error, 1)
	go func() {
		for i := range writes {
			if _, err := r.Put(record("shop", "db", i%3)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// Nobody reads slow until every write returned: a writer that waited for it would hang.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatalf("writes blocked by a watcher that does not read")
	}

	got, err := drain(t, slow)
	if diff := cmp.Diff(registry.ErrSlow, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Err of the slow watcher (-want +got):\n%s", diff)
	}
	last := uint64(len(got))
	w := watch(ctx, t, r, last)
	got = append(got, collect(t, w, writes)...)
	if diff := cmp.Diff(seq(1, writes), revisions(got)); diff != "" {
		t.Errorf("revisions before the cut-off and after resuming (-want +got):\n%s", diff)
	}
}

// TestCloseEndsWatchers: Close ends live and replaying watchers with ErrClosed, leaves no
// goroutine behind, and every later call fails with ErrClosed.
func TestCloseEndsWatchers(t *testing.T) {
	r, err := registry.Open(dbPath(t), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		put(t, r, record("shop", "db", i))
	}
	ctx := t.Context()
	watchers := []*registry.Watcher{
		watch(ctx, t, r, 10), // live, nobody reads
		watch(ctx, t, r, 0),  // replaying, nobody reads
		watch(ctx, t, r, 3),
	}
	read := make(chan []registry.Event, 1)
	go func() {
		var got []registry.Event
		for ev := range watchers[2].Events() {
			got = append(got, ev)
		}
		read <- got
	}()
	put(t, r, record("shop", "db", 0))

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; len(got) > 0 {
		if diff := cmp.Diff(seq(4, got[len(got)-1].Revision), revisions(got)); diff != "" {
			t.Errorf("events of the reading watcher (-want +got):\n%s", diff)
		}
	}
	var errs []error
	for _, w := range watchers {
		_, err := drain(t, w)
		errs = append(errs, err)
	}
	k := registry.Key{Stack: "shop", Service: "db"}
	_, _, err = r.Get(k)
	errs = append(errs, err)
	_, _, err = r.List("")
	errs = append(errs, err)
	_, err = r.Put(record("shop", "db", 0))
	errs = append(errs, err)
	_, err = r.Update(k, func(*registry.Record) error { return nil })
	errs = append(errs, err)
	errs = append(errs, r.Delete(k))
	_, err = r.Watch(ctx, 0)
	errs = append(errs, err)
	want := []error{
		registry.ErrClosed, registry.ErrClosed, registry.ErrClosed, // the watchers
		registry.ErrClosed, registry.ErrClosed, registry.ErrClosed,
		registry.ErrClosed, registry.ErrClosed, registry.ErrClosed,
	}
	if diff := cmp.Diff(want, errs, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("errors after Close (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(nil, r.Close(), cmpopts.EquateErrors()); diff != "" {
		t.Errorf("second Close: error (-want +got):\n%s", diff)
	}
	goleak.VerifyNone(t)
}
