package fleet_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/spec"
)

// An instance of a configuration file, and a fleet of them.
func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	m := fleet.New(rest.New(c))
	tpl, err := spec.Load("web.yaml")
	if err != nil {
		log.Fatal(err)
	}
	s, err := tpl.Instance("web1", map[string]string{"site": "a.example.org"})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Launch(ctx, s); err != nil { // volumes, instance, cloud-config
		log.Fatal(err)
	}
	if err := m.Snapshot(ctx, s, "before"); err != nil { // instance and volumes
		log.Fatal(err)
	}
	if err := m.Rebuild(ctx, s, driver.StopOptions{Timeout: time.Minute}); err != nil { // volumes kept
		log.Fatal(err)
	}

	f, err := fleet.Load("fleet.yaml", nil)
	if err != nil {
		log.Fatal(err)
	}
	plan, err := m.Plan(ctx, f, fleet.PlanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Apply(ctx, plan, fleet.ApplyOptions{Parallel: 4}); err != nil {
		log.Fatal(err)
	}
}

// Diff is a plan with no host: the fleet, the instances a host has, and
// the fingerprints its images have.
func ExampleDiff() {
	f := &fleet.Fleet{Name: "prod", Instances: []*spec.Spec{
		{Name: "web1", Image: spec.Image{Alias: "base"}},
		{Name: "web2", Image: spec.Image{Alias: "base"}},
	}}
	have := []api.Instance{
		{Name: "web2", Status: "Running"}, // made by hand: not the fleet's
		{Name: "old", Status: "Running", InstancePut: api.InstancePut{Config: map[string]string{fleet.KeyFleet: "prod"}}},
	}
	for _, c := range fleet.Diff(f, have, nil, nil, fleet.Sources{}, fleet.PlanOptions{Prune: true}) {
		fmt.Println(c)
	}
	// Output:
	// + create web1
	// ? skip web2: made outside any fleet
	// - delete old: no longer listed
}
