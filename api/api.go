package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Version is the API version, the first element of every path.
const Version = "v1"

// The endpoints. Requests and responses are JSON, except Logs, which streams one LogLine
// per line (JSON lines, application/x-ndjson) until the request ends; see LogEvent.
const (
	PathStart  = "/v1/start"       // POST StartRequest → StartResponse
	PathStop   = "/v1/stop"        // POST StopRequest → StopResponse
	PathStatus = "/v1/status"      // POST StatusRequest → Status
	PathLogs   = "/v1/logs"        // POST LogsRequest → LogEvent…
	PathExec   = "/v1/exec"        // POST ExecRequest → ExecResponse
	PathHealth = "/v1/health"      // POST HealthRequest → HealthResponse
	PathHosts  = "/v1/hosts"       // POST HostsRequest → HostsResponse
	PathTrust  = "/v1/hosts/trust" // POST TrustRequest → TrustResponse
	PathDeploy = "/v1/deploy"      // POST DeployRequest → DeployResponse
	// PathReleases: POST ReleasesRequest → ReleasesResponse
	PathReleases = "/v1/releases"
	PathNetwork  = "/v1/network" // POST NetworkRequest → NetworkResponse
	// PathRotateKeys: POST NetworkRequest → RotateKeysResponse
	PathRotateKeys = "/v1/network/rotate-keys"
	PathDaemon     = "/v1/daemon" // GET → Daemon
	// PathEvents is the event stream: a WebSocket of Messages (see Message).
	PathEvents = "/v1/events" // GET, upgraded to a WebSocket
	// PathShutdown ends the daemon's supervision; services keep running. POST → Daemon.
	PathShutdown = "/v1/daemon/stop"
)

// SocketName is the name of the daemon's unix socket in its data dir.
const SocketName = "harness.sock"

// Stack names the stack a request is about: its services file, and the environment that
// ${VAR} reads and that processes inherit (the caller's, as NAME=value).
type Stack struct {
	Config  string   `json:"config"`
	Environ []string `json:"environ,omitempty"`
}

// StartRequest starts Services (all when empty) and their dependencies.
type StartRequest struct {
	Stack
	Services []string `json:"services,omitempty"`
	// NoWait returns once the services are launched, without waiting until they are ready.
	NoWait bool `json:"no_wait,omitempty"`
	// Timeout bounds the whole start (0: each service's startup_timeout only).
	Timeout Duration `json:"timeout,omitempty"`
}

// StartResponse says what a start did to each service it planned for, in plan order.
type StartResponse struct {
	Stack    string          `json:"stack"`
	Services []ServiceResult `json:"services"`
}

// StopRequest stops Services (all when empty) and every running service that depends on them.
// Down stops every service and then removes what they leave behind: their containers and the
// stack's networks, and with Volumes its named volumes (Services must then be empty).
type StopRequest struct {
	Stack
	Services []string `json:"services,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
	Down     bool     `json:"down,omitempty"`
	Volumes  bool     `json:"volumes,omitempty"`
}

// StopResponse says what a stop did to each service it planned for, in plan order.
type StopResponse struct {
	Stack    string          `json:"stack"`
	Services []ServiceResult `json:"services"`
}

// ServiceResult is the outcome of a start or stop for one service.
type ServiceResult struct {
	Name string `json:"name"`
	// Action is what the plan did: "start", "recreate", "keep" (already running from the
	// same configuration), "stop".
	Action string `json:"action"`
	// Outcome is "ok", "failed", "timeout" (not ready within its startup_timeout; left
	// running), "blocked" (not started because a dependency failed) or "unreachable" (its
	// node, or the node's agent, could not be reached: connection, host key, login).
	Outcome string `json:"outcome"`
	// Error is the real cause of a failure or timeout; BlockedBy the dependency that failed.
	Error     string `json:"error,omitempty"`
	BlockedBy string `json:"blocked_by,omitempty"`
}

// The outcomes of a ServiceResult.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeTimeout = "timeout"
	OutcomeBlocked = "blocked"
	// OutcomeUnreachable is a failure of the service's node, not of the service.
	OutcomeUnreachable = "unreachable"
)

// StatusRequest asks for the state of Services (all when empty).
type StatusRequest struct {
	Stack
	Services []string `json:"services,omitempty"`
}

// Status is the state of a stack: one row per configured service, in file order. It is
// exactly what `harness status -o json` prints.
type Status struct {
	Stack    string          `json:"stack"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one row of Status.
type ServiceStatus struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Node        string     `json:"node"`
	State       string     `json:"state"`  // stopped, starting, running, stopping, exited, failed, blocked
	Health      string     `json:"health"` // none, starting, healthy, unhealthy
	PID         int        `json:"pid"`
	ContainerID string     `json:"container_id"`
	IP          string     `json:"ip"`
	Ports       []int      `json:"ports"`
	Restarts    int        `json:"restarts"`
	StartedAt   *time.Time `json:"started_at"`
	ExitCode    *int       `json:"exit_code"`
	Version     string     `json:"version"`
	Message     string     `json:"message"`
	// Unreachable is why the service's node does not answer; the row then shows the state
	// last known. Empty when the node answers.
	Unreachable string `json:"unreachable,omitempty"`
}

// HostsRequest asks for the remote nodes of a stack (Nodes: all when empty), each contacted
// now. Nothing is installed or started on them.
type HostsRequest struct {
	Stack
	Nodes []string `json:"nodes,omitempty"`
}

// HostsResponse is one Host per node asked for, in file order.
type HostsResponse struct {
	Stack string `json:"stack"`
	Hosts []Host `json:"hosts"`
}

// Host is what a remote node said when it was contacted.
type Host struct {
	Name    string `json:"name"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	User    string `json:"user"`
	Network string `json:"network"`
	// Reachable: its sshd answered and let harness in. Error says why not.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// RTT is the round trip of an SSH request on the open connection.
	RTT Duration `json:"rtt,omitempty"`
	// OS is the node's `uname -sm`.
	OS string `json:"os,omitempty"`
	// Agent is the harness agent that runs there; nil when none answers.
	Agent *HostAgent `json:"agent,omitempty"`
}

// HostAgent is the harness agent of a node.
type HostAgent struct {
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Current: the agent runs this daemon's own binary (else the next use replaces it).
	Current bool `json:"current"`
}

// TrustRequest asks for the host key that Node offers; with Fingerprint, the key is recorded
// in the stack's known_hosts file if it still has that fingerprint (CodeConflict otherwise).
type TrustRequest struct {
	Stack
	Node        string `json:"node"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// TrustResponse is the key a node offers, and whether it was recorded.
type TrustResponse struct {
	Node        string `json:"node"`
	Host        string `json:"host"` // host:port, as known_hosts names it
	KeyType     string `json:"key_type"`
	Fingerprint string `json:"fingerprint"` // SHA256:…
	File        string `json:"file"`        // the known_hosts file
	Recorded    bool   `json:"recorded"`
}

// DeployRequest asks to deploy a release of the package service Service: the configured
// package, or Version (the package's, or a release its node holds). With Rollback, a release
// the node holds: Version's, else the one that was current before the current one.
type DeployRequest struct {
	Stack
	Service    string `json:"service"`
	Version    string `json:"version,omitempty"`
	Rollback   bool   `json:"rollback,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`
	NoRollback bool   `json:"no_rollback,omitempty"`
}

// The outcomes of a deploy, beyond OutcomeOK, OutcomeFailed and OutcomeUnreachable.
const (
	OutcomePlanned    = "planned"     // a dry run: nothing changed
	OutcomeRolledBack = "rolled-back" // the release failed; the one before it runs again
)

// DeployResponse is what a deploy did. A deploy that failed is a response, not an error:
// Outcome says what runs now, Error why.
type DeployResponse struct {
	Stack   string `json:"stack"`
	Service string `json:"service"`
	Node    string `json:"node"`
	// From is the release current before the deploy (empty: none); To the one deployed.
	From    string `json:"from"`
	To      string `json:"to"`
	Version string `json:"version"`
	// Plan is what the deploy does (did), one step a line.
	Plan []string `json:"plan"`
	// Uploaded counts the bytes sent to the node (0: it had the package).
	Uploaded int64  `json:"uploaded"`
	Outcome  string `json:"outcome"` // ok, planned, failed, rolled-back, unreachable
	Error    string `json:"error,omitempty"`
}

// ReleasesRequest asks for the releases of the package service Service on its node.
type ReleasesRequest struct {
	Stack
	Service string `json:"service"`
}

// ReleasesResponse lists the releases a node holds of a package service, the most recently
// used first, and the service's deploy history, oldest first.
type ReleasesResponse struct {
	Stack    string    `json:"stack"`
	Service  string    `json:"service"`
	Node     string    `json:"node"`
	Dir      string    `json:"dir"`
	Releases []Release `json:"releases"`
	History  []Deploy  `json:"history"`
}

// Release is one release of a package on a node.
type Release struct {
	ID        string     `json:"id"`
	Version   string     `json:"version"`
	SHA256    string     `json:"sha256"`
	Installed time.Time  `json:"installed"`
	Activated *time.Time `json:"activated"` // the last time it became current; null: never
	Active    bool       `json:"active"`    // current points at it
	Running   bool       `json:"running"`   // the service runs it now
}

// Deploy is one deploy or rollback in a service's history.
type Deploy struct {
	At       time.Time `json:"at"`
	Release  string    `json:"release"`
	Version  string    `json:"version"`
	From     string    `json:"from,omitempty"`
	Rollback bool      `json:"rollback,omitempty"`
	Uploaded int64     `json:"uploaded"`
	Outcome  string    `json:"outcome"`
	Error    string    `json:"error,omitempty"`
}

// NetworkRequest asks for the network view of a stack: its nodes as read from them, which
// reach which, and the address of every service from every node. Agents are started on the
// nodes that lack one (reading a node's interfaces needs it); nothing else is.
type NetworkRequest struct {
	Stack
}

// NetworkResponse is the network view of a stack.
type NetworkResponse struct {
	Stack string `json:"stack"`
	// Nodes are the controller's host ("local") and every remote node, in file order.
	Nodes []NetworkNode `json:"nodes"`
	// Links say, for every ordered pair of remote nodes, whether the first reaches the second
	// directly (a TCP connection from it to the second's SSH address).
	Links []Link `json:"links"`
	// Services are the address of every service from a process on each node.
	Services []ServiceAddresses `json:"services"`
}

// NetworkNode is a host as read on it.
type NetworkNode struct {
	Name    string `json:"name"`
	Network string `json:"network"`
	Type    string `json:"type"` // local, lan, wireguard
	Host    string `json:"host,omitempty"`
	// Reachable: the controller reached it (its sshd, then its agent). Error says why not.
	Reachable  bool        `json:"reachable"`
	Error      string      `json:"error,omitempty"`
	Interfaces []Interface `json:"interfaces"`
	// HostLocal: Host is an address of one of its interfaces (false: a name, or an address
	// translated on the way, such as NAT).
	HostLocal bool `json:"host_local"`
	// Mesh are the node's WireGuard interfaces of the stack's wireguard networks, as their
	// devices report them; none when it is no member of a mesh now.
	Mesh []MeshInterface `json:"mesh,omitempty"`
}

// MeshInterface is a node's interface on a wireguard network. It never holds a private key.
type MeshInterface struct {
	Network    string     `json:"network"`
	Interface  string     `json:"interface"`
	Addrs      []string   `json:"addrs"` // CIDR: the node's mesh address
	PublicKey  string     `json:"public_key"`
	ListenPort int        `json:"listen_port"`
	Peers      []MeshPeer `json:"peers"`
	Error      string     `json:"error,omitempty"` // the device could not be read
}

// MeshPeer is what a node's device knows of another member.
type MeshPeer struct {
	// Node is the member whose public key it is; empty when no node of the stack has it.
	Node          string    `json:"node,omitempty"`
	PublicKey     string    `json:"public_key"`
	Endpoint      string    `json:"endpoint,omitempty"`
	AllowedIPs    []string  `json:"allowed_ips"`
	LastHandshake time.Time `json:"last_handshake,omitzero"` // zero: none yet
	RxBytes       int64     `json:"rx_bytes"`
	TxBytes       int64     `json:"tx_bytes"`
}

// Interface is a network interface of a node.
type Interface struct {
	Name     string   `json:"name"`
	Up       bool     `json:"up"`
	Loopback bool     `json:"loopback,omitempty"`
	Addrs    []string `json:"addrs"` // CIDR
}

// Link is whether From reaches To directly.
type Link struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Direct bool     `json:"direct"`
	RTT    Duration `json:"rtt,omitempty"` // of the TCP handshake
	Error  string   `json:"error,omitempty"`
}

// ServiceAddresses is where a service is reached from each node.
type ServiceAddresses struct {
	Name string        `json:"name"`
	Node string        `json:"node"`
	From []NodeAddress `json:"from"`
}

// NodeAddress is the address of a service from a node: Addr (HOST:PORT) by way of Via
// (loopback, bridge, lan, mesh), or Error.
type NodeAddress struct {
	Node  string `json:"node"`
	Addr  string `json:"addr,omitempty"`
	Via   string `json:"via,omitempty"`
	Error string `json:"error,omitempty"`
}

// RotateKeysResponse is what `network rotate-keys` did: every mesh of the stack, its members'
// new public keys, and whether it was up and reconfigured with them.
type RotateKeysResponse struct {
	Stack  string        `json:"stack"`
	Meshes []RotatedMesh `json:"meshes"`
}

// RotatedMesh is one mesh after its keys were rotated.
type RotatedMesh struct {
	Network string `json:"network"`
	// Up: the mesh was up and now runs with the new keys; else they serve its next bring-up.
	Up      bool        `json:"up"`
	Members []MemberKey `json:"members"`
}

// MemberKey is the public key of a mesh member.
type MemberKey struct {
	Node      string `json:"node"`
	PublicKey string `json:"public_key"`
}

// LogsRequest asks for the stored output of Services (all when empty), interleaved by time.
type LogsRequest struct {
	Stack
	Services []string `json:"services,omitempty"`
	// Tail keeps only the last Tail lines of each service (0: all).
	Tail int `json:"tail,omitempty"`
	// Since keeps only lines at or after it (zero: no bound).
	Since time.Time `json:"since,omitzero"`
	// Follow goes on with new lines, across restarts and rotation, until the request ends.
	Follow bool `json:"follow,omitempty"`
}

// LogLine is one stored line of a service's output. Stream is "stdout", "stderr", or
// "harness" for harness's own notes.
type LogLine struct {
	Service string    `json:"service"`
	Time    time.Time `json:"time"`
	Stream  string    `json:"stream"`
	Text    string    `json:"text"`
}

// LogEvent is one line of the Logs stream. A line of output is sent as its LogLine alone
// ({"service": …, "time": …, "stream": …, "text": …}); a stream that fails after it began ends
// with one last line {"error": Error} instead. An error before the first line is an ordinary
// error response (an Error with its status), not a stream.
type LogEvent struct {
	*LogLine
	Error *Error `json:"error,omitempty"`
}

// ExecRequest runs Command where Service runs (for a process: on its host, in its working
// directory, with its environment) and waits for it to end.
type ExecRequest struct {
	Stack
	Service string   `json:"service"`
	Command []string `json:"command"`
	// Timeout bounds the command (0: until the request ends).
	Timeout Duration `json:"timeout,omitempty"`
}

// ExecResponse is how the command ended and what it printed (stdout and stderr together,
// at most 1 MiB; Truncated says more was cut).
type ExecResponse struct {
	ExitCode  int    `json:"exit_code"`
	Output    string `json:"output"`
	Truncated bool   `json:"truncated,omitempty"`
}

// HealthRequest runs the health checks of Services (all with a check when empty) once, now.
type HealthRequest struct {
	Stack
	Services []string `json:"services,omitempty"`
}

// HealthResponse holds one result per service asked about, in file order.
type HealthResponse struct {
	Stack    string         `json:"stack"`
	Services []HealthResult `json:"services"`
}

// HealthResult is the outcome of one check run. Status is "healthy", "unhealthy", or "none"
// (the service has no check); Output is what the check said, Error why it failed.
type HealthResult struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind,omitempty"` // command, http, tcp, grpc, log_line
	Status  string   `json:"status"`
	Latency Duration `json:"latency"`
	Output  string   `json:"output,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Message is every message of the event stream (PathEvents), each a WebSocket text message
// holding one JSON object:
//
//	client → daemon  {"type":"request","id":ID,"action":"subscribe","params":Subscribe}
//	                 {"type":"request","id":ID,"action":"unsubscribe"}
//	daemon → client  {"type":"response","id":ID,"data":Subscribed}  or  …,"error":Error}
//	                 {"type":"event","event":"service","revision":N,"data":ServiceEvent}
//
// ID is any JSON value the client chooses; the response echoes it. A message that does not
// parse gets a response with a null id and a bad_request error, and the connection stays
// usable. A subscriber that falls too far behind, or asks for revisions no longer kept, gets
// a response with the subscription's id and a conflict error; it may subscribe again.
type Message struct {
	Type     string          `json:"type"`
	ID       json.RawMessage `json:"id,omitempty"`
	Action   string          `json:"action,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	Event    string          `json:"event,omitempty"`
	Revision uint64          `json:"revision,omitempty"`
	Data     any             `json:"data,omitempty"`
	Error    *Error          `json:"error,omitempty"`
}

// The message types, actions and events of the event stream.
const (
	MessageRequest  = "request"
	MessageResponse = "response"
	MessageEvent    = "event"

	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"

	EventService = "service"
)

// Subscribe selects the events of a subscription: every change after revision Since (0: from
// the revision of the response on), of the Stacks and Services named (all when empty).
type Subscribe struct {
	Since    uint64   `json:"since,omitempty"`
	Stacks   []string `json:"stacks,omitempty"`
	Services []string `json:"services,omitempty"`
}

// Subscribed answers a subscribe: the revision the daemon was at.
type Subscribed struct {
	Revision uint64 `json:"revision"`
}

// ServiceEvent is a change of a service instance: its state, health, restarts, run.
// Removed is set when its record was deleted.
type ServiceEvent struct {
	Stack    string    `json:"stack"`
	Service  string    `json:"service"`
	State    string    `json:"state"`
	Health   string    `json:"health"`
	PID      int       `json:"pid,omitempty"`
	Restarts int       `json:"restarts"`
	Message  string    `json:"message,omitempty"`
	At       time.Time `json:"at"`
	Removed  bool      `json:"removed,omitempty"`
}

// Daemon describes a running daemon.
type Daemon struct {
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	DataDir   string    `json:"data_dir"`
	StartedAt time.Time `json:"started_at"`
}

// Duration is a time.Duration written as a string ("1m30s") in JSON.
type Duration time.Duration

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what time.ParseDuration reads.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Error is the body of every failed request: a Code from the table below and the real cause.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Error returns the message: the real cause, as the daemon put it.
func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) and the like true for an *Error of the same Code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Message == "" && t.Code == e.Code
}

// Code classifies an Error.
type Code string

// The codes, each with the HTTP status it is sent with (Status).
const (
	CodeBadRequest    Code = "bad_request"    // 400: the request does not parse or is incomplete
	CodeInvalidConfig Code = "invalid_config" // 422: the services file does not load
	CodeNotFound      Code = "not_found"      // 404: no such service, or no such endpoint
	CodeConflict      Code = "conflict"       // 409: the request contradicts the daemon's state
	CodeUnavailable   Code = "unavailable"    // 503: the daemon is shutting down
	CodeInternal      Code = "internal"       // 500: anything else
)

var statuses = map[Code]int{
	CodeBadRequest:    http.StatusBadRequest,
	CodeInvalidConfig: http.StatusUnprocessableEntity,
	CodeNotFound:      http.StatusNotFound,
	CodeConflict:      http.StatusConflict,
	CodeUnavailable:   http.StatusServiceUnavailable,
	CodeInternal:      http.StatusInternalServerError,
}

// Status is the HTTP status an Error of code c is sent with.
func (c Code) Status() int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Sentinel errors, one per Code, for errors.Is.
var (
	ErrBadRequest    = &Error{Code: CodeBadRequest}
	ErrInvalidConfig = &Error{Code: CodeInvalidConfig}
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrConflict      = &Error{Code: CodeConflict}
	ErrUnavailable   = &Error{Code: CodeUnavailable}
	ErrInternal      = &Error{Code: CodeInternal}
)
