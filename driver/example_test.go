package driver_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/local"
	"github.com/lxkit/lxkit/transport/ssh"
)

// A container made, reached and used through the REST driver.
func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, "") // detect the local socket
	if err != nil {
		log.Fatal(err)
	}
	d := rest.New(c)
	if err := d.Create(ctx, "web", driver.CreateOptions{Image: driver.Image{Alias: "testimage"}}); err != nil {
		log.Fatal(err)
	}
	ip, err := driver.WaitForIP(ctx, d, "web", 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("web is at", ip)

	t := d.Transport("web")
	res, err := t.Exec(ctx, transport.Command{
		Args: []string{"make", "test"}, Dir: "/src", Env: map[string]string{"CI": "1"},
		Stdout: os.Stdout, Stderr: os.Stderr, Timeout: 10 * time.Minute,
	})
	if err == nil {
		err = res.Err() // *transport.ExitError with the code and the end of the output
	}
	if err != nil {
		log.Fatal(err)
	}
	if err := transport.UploadFolder(ctx, t, "./site", "/srv"); err != nil { // makes /srv/site
		log.Fatal(err)
	}
	if _, err := transport.DownloadFolder(ctx, t, "/var/log", "./logs"); err != nil { // makes ./logs/log
		log.Fatal(err)
	}
	if err := d.Delete(ctx, "web"); err != nil {
		log.Fatal(err)
	}
}

// The same Driver through the lxc (or incus) command: on this machine, on
// a machine over SSH, and inside a container, down to nested paths.
func Example_cli() {
	ctx := context.Background()
	ld, err := cli.New(ctx, local.New(), cli.ForSocket("/var/lib/lxd/unix.socket"))
	if err != nil {
		log.Fatal(err)
	}
	st, err := ssh.Dial(ctx, ssh.Config{Host: "build1", User: "root"}) // known_hosts checked
	if err != nil {
		log.Fatal(err)
	}
	sd, err := cli.New(ctx, st, cli.Options{})
	if err != nil {
		log.Fatal(err)
	}
	inner := cli.Open(ld.Transport("outer"), cli.Options{Where: "outer"}) // the LXD inside "outer"
	paths := nested.New(ld)                                               // names may be "outer/middle/inner"
	err = paths.Create(ctx, "outer/middle/inner", driver.CreateOptions{Image: driver.Image{Alias: "testimage"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range []driver.Driver{ld, sd, inner} {
		list, err := d.List(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(list))
	}
}
