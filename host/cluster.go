package host

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Cluster says whether the host is a cluster member and its name there.
func (h *Host) Cluster(ctx context.Context) (*api.Cluster, error) {
	var c api.Cluster
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/cluster", nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ClusterMembers lists the members of the host's cluster. A host that is
// not clustered is one member of its own: a list of itself, as the
// daemon describes itself, with status "Standalone".
func (h *Host) ClusterMembers(ctx context.Context) ([]api.ClusterMember, error) {
	c, err := h.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Enabled {
		s, err := h.Server(ctx)
		if err != nil {
			return nil, err
		}
		name := s.Environment.ServerName
		arch := ""
		if len(s.Environment.Architectures) > 0 {
			arch = s.Environment.Architectures[0]
		}
		return []api.ClusterMember{{ServerName: name, Status: "Standalone", Architecture: arch}}, nil
	}
	var members []api.ClusterMember
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/cluster/members?recursion=1", nil, &members); err != nil {
		return nil, fmt.Errorf("listing cluster members: %w", err)
	}
	return members, nil
}

// EnableClustering makes a standalone host the first member of a new
// cluster, named serverName there. The host must listen on a specific
// address (core.https_address, not a wildcard), which becomes the
// cluster's. A host that is clustered already is success if it has that
// name there, else an error matching errdefs.ErrConflict.
func (h *Host) EnableClustering(ctx context.Context, serverName string) error {
	if err := ValidateName("cluster member", serverName); err != nil {
		return err
	}
	c, err := h.Cluster(ctx)
	if err != nil {
		return err
	}
	if c.Enabled {
		if c.ServerName == serverName {
			return nil
		}
		return errdefs.Wrap(errdefs.ErrConflict, nil, "%s is already cluster member %s", h.c.Addr(), c.ServerName)
	}
	cfg, err := h.Config(ctx)
	if err != nil {
		return err
	}
	addr := cfg["cluster.https_address"]
	if addr == "" {
		addr = cfg["core.https_address"]
	}
	if wildcard(addr) {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"enabling clustering on %s: it listens on %q, not on one address: set core.https_address to the address the cluster will use", h.c.Addr(), addr)
	}
	body := api.Cluster{ServerName: serverName, Enabled: true}
	if _, err := h.c.Do(ctx, http.MethodPut, "/1.0/cluster", body, ""); err != nil {
		return fmt.Errorf("enabling clustering on %s: %w", h.c.Addr(), err)
	}
	return nil
}

// wildcard reports whether a listen address is empty or any address.
func wildcard(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return host == "" || host == "0.0.0.0" || host == "::"
}

// members are the cluster's members as a collection: GET, PUT (roles,
// failure domain, groups...) and DELETE. Members are added by token
// (AddClusterMember), not by POST.
func (h *Host) members() *Collection[api.ClusterMember, api.ClusterMemberPut, struct{}] {
	return &Collection[api.ClusterMember, api.ClusterMemberPut, struct{}]{
		h: h, kind: "cluster member", path: "/1.0/cluster/members",
		name: func(*struct{}) string { return "" },
		put:  func(m *api.ClusterMember) *api.ClusterMemberPut { return &m.ClusterMemberPut },
	}
}

// ClusterMember returns one member of the host's cluster.
func (h *Host) ClusterMember(ctx context.Context, name string) (*api.ClusterMember, error) {
	return h.members().Get(ctx, name)
}

// UpdateClusterMember changes what a member's PUT replaces (roles,
// failure domain, description, config, groups) through change, and
// writes it back unless another writer came first (then it reads and
// changes again).
func (h *Host) UpdateClusterMember(ctx context.Context, name string, change func(*api.ClusterMemberPut) error) error {
	return h.members().Update(ctx, name, change)
}

// ClusterGroups are the cluster's groups of members, placement targets
// as "@NAME". Every member is in "default" until assigned elsewhere.
func (h *Host) ClusterGroups() *Collection[api.ClusterGroup, api.ClusterGroupPut, api.ClusterGroupsPost] {
	return &Collection[api.ClusterGroup, api.ClusterGroupPut, api.ClusterGroupsPost]{
		h: h, kind: "cluster group", path: "/1.0/cluster/groups",
		name: func(p *api.ClusterGroupsPost) string { return p.Name },
		put:  func(g *api.ClusterGroup) *api.ClusterGroupPut { return &g.ClusterGroupPut },
	}
}

// AssignClusterGroups makes groups the member's groups, exactly.
func (h *Host) AssignClusterGroups(ctx context.Context, member string, groups []string) error {
	for _, g := range groups {
		if err := ValidateName("cluster group", g); err != nil {
			return err
		}
	}
	return h.UpdateClusterMember(ctx, member, func(p *api.ClusterMemberPut) error {
		p.Groups = append([]string(nil), groups...)
		return nil
	})
}

// AddClusterMember issues a join token for a new member named name: the
// base64 text that `lxc cluster add` prints, for JoinCluster on the new
// member. A token issued earlier for that name and not used is revoked
// first, so that at most one is valid.
func (h *Host) AddClusterMember(ctx context.Context, name string) (string, error) {
	if err := ValidateNewName("cluster member", name); err != nil {
		return "", err
	}
	if err := h.RevokeJoinToken(ctx, name); err != nil {
		return "", err
	}
	st, ok := h.c.(hostapi.Starter)
	if !ok {
		return "", errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot start operations without waiting", h.c.Addr())
	}
	op, err := st.Start(ctx, http.MethodPost, "/1.0/cluster/members", map[string]string{"server_name": name}, "")
	if err != nil {
		return "", fmt.Errorf("adding cluster member %s on %s: %w", name, h.c.Addr(), err)
	}
	tok, err := joinTokenOf(op)
	if err != nil {
		return "", fmt.Errorf("adding cluster member %s on %s: %w", name, h.c.Addr(), err)
	}
	buf, _ := json.Marshal(tok)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// joinTokenOf reads a join token from the metadata of the daemon's token
// operation.
func joinTokenOf(op *api.Operation) (api.ClusterJoinToken, error) {
	var tok api.ClusterJoinToken
	if op == nil {
		return tok, errdefs.Wrap(errdefs.ErrInternal, nil, "the daemon started no token operation")
	}
	str := func(k string) string { s, _ := op.Metadata[k].(string); return s }
	tok.ServerName, tok.Secret, tok.Fingerprint = str("serverName"), str("secret"), str("fingerprint")
	tok.ExpiresAt, _ = time.Parse(time.RFC3339Nano, str("expiresAt"))
	tok.Addresses = stringList(op.Metadata["addresses"])
	if tok.Secret == "" || tok.Fingerprint == "" || len(tok.Addresses) == 0 {
		return tok, errdefs.Wrap(errdefs.ErrInternal, nil, "the daemon's token operation carries no secret, fingerprint or address")
	}
	return tok, nil
}

// ParseJoinToken decodes a cluster join token. Errors never quote it.
func ParseJoinToken(token string) (api.ClusterJoinToken, error) {
	var tok api.ClusterJoinToken
	buf, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err == nil {
		err = json.Unmarshal(buf, &tok)
	}
	if err != nil || tok.ServerName == "" || tok.Secret == "" || tok.Fingerprint == "" || len(tok.Addresses) == 0 {
		return api.ClusterJoinToken{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"not a cluster join token (expected the base64 text printed by `lxkit cluster add` or `lxc cluster add`)")
	}
	return tok, nil
}

// RevokeJoinToken revokes the unused join tokens issued for a member
// name; none is success.
func (h *Host) RevokeJoinToken(ctx context.Context, name string) error {
	ops, err := h.Operations(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.Class != "token" || op.StatusCode != api.OperationRunning {
			continue
		}
		if s, _ := op.Metadata["serverName"].(string); s == name {
			if err := h.CancelOperation(ctx, op.ID); err != nil {
				return fmt.Errorf("revoking the join token of %s: %w", name, err)
			}
		}
	}
	return nil
}

// JoinOptions say how a host joins a cluster.
type JoinOptions struct {
	// Address is where the new member serves the cluster (HOST[:PORT]);
	// by default its cluster.https_address or core.https_address.
	Address string
	// ClusterCertificate is the cluster's certificate (PEM), whose
	// fingerprint the token names.
	ClusterCertificate string
	// MemberConfig gives the member's own values of the cluster's storage
	// pools and networks (a pool's source, a bridge's external
	// interfaces); what the cluster asks for and is not given is left to
	// the daemon's default.
	MemberConfig []api.ClusterMemberConfigKey
}

// JoinCluster makes this host, a daemon with no instances, a member of
// the cluster that issued token (see AddClusterMember), under the name
// the token carries. The daemon makes the cluster's storage pools and
// networks on itself as it joins. A host that is that member already is
// success; a member of another name, an error matching ErrConflict.
func (h *Host) JoinCluster(ctx context.Context, token string, opts JoinOptions) error {
	tok, err := ParseJoinToken(token)
	if err != nil {
		return err
	}
	c, err := h.Cluster(ctx)
	if err != nil {
		return err
	}
	if c.Enabled {
		if c.ServerName == tok.ServerName {
			return h.loadClusterConfig(ctx)
		}
		return errdefs.Wrap(errdefs.ErrConflict, nil, "%s is already cluster member %s", h.c.Addr(), c.ServerName)
	}
	var names []string
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/instances?all-projects=true", nil, &names); err != nil {
		return err
	}
	if len(names) > 0 {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"%s has %d instance(s): only a host without instances can join a cluster", h.c.Addr(), len(names))
	}
	addr := opts.Address
	if addr == "" {
		cfg, err := h.Config(ctx)
		if err != nil {
			return err
		}
		if addr = cfg["cluster.https_address"]; addr == "" {
			addr = cfg["core.https_address"]
		}
	}
	if wildcard(addr) {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"joining a cluster from %s: give the address it will serve the cluster on (it listens on %q)", h.c.Addr(), addr)
	}
	body := api.ClusterPut{
		Cluster:            api.Cluster{ServerName: tok.ServerName, Enabled: true, MemberConfig: opts.MemberConfig},
		ServerAddress:      addr,
		ClusterAddress:     tok.Addresses[0],
		ClusterCertificate: opts.ClusterCertificate,
		ClusterToken:       token,
		ClusterPassword:    token,
	}
	if body.MemberConfig == nil {
		body.MemberConfig = []api.ClusterMemberConfigKey{}
	}
	if _, err := h.c.Do(ctx, http.MethodPut, "/1.0/cluster", body, ""); err != nil {
		return fmt.Errorf("joining %s to the cluster at %s as %s: %w", h.c.Addr(), tok.Addresses[0], tok.ServerName, err)
	}
	return h.loadClusterConfig(ctx)
}

// loadClusterConfig makes a member that has joined use the cluster's
// configuration, not the one it had before joining
// (hostapi.JoinedConfigStale): an empty PATCH of /1.0 makes every member
// load it again.
func (h *Host) loadClusterConfig(ctx context.Context) error {
	empty := map[string]any{"config": map[string]string{}}
	if _, err := h.c.Do(ctx, http.MethodPatch, "/1.0", empty, ""); err != nil {
		return fmt.Errorf("%s joined the cluster, but did not load its configuration: %w", h.c.Addr(), err)
	}
	return nil
}

// RemoveClusterMember removes a member from the cluster. A member that
// is gone already is success. force removes a member that cannot be
// reached, or that still has instances, losing them.
func (h *Host) RemoveClusterMember(ctx context.Context, name string, force bool) error {
	if err := ValidateName("cluster member", name); err != nil {
		return err
	}
	path := "/1.0/cluster/members/" + url.PathEscape(name)
	if force {
		path += "?force=1"
	}
	remove := func() error { _, err := h.c.Do(ctx, http.MethodDelete, path, nil, ""); return err }
	var err error
	if force {
		err = remove() // the member may be down for good: no wait
	} else {
		// LXD 5.0.2 can refuse it for a moment with "Missing event
		// connection with target cluster member" (hostapi.MemberDown;
		// ci89, just after a restore): wait that out, as a move does.
		err = h.whenOnline(ctx, name, remove)
	}
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("removing cluster member %s: %w", name, err)
	}
	return nil
}

// EvacuateClusterMember moves the member's instances to other members
// (or stops those that cannot move, as each one's cluster.evacuate
// says) and marks it evacuated. A member evacuated already is success.
func (h *Host) EvacuateClusterMember(ctx context.Context, name string) error {
	return h.memberState(ctx, name, "evacuate", "Evacuated")
}

// RestoreClusterMember brings an evacuated member back: its instances
// return and start again. A member that is online is success.
func (h *Host) RestoreClusterMember(ctx context.Context, name string) error {
	return h.memberState(ctx, name, "restore", "Online")
}

func (h *Host) memberState(ctx context.Context, name, action, done string) error {
	m, err := h.ClusterMember(ctx, name)
	if err != nil {
		return err
	}
	if strings.EqualFold(m.Status, done) {
		return nil
	}
	path := "/1.0/cluster/members/" + url.PathEscape(name) + "/state"
	if _, err := h.c.Do(ctx, http.MethodPost, path, map[string]string{"action": action}, ""); err != nil {
		return fmt.Errorf("%s of cluster member %s: %w", action, name, err)
	}
	return nil
}

// stringList reads a JSON list of strings decoded as []any.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
