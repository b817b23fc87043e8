// Package api holds the wire types of the LXD/Incus /1.0 REST API subset that
// lxkit uses. Field names follow the JSON documents of both daemons; the
// types are plain data with no behaviour.
package api

import (
	"encoding/json"
	"time"
)

// Response is the envelope of every answer from the daemon.
type Response struct {
	Type       string          `json:"type"` // sync, async or error
	Status     string          `json:"status"`
	StatusCode int             `json:"status_code"`
	Operation  string          `json:"operation"`
	ErrorCode  int             `json:"error_code"`
	Error      string          `json:"error"`
	Metadata   json.RawMessage `json:"metadata"`
}

// Server is the answer to GET /1.0.
type Server struct {
	APIExtensions []string          `json:"api_extensions"`
	APIStatus     string            `json:"api_status"`
	APIVersion    string            `json:"api_version"`
	Auth          string            `json:"auth"`
	AuthMethods   []string          `json:"auth_methods"`
	Public        bool              `json:"public"`
	Config        map[string]any    `json:"config"`
	Environment   ServerEnvironment `json:"environment"`
}

// ServerEnvironment describes the daemon and its host.
type ServerEnvironment struct {
	Addresses     []string `json:"addresses"`
	Architectures []string `json:"architectures"`
	Certificate   string   `json:"certificate"`
	Driver        string   `json:"driver"`
	DriverVersion string   `json:"driver_version"`
	Kernel        string   `json:"kernel"`
	KernelVersion string   `json:"kernel_version"`
	// KernelArchitecture is the machine's ("x86_64").
	KernelArchitecture string `json:"kernel_architecture"`
	OSName             string `json:"os_name"`
	OSVersion          string `json:"os_version"`
	Server             string `json:"server"` // "lxd" or "incus"
	ServerName         string `json:"server_name"`
	// ServerClustered is true on a member of a cluster.
	ServerClustered bool   `json:"server_clustered"`
	ServerPid       int    `json:"server_pid"`
	ServerVersion   string `json:"server_version"`
	// Storage names the drivers of the storage pools ("dir", "dir |
	// zfs"), StorageVersion their versions likewise.
	Storage        string `json:"storage"`
	StorageVersion string `json:"storage_version"`
	Project        string `json:"project"`
}

// Operation is a background task of the daemon.
type Operation struct {
	ID          string              `json:"id"`
	Class       string              `json:"class"` // task, websocket or token
	Description string              `json:"description"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Status      string              `json:"status"`
	StatusCode  int                 `json:"status_code"`
	Resources   map[string][]string `json:"resources"`
	Metadata    map[string]any      `json:"metadata"`
	MayCancel   bool                `json:"may_cancel"`
	Err         string              `json:"err"`
	Location    string              `json:"location"`
}

// Operation status codes (the daemon's StatusCode values).
const (
	OperationCreated   = 100
	OperationStarted   = 101
	OperationStopped   = 102
	OperationRunning   = 103
	OperationCanceling = 104
	OperationPending   = 105
	OperationSuccess   = 200
	OperationFailure   = 400
	OperationCancelled = 401
)

// Done reports whether the operation has ended, in success or not.
func (op *Operation) Done() bool { return op.StatusCode >= 200 }

// InstancePut holds the writable fields of an instance.
type InstancePut struct {
	Architecture string                       `json:"architecture,omitempty"`
	Config       map[string]string            `json:"config"`
	Devices      map[string]map[string]string `json:"devices"`
	Ephemeral    bool                         `json:"ephemeral"`
	Profiles     []string                     `json:"profiles"`
	Stateful     bool                         `json:"stateful"`
	Description  string                       `json:"description"`
}

// Instance is a container (or virtual machine) as the daemon reports it.
type Instance struct {
	InstancePut
	Name            string                       `json:"name"`
	Type            string                       `json:"type"`
	Status          string                       `json:"status"`
	StatusCode      int                          `json:"status_code"`
	CreatedAt       time.Time                    `json:"created_at"`
	LastUsedAt      time.Time                    `json:"last_used_at"`
	Location        string                       `json:"location"`
	Project         string                       `json:"project"`
	ExpandedConfig  map[string]string            `json:"expanded_config"`
	ExpandedDevices map[string]map[string]string `json:"expanded_devices"`
}

// IsContainer reports whether the instance is a container: its type says
// so, or it is empty (daemons from before virtual machines).
func (i Instance) IsContainer() bool { return i.Type == "" || i.Type == "container" }

// InstanceFull is an instance with its runtime state, as GET
// /1.0/instances?recursion=2 lists it; State is nil when the daemon could
// not read it (an instance on a cluster member that does not answer).
type InstanceFull struct {
	Instance
	State     *InstanceState     `json:"state"`
	Snapshots []InstanceSnapshot `json:"snapshots"`
}

// InstanceSource says where a new instance's root filesystem comes from.
type InstanceSource struct {
	Type        string            `json:"type"` // "image", "copy" or "none"
	Alias       string            `json:"alias,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	Server      string            `json:"server,omitempty"`
	Protocol    string            `json:"protocol,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	Certificate string            `json:"certificate,omitempty"`
	// Source is what a "copy" copies: "INSTANCE" or "INSTANCE/SNAPSHOT".
	Source string `json:"source,omitempty"`
	// InstanceOnly leaves a copied instance's snapshots behind.
	InstanceOnly bool `json:"instance_only,omitempty"`
}

// InstancesPost is the body of POST /1.0/instances.
type InstancesPost struct {
	InstancePut
	Name   string         `json:"name"`
	Source InstanceSource `json:"source"`
	Type   string         `json:"type,omitempty"`
	Start  bool           `json:"start,omitempty"`
}

// InstanceStatePut is the body of PUT /1.0/instances/NAME/state.
type InstanceStatePut struct {
	Action   string `json:"action"` // start, stop, restart, freeze, unfreeze
	Timeout  int    `json:"timeout"`
	Force    bool   `json:"force"`
	Stateful bool   `json:"stateful"`
}

// InstanceState is the runtime state of an instance.
type InstanceState struct {
	Status     string                          `json:"status"`
	StatusCode int                             `json:"status_code"`
	Disk       map[string]InstanceStateDisk    `json:"disk"`
	Memory     InstanceStateMemory             `json:"memory"`
	Network    map[string]InstanceStateNetwork `json:"network"`
	Pid        int64                           `json:"pid"`
	Processes  int64                           `json:"processes"`
	CPU        InstanceStateCPU                `json:"cpu"`
}

// InstanceStateDisk is the usage of one disk device.
type InstanceStateDisk struct {
	Usage int64 `json:"usage"`
}

// InstanceStateCPU is the CPU time used, in nanoseconds.
type InstanceStateCPU struct {
	Usage int64 `json:"usage"`
}

// InstanceStateMemory is the memory use, in bytes.
type InstanceStateMemory struct {
	Usage         int64 `json:"usage"`
	UsagePeak     int64 `json:"usage_peak"`
	SwapUsage     int64 `json:"swap_usage"`
	SwapUsagePeak int64 `json:"swap_usage_peak"`
}

// InstanceStateNetwork is one network interface of a running instance.
type InstanceStateNetwork struct {
	Addresses []InstanceStateNetworkAddress `json:"addresses"`
	Counters  InstanceStateNetworkCounters  `json:"counters"`
	Hwaddr    string                        `json:"hwaddr"`
	HostName  string                        `json:"host_name"`
	Mtu       int                           `json:"mtu"`
	State     string                        `json:"state"`
	Type      string                        `json:"type"`
}

// InstanceStateNetworkAddress is one address of an interface.
type InstanceStateNetworkAddress struct {
	Family  string `json:"family"` // inet or inet6
	Address string `json:"address"`
	Netmask string `json:"netmask"`
	Scope   string `json:"scope"` // global, link or local
}

// InstanceStateNetworkCounters are traffic counters of an interface.
type InstanceStateNetworkCounters struct {
	BytesReceived   int64 `json:"bytes_received"`
	BytesSent       int64 `json:"bytes_sent"`
	PacketsReceived int64 `json:"packets_received"`
	PacketsSent     int64 `json:"packets_sent"`
}

// InstanceExecPost is the body of POST /1.0/instances/NAME/exec.
type InstanceExecPost struct {
	Command      []string          `json:"command"`
	WaitForWS    bool              `json:"wait-for-websocket"`
	Interactive  bool              `json:"interactive"`
	Environment  map[string]string `json:"environment"`
	Width        int               `json:"width,omitempty"`
	Height       int               `json:"height,omitempty"`
	RecordOutput bool              `json:"record-output"`
	User         uint32            `json:"user"`
	Group        uint32            `json:"group"`
	Cwd          string            `json:"cwd,omitempty"`
}

// InstanceExecControl is a message on the exec control websocket.
type InstanceExecControl struct {
	Command string            `json:"command"` // "signal" or "window-resize"
	Args    map[string]string `json:"args"`
	Signal  int               `json:"signal"`
}

// Image is an image in the daemon's store.
type Image struct {
	Fingerprint  string            `json:"fingerprint"`
	Filename     string            `json:"filename"`
	Size         int64             `json:"size"`
	Architecture string            `json:"architecture"`
	Type         string            `json:"type"`
	Public       bool              `json:"public"`
	AutoUpdate   bool              `json:"auto_update"`
	Properties   map[string]string `json:"properties"`
	Aliases      []ImageAlias      `json:"aliases"`
	CreatedAt    time.Time         `json:"created_at"`
	UploadedAt   time.Time         `json:"uploaded_at"`
}

// ImageAlias names an image.
type ImageAlias struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ImageAliasesEntry is the answer to GET /1.0/images/aliases/NAME.
type ImageAliasesEntry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Target      string `json:"target"`
	Type        string `json:"type"`
}

// Certificate is a certificate the daemon trusts (GET /1.0/certificates).
type Certificate struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // client, server or metrics
	Restricted  bool     `json:"restricted"`
	Projects    []string `json:"projects"`
	Certificate string   `json:"certificate"` // PEM
	Fingerprint string   `json:"fingerprint"`
}

// CertificatesPost is the body of POST /1.0/certificates: a certificate
// to trust, or a request for a trust token, or an untrusted client asking
// to be trusted with a password or token (its TLS certificate is the one
// added when Certificate is empty).
type CertificatesPost struct {
	Name        string   `json:"name,omitempty"`
	Type        string   `json:"type"`
	Restricted  bool     `json:"restricted,omitempty"`
	Projects    []string `json:"projects,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
	// Password is LXD's trust password, or (LXD 5.x) a whole trust token.
	Password string `json:"password,omitempty"`
	// TrustToken is a trust token (Incus; LXD from 5.21).
	TrustToken string `json:"trust_token,omitempty"`
	// Token asks for a trust token instead of adding a certificate.
	Token bool `json:"token,omitempty"`
}

// TrustToken is what a trust token carries, base64-encoded JSON: who may
// use it, and how to reach and check the daemon that issued it.
type TrustToken struct {
	ClientName  string    `json:"client_name"`
	Fingerprint string    `json:"fingerprint"` // the daemon's certificate
	Addresses   []string  `json:"addresses"`
	Secret      string    `json:"secret"`
	ExpiresAt   time.Time `json:"expires_at"`
}
