package ssh_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/ssh"
)

// Drive the LXD of a machine reachable only over SSH: lxc runs there.
func Example() {
	ctx := context.Background()
	cfg, err := ssh.ParseURL("ssh://ci@build1.example.com")
	if err != nil {
		log.Fatal(err)
	}
	tr, err := ssh.Dial(ctx, cfg) // ~/.ssh keys, ssh-agent, ~/.ssh/known_hosts
	if err != nil {
		log.Fatal(err) // e.g. an unknown host key: the message says how to add it
	}
	defer tr.Close()

	res, err := tr.Exec(ctx, transport.Command{Args: []string{"uname", "-r"}, Stdout: os.Stdout})
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		log.Fatal(err)
	}

	d, err := cli.New(ctx, tr, cli.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Kind())
}
