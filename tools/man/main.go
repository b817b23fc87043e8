// Command man writes lxkit's man pages (section 1) into a directory:
// `make man` runs it.
//
//	go run ./tools/man -o man/man1
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/manpage"
)

func main() {
	dir := flag.String("o", "man/man1", "the directory to write the pages into")
	flag.Parse()
	// Pages dated by SOURCE_DATE_EPOCH are the same on every build of one
	// commit (make man passes the commit's date).
	date := time.Now().UTC()
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date = time.Unix(s, 0).UTC()
	}
	root := command.NewCmdRoot(cmdutil.NewFactory(iostreams.System()))
	files, err := manpage.WriteAll(root, *dir, date)
	if err != nil {
		fmt.Fprintln(os.Stderr, "man:", err)
		os.Exit(1)
	}
	fmt.Printf("%d man pages in %s\n", len(files), *dir)
}
