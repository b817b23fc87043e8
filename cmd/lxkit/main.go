// Command lxkit manages LXD and Incus containers; see internal/cmd.
package main

import (
	"os"

	"github.com/lxkit/lxkit/internal/cmd"
)

func main() { os.Exit(cmd.Main()) }
