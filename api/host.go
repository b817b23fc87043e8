package api

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Profile is a set of configuration and devices that instances apply
// (GET /1.0/profiles/NAME).
type Profile struct {
	ProfilePut
	Name   string   `json:"name"`
	UsedBy []string `json:"used_by"`
}

// ProfilePut is what PUT /1.0/profiles/NAME replaces.
type ProfilePut struct {
	Description string                       `json:"description"`
	Config      map[string]string            `json:"config"`
	Devices     map[string]map[string]string `json:"devices"`
}

// ProfilesPost is the body of POST /1.0/profiles.
type ProfilesPost struct {
	ProfilePut
	Name string `json:"name"`
}

// Project isolates instances, images, profiles, volumes and networks
// (GET /1.0/projects/NAME).
type Project struct {
	ProjectPut
	Name   string   `json:"name"`
	UsedBy []string `json:"used_by"`
}

// ProjectPut is what PUT /1.0/projects/NAME replaces.
type ProjectPut struct {
	Description string            `json:"description"`
	Config      map[string]string `json:"config"`
}

// ProjectsPost is the body of POST /1.0/projects.
type ProjectsPost struct {
	ProjectPut
	Name string `json:"name"`
}

// StoragePool is a storage pool (GET /1.0/storage-pools/NAME).
type StoragePool struct {
	StoragePoolPut
	Name      string   `json:"name"`
	Driver    string   `json:"driver"`
	Status    string   `json:"status"`
	Locations []string `json:"locations"`
	UsedBy    []string `json:"used_by"`
}

// StoragePoolPut is what PUT /1.0/storage-pools/NAME replaces.
type StoragePoolPut struct {
	Description string            `json:"description"`
	Config      map[string]string `json:"config"`
}

// StoragePoolResources is what a storage pool holds and can hold (GET
// /1.0/storage-pools/NAME/resources). For a pool that lives in a
// directory of the host's file system (driver dir) the daemon reports
// that whole file system's; for one on a block device or a loop file
// (btrfs), the pool's own.
type StoragePoolResources struct {
	Space struct {
		Used  uint64 `json:"used"`
		Total uint64 `json:"total"`
	} `json:"space"`
	Inodes struct {
		Used  uint64 `json:"used"`
		Total uint64 `json:"total"`
	} `json:"inodes"`
}

// StoragePoolsPost is the body of POST /1.0/storage-pools.
type StoragePoolsPost struct {
	StoragePoolPut
	Name   string `json:"name"`
	Driver string `json:"driver"`
}

// StorageVolume is a volume of a storage pool
// (GET /1.0/storage-pools/POOL/volumes/TYPE/NAME).
type StorageVolume struct {
	StorageVolumePut
	Name        string    `json:"name"`
	Type        string    `json:"type"`         // custom, container, image, ...
	ContentType string    `json:"content_type"` // filesystem or block
	Location    string    `json:"location"`
	UsedBy      []string  `json:"used_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// StorageVolumePut is what PUT .../volumes/TYPE/NAME replaces.
type StorageVolumePut struct {
	Description string            `json:"description"`
	Config      map[string]string `json:"config"`
}

// StorageVolumesPost is the body of POST /1.0/storage-pools/POOL/volumes/custom.
type StorageVolumesPost struct {
	StorageVolumePut
	Name        string `json:"name"`
	Type        string `json:"type"`
	ContentType string `json:"content_type,omitempty"`
}

// Network is a network of the host (GET /1.0/networks/NAME).
type Network struct {
	NetworkPut
	Name      string   `json:"name"`
	Type      string   `json:"type"` // bridge, macvlan, physical, loopback, ...
	Managed   bool     `json:"managed"`
	Status    string   `json:"status"`
	Locations []string `json:"locations"`
	UsedBy    []string `json:"used_by"`
}

// NetworkPut is what PUT /1.0/networks/NAME replaces.
type NetworkPut struct {
	Description string            `json:"description"`
	Config      map[string]string `json:"config"`
}

// NetworksPost is the body of POST /1.0/networks.
type NetworksPost struct {
	NetworkPut
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// ServerPut is what PUT /1.0 replaces: the server's configuration.
type ServerPut struct {
	Config map[string]any `json:"config"`
}

// InstanceSnapshot is a snapshot of an instance
// (GET /1.0/instances/NAME/snapshots/SNAP).
type InstanceSnapshot struct {
	Name      string                       `json:"name"`
	CreatedAt time.Time                    `json:"created_at"`
	ExpiresAt time.Time                    `json:"expires_at"`
	Stateful  bool                         `json:"stateful"`
	Config    map[string]string            `json:"config"`
	Devices   map[string]map[string]string `json:"devices"`
	Profiles  []string                     `json:"profiles"`
	Size      int64                        `json:"size"`
}

// InstanceSnapshotPut is what PUT /1.0/instances/NAME/snapshots/SNAP
// replaces: when the snapshot expires (the zero time: never).
type InstanceSnapshotPut struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// InstanceSnapshotsPost is the body of POST /1.0/instances/NAME/snapshots.
type InstanceSnapshotsPost struct {
	Name      string     `json:"name"`
	Stateful  bool       `json:"stateful"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Cluster is the answer to GET /1.0/cluster.
type Cluster struct {
	ServerName string `json:"server_name"`
	Enabled    bool   `json:"enabled"`
	// MemberConfig lists what a joining member must give for itself
	// (a storage pool's source, say); on GET, the keys it may give.
	MemberConfig []ClusterMemberConfigKey `json:"member_config"`
}

// ClusterMemberConfigKey is one member-specific setting of a storage pool
// or network ("storage-pool", "default", "source", "/dev/sdb").
type ClusterMemberConfigKey struct {
	Entity      string `json:"entity"`
	Name        string `json:"name"`
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

// ClusterPut is the body of PUT /1.0/cluster: turn clustering on, or
// join the cluster at ClusterAddress.
type ClusterPut struct {
	Cluster
	ServerAddress      string `json:"server_address,omitempty"`
	ClusterAddress     string `json:"cluster_address,omitempty"`
	ClusterCertificate string `json:"cluster_certificate,omitempty"`
	ClusterToken       string `json:"cluster_token,omitempty"`
	// ClusterPassword is where LXD 5.0 reads a join token (Incus 6.0
	// reads ClusterToken): JoinCluster sets both.
	ClusterPassword string `json:"cluster_password,omitempty"`
}

// ClusterJoinToken is what a join token carries, base64-encoded JSON as
// `lxc cluster add` prints it.
type ClusterJoinToken struct {
	ServerName  string    `json:"server_name"`
	Fingerprint string    `json:"fingerprint"`
	Addresses   []string  `json:"addresses"`
	Secret      string    `json:"secret"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// ClusterMemberPut is what PUT /1.0/cluster/members/NAME replaces.
type ClusterMemberPut struct {
	Roles         []string          `json:"roles"`
	FailureDomain string            `json:"failure_domain"`
	Description   string            `json:"description"`
	Config        map[string]string `json:"config"`
	Groups        []string          `json:"groups"`
}

// ClusterMember is a member of a cluster (GET /1.0/cluster/members/NAME).
type ClusterMember struct {
	ClusterMemberPut
	ServerName   string `json:"server_name"`
	URL          string `json:"url"`
	Database     bool   `json:"database"`
	Status       string `json:"status"`
	Message      string `json:"message"`
	Architecture string `json:"architecture"`
}

// ClusterGroupPut is what PUT /1.0/cluster/groups/NAME replaces.
type ClusterGroupPut struct {
	Description string   `json:"description"`
	Members     []string `json:"members"`
}

// ClusterGroup is a named set of cluster members, a placement target
// ("@NAME").
type ClusterGroup struct {
	ClusterGroupPut
	Name string `json:"name"`
}

// ClusterGroupsPost is the body of POST /1.0/cluster/groups.
type ClusterGroupsPost struct {
	ClusterGroupPut
	Name string `json:"name"`
}

// Event is one message of GET /1.0/events.
type Event struct {
	Type      string    `json:"type"` // lifecycle, logging or operation
	Timestamp time.Time `json:"timestamp"`
	// Metadata is, for a lifecycle event, "action" (e.g. "instance-started"),
	// "source" (e.g. "/1.0/instances/c1", with "?project=P" outside the
	// default project), "requestor" and "context"; for a logging event,
	// "level", "message" and "context"; for an operation event, the
	// Operation.
	Metadata map[string]any `json:"metadata"`
	Location string         `json:"location"`
	Project  string         `json:"project"`
}

// Event types that both daemons send.
const (
	EventTypeLifecycle = "lifecycle"
	EventTypeLogging   = "logging"
	EventTypeOperation = "operation"
)

// EventTypes returns the event types that both daemons send.
func EventTypes() []string {
	return []string{EventTypeLifecycle, EventTypeLogging, EventTypeOperation}
}

// EventOptions says which events to receive from GET /1.0/events. The zero
// value receives the events of every type in the client's project.
type EventOptions struct {
	// Types are EventTypeLifecycle, EventTypeLogging or EventTypeOperation;
	// empty means all three.
	Types []string
	// AllProjects receives the events of every project instead of those
	// of the client's project.
	AllProjects bool
}

// EventTypes returns the types o asks for (all of EventTypes when
// o.Types is empty, each once), or an error naming the first type that is
// not one of EventTypes.
func (o EventOptions) EventTypes() ([]string, error) {
	known := EventTypes()
	if len(o.Types) == 0 {
		return known, nil
	}
	var types []string
	for _, t := range o.Types {
		if !slices.Contains(known, t) {
			return nil, fmt.Errorf("event type %q: use %s", t, strings.Join(known, ", "))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types, nil
}

// ImagesPost is the body of POST /1.0/images when the image comes from
// elsewhere than the request body.
type ImagesPost struct {
	Source     *ImagesPostSource `json:"source,omitempty"`
	Public     bool              `json:"public"`
	AutoUpdate bool              `json:"auto_update"`
	Aliases    []ImageAlias      `json:"aliases,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// ImagesPostSource says where the daemon gets an image: an image server
// it pulls from (Mode "pull", Type "image"), or an instance or snapshot
// it publishes (Type "instance" or "snapshot", Name).
type ImagesPostSource struct {
	Type        string `json:"type"`
	Mode        string `json:"mode,omitempty"`
	Server      string `json:"server,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Secret      string `json:"secret,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Alias       string `json:"alias,omitempty"`
	Name        string `json:"name,omitempty"`
}

// ImagePut is what PUT /1.0/images/FINGERPRINT replaces.
type ImagePut struct {
	Public     bool              `json:"public"`
	AutoUpdate bool              `json:"auto_update"`
	Properties map[string]string `json:"properties"`
}

// ImageAliasesPost is the body of POST /1.0/images/aliases.
type ImageAliasesPost struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Target      string `json:"target"`
}
