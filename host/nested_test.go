package host_test

import (
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestNestedHost manages the LXD inside a container through the CLI
// driver one level down (host -> outer -> lxc query): a profile, the
// server's configuration, and a cluster made of that one member, which
// the test daemons themselves cannot become.
func TestNestedHost(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	top := rest.New(testhost.Connect(t, testhost.Hosts()[0]))
	outer := testhost.LaunchNested(t, top, "hostn", testhost.NestImage)
	ctx := testhost.Context(t, 5*time.Minute)
	nd, err := nested.New(top).Host(ctx, outer)
	if err != nil {
		t.Fatal(err)
	}
	h := host.New(nd.API())

	if err := h.Profiles().Create(ctx, api.ProfilesPost{Name: "web", ProfilePut: api.ProfilePut{Config: map[string]string{"user.role": "web"}}}); err != nil {
		t.Fatal(err)
	}
	p, err := h.Profiles().Get(ctx, "web")
	if err != nil || p.Config["user.role"] != "web" {
		t.Fatalf("nested profile: %+v, %v", p, err)
	}

	m, err := h.ClusterMembers(ctx)
	if err != nil || len(m) != 1 || m[0].Status != "Standalone" {
		t.Fatalf("standalone members: %+v, %v", m, err)
	}
	mustClass(t, "cluster without an address", h.EnableClustering(ctx, "member1"), errdefs.ErrInvalidArgument)
	// The nested LXD's own bridge: an address inside the container.
	if err := h.SetConfig(ctx, map[string]string{"core.https_address": "10.79.0.1:8443"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := h.EnableClustering(ctx, "member1"); err != nil {
			t.Fatal(err)
		}
	}
	mustClass(t, "another name", h.EnableClustering(ctx, "member2"), errdefs.ErrConflict, "already cluster member member1")
	m, err = h.ClusterMembers(ctx)
	if err != nil || len(m) != 1 || m[0].ServerName != "member1" || m[0].Status != "Online" || m[0].URL != "https://10.79.0.1:8443" {
		t.Fatalf("cluster members: %+v, %v", m, err)
	}
}
