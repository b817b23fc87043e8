// Command lxkit manages LXD and Incus containers; see package command.
package main

import (
	"os"

	"github.com/lxkit/lxkit/cmd/lxkit/command"
)

func main() { os.Exit(command.Main()) }
