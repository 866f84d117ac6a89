package registry

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/target"
)

// Key identifies one service instance.
type Key struct {
	Stack   string `json:"stack"`
	Service string `json:"service"`
	// Instance numbers the replicas of a service from 0.
	Instance int `json:"instance"`
}

// String renders the key as STACK/SERVICE/INSTANCE, such as "shop/db/0".
func (k Key) String() string {
	return k.Stack + "/" + k.Service + "/" + strconv.Itoa(k.Instance)
}

// validate reports why k cannot be stored: the key encoding needs non-empty names without
// 0x00 and an instance that fits its ten digits.
func (k Key) validate() error {
	switch {
	case k.Stack == "":
		return errors.New("invalid key: empty stack")
	case k.Service == "":
		return errors.New("invalid key: empty service")
	case strings.IndexByte(k.Stack, 0) >= 0 || strings.IndexByte(k.Service, 0) >= 0:
		return errors.New("invalid key: a name contains a NUL byte")
	case k.Instance < 0 || k.Instance > math.MaxInt32:
		return fmt.Errorf("invalid key: instance %d out of range [0, %d]", k.Instance, math.MaxInt32)
	}
	return nil
}

// bytes is the key of k in the records bucket: STACK 0x00 SERVICE 0x00 INSTANCE, the instance
// as ten zero-padded digits so that bytewise order is numeric order.
func (k Key) bytes() []byte {
	b := make([]byte, 0, len(k.Stack)+len(k.Service)+12)
	b = append(b, k.Stack...)
	b = append(b, 0)
	b = append(b, k.Service...)
	b = append(b, 0)
	return fmt.Appendf(b, "%010d", k.Instance)
}

// stackPrefix is the prefix of the records bucket keys of stack; nil selects every stack.
func stackPrefix(stack string) []byte {
	if stack == "" {
		return nil
	}
	return append([]byte(stack), 0)
}

// Endpoint is an address at which an instance is reachable on one network.
type Endpoint struct {
	// Network names the network the address belongs to, such as "loopback", "bridge", "lan",
	// "mesh".
	Network string `json:"network"`
	IP      string `json:"ip"`
	Port    int    `json:"port"`
}

// Record is what the registry knows about one service instance.
type Record struct {
	Key Key `json:"key"`
	// Node is where the instance runs: "local" or a node name.
	Node string `json:"node"`
	// Handle is the durable identity of the started instance; zero when nothing was started.
	Handle target.Handle    `json:"handle"`
	State  lifecycle.State  `json:"state"`
	Health lifecycle.Health `json:"health"`
	// Restarts counts the restarts by the restart policy.
	Restarts int `json:"restarts"`
	// LastExit is how the instance last ended; nil when it never did.
	LastExit  *target.Exit `json:"last_exit,omitempty"`
	Endpoints []Endpoint   `json:"endpoints,omitempty"`
	// ConfigHash identifies the configuration the instance was started from.
	ConfigHash string `json:"config_hash,omitempty"`
	// Message is the real cause of the last failure, shown by status.
	Message string `json:"message,omitempty"`
	// Release is the package release the instance runs (package services only).
	Release *Release `json:"release,omitempty"`
	// Deploys are the last MaxDeploys deploys and rollbacks of the service, oldest first.
	Deploys   []Deploy  `json:"deploys,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// UpdatedAt is the time of the last change, set by the registry.
	UpdatedAt time.Time `json:"updated_at"`
	// Revision is the revision of the last change to this record, set by the registry.
	Revision uint64 `json:"revision"`
}

// Release is a package release on a node, as an instance runs it.
type Release struct {
	// ID is VERSION-SHA8, its directory under the install path's releases/.
	ID      string `json:"id"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	// Dir is its directory on the node.
	Dir string `json:"dir"`
	// Scripts are the package's scripts present (scripts/setup.sh, start.sh, stop.sh).
	Scripts []string `json:"scripts,omitempty"`
	// Manifest is the package's manifest.yaml.
	Manifest []byte `json:"manifest,omitempty"`
}

// MaxDeploys bounds the deploy history kept in a record.
const MaxDeploys = 20

// Deploy is one deploy (or rollback) of a package service, as it ended.
type Deploy struct {
	At time.Time `json:"at"`
	// Release is the ID of the release deployed; From, the one that ran before (empty: none).
	Release string `json:"release"`
	Version string `json:"version"`
	From    string `json:"from,omitempty"`
	// Rollback: asked for by rollback, not deploy.
	Rollback bool `json:"rollback,omitempty"`
	// Uploaded counts the bytes sent to the node (0: it had the archive).
	Uploaded int64 `json:"uploaded"`
	// Outcome is "ok", "failed" (nothing changed, or no rollback), or "rolled-back" (From
	// runs again).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// AddDeploy appends d to the history of rec, dropping the oldest beyond MaxDeploys.
func (rec *Record) AddDeploy(d Deploy) {
	rec.Deploys = append(rec.Deploys, d)
	if over := len(rec.Deploys) - MaxDeploys; over > 0 {
		rec.Deploys = slices.Clone(rec.Deploys[over:])
	}
}

// clone returns a copy of rec that shares no memory with it. An empty Endpoints becomes nil,
// as it reads back from the store.
func (rec Record) clone() Record {
	if rec.LastExit != nil {
		exit := *rec.LastExit
		rec.LastExit = &exit
	}
	if rec.Release != nil {
		r := *rec.Release
		r.Scripts, r.Manifest = slices.Clone(r.Scripts), slices.Clone(r.Manifest)
		rec.Release = &r
	}
	rec.Deploys = slices.Clone(rec.Deploys)
	if len(rec.Endpoints) == 0 {
		rec.Endpoints = nil
	} else {
		rec.Endpoints = slices.Clone(rec.Endpoints)
	}
	return rec
}

// EventType says what an Event did to its record.
type EventType string

// The event types.
const (
	// EventPut: the record was created or replaced.
	EventPut EventType = "put"
	// EventDelete: the record was deleted.
	EventDelete EventType = "delete"
)

// Event is one change to the registry, as kept in its log and delivered to watchers.
type Event struct {
	// Revision is the event's position in the log; Record.Revision equals it.
	Revision uint64    `json:"revision"`
	Type     EventType `json:"type"`
	// Record is the record after a put, and the record as it was before a delete (with the
	// delete's Revision and UpdatedAt).
	Record Record `json:"record"`
	// At is when the change was made; Record.UpdatedAt equals it.
	At time.Time `json:"at"`
}

// clone returns a copy of ev that shares no memory with it.
func (ev Event) clone() Event {
	ev.Record = ev.Record.clone()
	return ev
}
