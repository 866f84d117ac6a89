package registry_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dbPath returns a registry file in a fresh temporary directory.
func dbPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "registry.db")
}

// open opens the registry at path and closes it when the test ends.
func open(t testing.TB, path string, opts registry.Options) *registry.Registry {
	t.Helper()
	r, err := registry.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// started is a fixed start time, so that expected records can be written out.
var started = time.Date(2026, 5, 4, 12, 30, 0, 123456789, time.UTC)

// record returns a running instance's record with every field set.
func record(stack, service string, instance int) registry.Record {
	return registry.Record{
		Key:        registry.Key{Stack: stack, Service: service, Instance: instance},
		Node:       "local",
		Handle:     target.Handle{Target: "process", Node: "local", ID: fmt.Sprintf("%d:1000", 100+instance)},
		State:      lifecycle.Running,
		Health:     lifecycle.HealthHealthy,
		Restarts:   1,
		LastExit:   &target.Exit{Code: 2, At: started.Add(-time.Minute)},
		Endpoints:  []registry.Endpoint{{Network: "loopback", IP: "127.0.0.1", Port: 8080 + instance}},
		ConfigHash: "sha256:abc",
		Message:    "exit status 2",
		StartedAt:  started,
	}
}

// put stores rec and returns it as stored.
func put(t testing.TB, r *registry.Registry, rec registry.Record) registry.Record {
	t.Helper()
	got, err := r.Put(rec)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// list returns the records of stack and the snapshot revision.
func list(t testing.TB, r *registry.Registry, stack string) ([]registry.Record, uint64) {
	t.Helper()
	recs, rev, err := r.List(stack)
	if err != nil {
		t.Fatal(err)
	}
	return recs, rev
}

func TestPutGetList(t *testing.T) {
	r := open(t, dbPath(t), registry.Options{})
	// Inserted out of order: List must sort by stack, service, then instance numerically, and
	// stack "a" must not pick up stack "a-b".
	keys := []registry.Key{
		{Stack: "a", Service: "db", Instance: 10},
		{Stack: "b", Service: "z", Instance: 0},
		{Stack: "a-b", Service: "x", Instance: 0},
		{Stack: "a", Service: "db", Instance: 2},
		{Stack: "a", Service: "api", Instance: 0},
	}
	stored := map[registry.Key]registry.Record{}
	for i, k := range keys {
		rec := record(k.Stack, k.Service, k.Instance)
		got := put(t, r, rec)
		want := rec
		want.Revision = uint64(i + 1)
		want.UpdatedAt = got.UpdatedAt
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Put(%s) (-want +got):\n%s", k, diff)
		}
		stored[k] = got
	}

	type getResult struct {
		Rec   registry.Record
		Found bool
	}
	get := func(k registry.Key) getResult {
		t.Helper()
		rec, found, err := r.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		return getResult{rec, found}
	}
	for _, k := range keys {
		if diff := cmp.Diff(getResult{stored[k], true}, get(k)); diff != "" {
			t.Errorf("Get(%s) (-want +got):\n%s", k, diff)
		}
	}
	missing := registry.Key{Stack: "a", Service: "db", Instance: 3}
	if diff := cmp.Diff(getResult{}, get(missing)); diff != "" {
		t.Errorf("Get(%s) of an absent key (-want +got):\n%s", missing, diff)
	}

	byKey := func(ks ...registry.Key) []registry.Record {
		var recs []registry.Record
		for _, k := range ks {
			recs = append(recs, stored[k])
		}
		return recs
	}
	tests := []struct {
		stack string
		want  []registry.Record
	}{
		{"", byKey(keys[4], keys[3], keys[0], keys[2], keys[1])},
		{"a", byKey(keys[4], keys[3], keys[0])},
		{"a-b", byKey(keys[2])},
		{"c", nil},
	}
	for _, tt := range tests {
		recs, rev := list(t, r, tt.stack)
		if diff := cmp.Diff(tt.want, recs); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tt.stack, diff)
		}
		if diff := cmp.Diff(uint64(len(keys)), rev); diff != "" {
			t.Errorf("List(%q) revision (-want +got):\n%s", tt.stack, diff)
		}
	}
}

func TestInvalidKey(t *testing.T) {
	r := open(t, dbPath(t), registry.Options{})
	tests := []struct {
		key  registry.Key
		want string
	}{
		{registry.Key{Service: "db"}, "put /db/0: invalid key: empty stack"},
		{registry.Key{Stack: "s"}, "put s//0: invalid key: empty service"},
		{registry.Key{Stack: "s\x00t", Service: "db"}, "put s\x00t/db/0: invalid key: a name contains a NUL byte"},
		{registry.Key{Stack: "s", Service: "db", Instance: -1}, "put s/db/-1: invalid key: instance -1 out of range [0, 2147483647]"},
	}
	for _, tt := range tests {
		_, err := r.Put(registry.Record{Key: tt.key})
		got := "<nil>"
		if err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Put(%q) error (-want +got):\n%s", tt.key, diff)
		}
	}
	if diff := cmp.Diff(uint64(0), r.Revision()); diff != "" {
		t.Errorf("revision after rejected puts (-want +got):\n%s", diff)
	}
}

// TestReopen: records and the revision survive Close and Open, and revisions continue.
func TestReopen(t *testing.T) {
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, r, record("shop", "db", 0))
	put(t, r, record("shop", "api", 0))
	put(t, r, record("shop", "api", 1))
	put(t, r, record("blog", "web", 0))
	if _, err := r.Update(registry.Key{Stack: "shop", Service: "db"}, func(rec *registry.Record) error {
		rec.Health = lifecycle.HealthUnhealthy
		rec.Endpoints = append(rec.Endpoints, registry.Endpoint{Network: "mesh", IP: "10.77.0.2", Port: 5432})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(registry.Key{Stack: "shop", Service: "api", Instance: 1}); err != nil {
		t.Fatal(err)
	}
	wantRecs, wantRev := list(t, r, "")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = open(t, path, registry.Options{})
	gotRecs, gotRev := list(t, r, "")
	if diff := cmp.Diff(wantRecs, gotRecs); diff != "" {
		t.Errorf("records after reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{6, 6}, []uint64{gotRev, r.Revision()}); diff != "" {
		t.Errorf("List revision and Revision after reopen (-want +got):\n%s", diff)
	}
	next := put(t, r, record("blog", "web", 1))
	if diff := cmp.Diff(wantRev+1, next.Revision); diff != "" {
		t.Errorf("revision of the first write after reopen (-want +got):\n%s", diff)
	}
}

// TestUpdate: fn sees the current record, or a zero one with Key set; its error aborts without
// consuming a revision.
func TestUpdate(t *testing.T) {
	r := open(t, dbPath(t), registry.Options{})
	k := registry.Key{Stack: "shop", Service: "db"}

	var seen []registry.Record
	got, err := r.Update(k, func(rec *registry.Record) error {
		seen = append(seen, *rec)
		rec.State = lifecycle.Starting
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := registry.Record{Key: k, State: lifecycle.Starting, Revision: 1, UpdatedAt: got.UpdatedAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update of an absent record (-want +got):\n%s", diff)
	}

	errBoom := errors.New("boom")
	_, err = r.Update(k, func(rec *registry.Record) error {
		seen = append(seen, *rec)
		rec.State = lifecycle.Failed
		return errBoom
	})
	if diff := cmp.Diff(errBoom, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Update with a failing fn: error (-want +got):\n%s", diff)
	}
	_, err = r.Update(k, func(rec *registry.Record) error {
		rec.Key.Instance = 1
		return nil
	})
	if diff := cmp.Diff("update shop/db/0: the update changed the key to shop/db/1", fmt.Sprint(err)); diff != "" {
		t.Errorf("Update changing the key: error (-want +got):\n%s", diff)
	}

	cur, _, err := r.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, cur); diff != "" {
		t.Errorf("record after aborted updates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(uint64(1), r.Revision()); diff != "" {
		t.Errorf("revision after aborted updates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]registry.Record{{Key: k}, got}, seen); diff != "" {
		t.Errorf("records fn saw (-want +got):\n%s", diff)
	}
}

// TestUpdateAtomic: concurrent read-modify-writes lose nothing.
func TestUpdateAtomic(t *testing.T) {
	const n = 50
	r := open(t, dbPath(t), registry.Options{})
	k := registry.Key{Stack: "shop", Service: "db"}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = r.Update(k, func(rec *registry.Record) error {
				rec.Restarts++
				return nil
			})
		})
	}
	wg.Wait()
	if diff := cmp.Diff(make([]error, n), errs, cmpopts.EquateErrors()); diff != "" {
		t.Fatalf("Update errors (-want +got):\n%s", diff)
	}
	got, _, err := r.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{n, n}, []uint64{uint64(got.Restarts), got.Revision}); diff != "" {
		t.Errorf("restarts and revision after %d concurrent updates (-want +got):\n%s", n, diff)
	}
}

// TestUpdateAsync: queued writes are applied in queue order, each then is called in that
// order once its write is stored (a reader sees it), and a write queued after Close fails.
func TestUpdateAsync(t *testing.T) {
	const n = 100
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := registry.Key{Stack: "shop", Service: "db"}
	var (
		mu  sync.Mutex
		got []int // Restarts, as each then saw it
		bad []string
	)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		r.UpdateAsync(k, func(rec *registry.Record) error {
			rec.Restarts++
			return nil
		}, func(rec registry.Record, err error) {
			defer wg.Done()
			stored, _, gerr := r.Get(k)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, rec.Restarts)
			if err != nil || gerr != nil || stored.Revision < rec.Revision {
				bad = append(bad, fmt.Sprintf("write %d: err %v, get %v, stored revision %d < %d", rec.Restarts, err, gerr, stored.Revision, rec.Revision))
			}
		})
	}
	wg.Wait()
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order of then (-want +got):\n%s", diff)
	}
	if len(bad) > 0 {
		t.Errorf("then called before its write was stored: %v", bad)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	r.UpdateAsync(k, func(*registry.Record) error { return nil }, func(_ registry.Record, err error) { done <- err })
	if err := <-done; !errors.Is(err, registry.ErrClosed) {
		t.Errorf("UpdateAsync after Close: %v, want ErrClosed", err)
	}
	reopened := open(t, path, registry.Options{})
	if rec, _, err := reopened.Get(k); err != nil || rec.Restarts != n {
		t.Errorf("after reopening: restarts %d, err %v; want %d", rec.Restarts, err, n)
	}
}

// TestDeleteAbsent: deleting an absent record succeeds and writes nothing.
func TestDeleteAbsent(t *testing.T) {
	r := open(t, dbPath(t), registry.Options{})
	put(t, r, record("shop", "db", 0))
	if err := r.Delete(registry.Key{Stack: "shop", Service: "api"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(uint64(1), r.Revision()); diff != "" {
		t.Errorf("revision after deleting an absent record (-want +got):\n%s", diff)
	}
}

// TestOpenLocked: a second opener fails fast, naming the file, and succeeds once it is free.
func TestOpenLocked(t *testing.T) {
	path := dbPath(t)
	first, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = registry.Open(path, registry.Options{LockTimeout: 50 * time.Millisecond})
	if diff := cmp.Diff(registry.ErrLocked, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("second Open: error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("registry "+path+" is locked by another process", fmt.Sprint(err)); diff != "" {
		t.Errorf("second Open: message (-want +got):\n%s", diff)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path, registry.Options{LockTimeout: 50 * time.Millisecond})
}

// TestOpenOtherLayout: a file of another layout version is refused, not misread.
func TestOpenOtherLayout(t *testing.T) {
	path := dbPath(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return meta.Put([]byte("format"), []byte("2"))
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	_, err = registry.Open(path, registry.Options{})
	if diff := cmp.Diff("open registry "+path+`: layout version "2", want "1"`, fmt.Sprint(err)); diff != "" {
		t.Errorf("Open error (-want +got):\n%s", diff)
	}
}
