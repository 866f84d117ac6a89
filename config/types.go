package config

import (
	"net/netip"
	"time"
)

// Stack is one loaded services.yaml: immutable desired state. Networks and services keep the
// order of the file; the implicit local network is always present.
type Stack struct {
	Version     string     `json:"version"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Settings    Settings   `json:"settings"`
	Networks    []*Network `json:"networks"`
	Services    []*Service `json:"services"`

	// File is the absolute path of the file the stack was read from, Dir its directory:
	// relative paths in the stack resolve against Dir.
	File string `json:"-"`
	Dir  string `json:"-"`
	// Warnings are the problems that did not make the file invalid.
	Warnings Diagnostics `json:"-"`

	pos    fields
	byName map[string]*Service // built by normalize, so that lookups inside loops are O(1)
}

// Settings are the stack-wide defaults.
type Settings struct {
	LogLevel            string   `json:"log_level"`
	HealthCheckInterval Duration `json:"health_check_interval"`
	StartupTimeout      Duration `json:"startup_timeout"`
	ShutdownTimeout     Duration `json:"shutdown_timeout"`
	Parallelism         int      `json:"parallelism"`
	KnownHosts          string   `json:"known_hosts"`

	pos fields
}

// NetworkType is the kind of a network.
type NetworkType string

// The network types.
const (
	NetworkLocal     NetworkType = "local"     // the controller's own host
	NetworkLAN       NetworkType = "lan"       // hosts the controller reaches directly
	NetworkWireGuard NetworkType = "wireguard" // hosts joined by a WireGuard mesh
)

// Network is a named network: the local host, a LAN, or a WireGuard mesh, with its nodes.
type Network struct {
	Name            string       `json:"-"`
	Type            NetworkType  `json:"type"`
	Subnet          netip.Prefix `json:"subnet,omitzero"`
	ContainerSubnet netip.Prefix `json:"container_subnet,omitzero"`
	ListenPort      int          `json:"listen_port,omitempty"`
	Interface       string       `json:"interface,omitempty"`
	Nodes           []*Node      `json:"nodes,omitempty"`
	// Implicit is true for the local network harness adds when the file declares none.
	Implicit bool `json:"-"`

	pos fields
}

// Node is a remote host of a lan or wireguard network, reached over SSH.
type Node struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	SSHUser  string `json:"ssh_user"`
	SSHPort  int    `json:"ssh_port"`
	SSHKey   string `json:"ssh_key,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Network is the name of the network the node belongs to.
	Network string `json:"-"`

	pos fields
}

// ServiceType is the kind of a service: where and how it runs.
type ServiceType string

// The service types.
const (
	TypeProcess ServiceType = "process" // a local process
	TypeDocker  ServiceType = "docker"  // a container on the local Docker engine
	TypeRemote  ServiceType = "remote"  // a process or container on a node
	TypePackage ServiceType = "package" // a versioned package deployed to a node
)

// Service is one service of the stack. Which fields apply depends on Type; Validate reports a
// field that does not apply.
type Service struct {
	Name            string            `json:"-"`
	Type            ServiceType       `json:"type"`
	Description     string            `json:"description,omitempty"`
	Network         string            `json:"network"`
	Host            string            `json:"host,omitempty"`
	Binary          string            `json:"binary,omitempty"`
	Args            []Template        `json:"args,omitempty"`
	WorkingDir      string            `json:"working_dir,omitempty"`
	User            string            `json:"user,omitempty"`
	Image           string            `json:"image,omitempty"`
	Build           *Build            `json:"build,omitempty"`
	Command         []Template        `json:"command,omitempty"`
	Entrypoint      []Template        `json:"entrypoint,omitempty"`
	Volumes         []Volume          `json:"volumes,omitempty"`
	Package         string            `json:"package,omitempty"`
	Version         string            `json:"version,omitempty"`
	InstallPath     string            `json:"install_path,omitempty"`
	KeepReleases    int               `json:"keep_releases,omitempty"`
	EnvFile         []string          `json:"env_file,omitempty"`
	Env             Env               `json:"env,omitempty"`
	Ports           []Port            `json:"ports,omitempty"`
	Dependencies    []Dependency      `json:"dependencies,omitempty"`
	HealthCheck     *HealthCheck      `json:"health_check,omitempty"`
	Restart         Restart           `json:"restart"`
	StartupTimeout  Duration          `json:"startup_timeout"`
	ShutdownTimeout Duration          `json:"shutdown_timeout"`
	StopSignal      string            `json:"stop_signal"`
	Labels          map[string]string `json:"labels,omitempty"`

	pos        fields
	envFilePos []Pos  // where each EnvFile entry was written
	restartPos fields // where each key of Restart was written; backoff keys as "backoff.KEY"
}

// Build describes how to build a container image from a context directory.
type Build struct {
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile"`
	Args       map[string]string `json:"args,omitempty"`
}

// Volume is a bind mount (Source is a path) or a named volume (Source is a name).
type Volume struct {
	Source   string
	Target   string
	ReadOnly bool
	// Bind is true when Source is a host path (it starts with ".", "/" or "~").
	Bind bool
}

// MarshalText writes the volume as it is written in a file: SOURCE:TARGET[:ro].
func (v Volume) MarshalText() ([]byte, error) {
	s := v.Source + ":" + v.Target
	if v.ReadOnly {
		s += ":ro"
	}
	return []byte(s), nil
}

// Port is a port a service listens on. Target is the port inside the service; Published the
// host port it is reachable at (0: not published, a container reached on its bridge address).
// For processes, remote binaries and packages the two are the same.
type Port struct {
	Target    int    `json:"target"`
	Published int    `json:"published,omitempty"`
	HostIP    string `json:"host_ip,omitempty"`
	Protocol  string `json:"protocol"`

	pos Pos
}

// HostPort is the port the service is reached at from its host: the published port, else the
// target port.
func (p Port) HostPort() int { return or(p.Published, p.Target) }

// Condition is what a dependency must reach before its dependent starts.
type Condition string

// The dependency conditions.
const (
	ConditionStarted               Condition = "started"
	ConditionHealthy               Condition = "healthy"
	ConditionCompletedSuccessfully Condition = "completed_successfully"
)

// Dependency is an edge of the stack's graph: the dependent starts once Service meets Condition.
type Dependency struct {
	Service   string    `json:"service"`
	Condition Condition `json:"condition"`
	// Implicit is true when the dependency comes from a ${service.property} reference.
	Implicit bool `json:"-"`

	pos Pos
}

// HealthCheck is how harness decides that a service is healthy. Exactly one kind is set:
// Command (exec), HTTP, TCP, GRPC or LogLine.
type HealthCheck struct {
	Command          Template   `json:"command,omitzero"`
	Args             []Template `json:"args,omitempty"`
	HTTP             *HTTPCheck `json:"http,omitempty"`
	TCP              *TCPCheck  `json:"tcp,omitempty"`
	GRPC             *GRPCCheck `json:"grpc,omitempty"`
	LogLine          string     `json:"log_line,omitempty"`
	Interval         Duration   `json:"interval"`
	Timeout          Duration   `json:"timeout"`
	Retries          int        `json:"retries"`
	StartPeriod      Duration   `json:"start_period"`
	StartInterval    Duration   `json:"start_interval"`
	SuccessThreshold int        `json:"success_threshold"`

	pos fields
}

// CheckKind names the kind of a health check.
type CheckKind string

// The health check kinds.
const (
	CheckExec    CheckKind = "command"
	CheckHTTP    CheckKind = "http"
	CheckTCP     CheckKind = "tcp"
	CheckGRPC    CheckKind = "grpc"
	CheckLogLine CheckKind = "log_line"
)

// has reports whether the check of kind k is set.
func (h *HealthCheck) has(k CheckKind) bool {
	switch k {
	case CheckExec:
		return !h.Command.IsZero()
	case CheckHTTP:
		return h.HTTP != nil
	case CheckTCP:
		return h.TCP != nil
	case CheckGRPC:
		return h.GRPC != nil
	case CheckLogLine:
		return h.LogLine != ""
	}
	return false
}

// Kind returns the kind of the check, or "" when none is set.
func (h *HealthCheck) Kind() CheckKind {
	for _, k := range []CheckKind{CheckExec, CheckHTTP, CheckTCP, CheckGRPC, CheckLogLine} {
		if h.has(k) {
			return k
		}
	}
	return ""
}

// HTTPCheck is an HTTP request whose status (and optionally body) decides health.
type HTTPCheck struct {
	URL            Template            `json:"url"`
	Method         string              `json:"method"`
	Headers        map[string]Template `json:"headers,omitempty"`
	ExpectedStatus string              `json:"expected_status"` // "200" or a class such as "2xx"
	BodyContains   string              `json:"body_contains,omitempty"`
}

// TCPCheck is healthy when a TCP connection to Host:Port opens. An empty Host means the
// service's own address.
type TCPCheck struct {
	Host string `json:"host,omitempty"`
	Port int    `json:"port"`

	pos Pos // where the port was written
}

// GRPCCheck calls grpc.health.v1.Health/Check for Service at Host:Port.
type GRPCCheck struct {
	Host    string `json:"host,omitempty"`
	Port    int    `json:"port"`
	Service string `json:"service,omitempty"`

	pos Pos // where the port was written
}

// RestartPolicy says when a stopped or unhealthy service is restarted.
type RestartPolicy string

// The restart policies.
const (
	RestartNo            RestartPolicy = "no"
	RestartOnFailure     RestartPolicy = "on-failure"
	RestartAlways        RestartPolicy = "always"
	RestartUnlessStopped RestartPolicy = "unless-stopped"
)

// Restart is a restart policy with exponential backoff. MaxRestarts 0 means no limit; the
// counter resets after ResetAfter of healthy running.
type Restart struct {
	Policy      RestartPolicy `json:"policy"`
	MaxRestarts int           `json:"max_restarts,omitempty"`
	Backoff     Backoff       `json:"backoff"`
	ResetAfter  Duration      `json:"reset_after"`
}

// Backoff is the delay between restarts: Initial, multiplied by Multiplier after each restart up
// to Max, each delay varied at random by ±Jitter (a fraction).
type Backoff struct {
	Initial    Duration `json:"initial"`
	Max        Duration `json:"max"`
	Multiplier float64  `json:"multiplier"`
	Jitter     float64  `json:"jitter"`
}

// Duration is a time.Duration that reads as "1m30s" or as bare integer seconds, and prints as
// "1m30s".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText formats d like time.Duration does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
