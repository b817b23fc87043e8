package host_test

import (
	"context"
	"fmt"
	"log"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
)

// What a host has besides its containers, through either driver's API.
func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	d := rest.New(c)
	h := host.New(d.API())
	err = h.Profiles().Create(ctx, api.ProfilesPost{Name: "web", ProfilePut: api.ProfilePut{Config: map[string]string{"limits.memory": "256MiB"}}})
	if err != nil {
		log.Fatal(err)
	}
	err = h.Profiles().Update(ctx, "web", func(p *api.ProfilePut) error {
		host.MergeConfig(&p.Config, map[string]string{"limits.cpu": "2"}) // "" removes a key
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// The same Collection for Projects, StoragePools, Volumes(pool),
	// Networks, Instances, Snapshots(instance) and VolumeSnapshots(pool,
	// vol): List, Get, Exists, Create, Update, Rename, Delete.
	if err := h.Snapshots("web1").Create(ctx, api.InstanceSnapshotsPost{Name: "snap0"}); err != nil {
		log.Fatal(err)
	}
	if err := h.RestoreSnapshot(ctx, "web1", "snap0", false); err != nil {
		log.Fatal(err)
	}
	if err := h.SetConfig(ctx, map[string]string{"images.auto_update_interval": "0"}); err != nil {
		log.Fatal(err)
	}
	err = h.Events(ctx, api.EventOptions{Types: []string{"lifecycle"}}, func(ev api.Event) error {
		fmt.Println(ev.Type)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Images: published from an instance, copied to another host (which
// pulls over HTTPS) and from a simplestreams server (whose index lxkit
// checks first).
func ExampleImages() {
	ctx := context.Background()
	c, err := client.New(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	h := host.New(rest.New(c).API())
	oc, err := client.New(ctx, "https://192.0.2.10:8443")
	if err != nil {
		log.Fatal(err)
	}
	other := host.New(rest.New(oc).API())
	show := func(p host.Progress) { fmt.Println(p.Text) }

	fp, err := h.Images().Publish(ctx, "web1", host.PublishOptions{Aliases: []string{"web-golden"}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.Images().CopyTo(ctx, other, fp, host.CopyOptions{Progress: show}); err != nil {
		log.Fatal(err)
	}
	var pem string // the server's certificate, as `lxkit image serve` prints it
	_, err = h.Images().CopyFromServer(ctx, host.ImageServer{URL: "https://127.0.0.1:8999", Protocol: "simplestreams", Certificate: pem}, "busybox", host.CopyOptions{})
	if err != nil {
		log.Fatal(err) // errdefs.ErrIntegrity for a lying server, *host.AbandonedError for a stalled pull
	}
}
