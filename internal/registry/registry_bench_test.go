package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/graph-network-harness/harness/internal/registry"
)

// BenchmarkPut measures one Put: the record, its event and the trim of the oldest event in one
// fsynced transaction, then the hand-off to the watchers. KeepEvents is small so that every
// write trims, as in the steady state of a long-running daemon.
func BenchmarkPut(b *testing.B) {
	for _, watchers := range []int{0, 4} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			r := open(b, dbPath(b), registry.Options{KeepEvents: 100})
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			for range watchers {
				w := watch(ctx, b, r, 0)
				go func() {
					for range w.Events() {
					}
				}()
			}
			recs := benchRecords()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := r.Put(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFloorBoltPut is the floor of BenchmarkPut: a raw bbolt transaction writing one JSON
// record, with no event, no trim and no watchers.
func BenchmarkFloorBoltPut(b *testing.B) {
	db, err := bolt.Open(dbPath(b), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	recs := benchRecords()
	bucket := []byte("records")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := recs[i%len(recs)]
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			v, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			return bk.Put([]byte(rec.Key.String()), v)
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchRecords returns the records of a 20-instance stack.
func benchRecords() []registry.Record {
	recs := make([]registry.Record, 20)
	for i := range recs {
		recs[i] = record("bench", fmt.Sprintf("svc%02d", i/2), i%2)
	}
	return recs
}
