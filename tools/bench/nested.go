package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/nestimage"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/local"
)

// benchNested builds host -> outer -> middle -> inner on LXD and compares
// lxkit with the hand-typed `lxc exec` chain at each depth, a folder
// upload two levels down with `lxc file push -r` run in outer, and the CLI
// driver with the REST driver on a lifecycle of 10 containers.
func benchNested(ctx context.Context, c *client.Client, socket, tree string) []row {
	env := cliEnv("lxc", socket)
	top := rest.New(c)
	paths := nested.New(top)
	tarball, err := nestimage.Tarball()
	check(err)

	pid := os.Getpid()
	outer := fmt.Sprintf("lxkit-bench-outer-%d", pid)
	middle, inner := "middle", "inner"
	prev := atExit
	atExit = func() { _ = top.Delete(context.Background(), outer); prev() }
	defer func() { _ = top.Delete(context.Background(), outer); atExit = prev }()
	launch := func(d driver.Driver, name, image string, config map[string]string) {
		check(d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: image}, Config: config}))
	}
	launch(top, outer, nestimage.Alias, nestimage.Config)
	check(nestimage.WaitReady(ctx, top.Transport(outer)))
	check(nestimage.Import(ctx, top.Transport(outer), tarball))
	check(paths.Create(ctx, outer+"/"+middle, driver.CreateOptions{Image: driver.Image{Alias: nestimage.Alias}, Config: nestimage.Config}))
	check(nestimage.WaitReady(ctx, paths.Transport(outer+"/"+middle)))
	check(paths.Create(ctx, outer+"/"+middle+"/"+inner, driver.CreateOptions{Image: driver.Image{Alias: "testimage"}}))

	var rows []row
	levels := []struct{ path, chain string }{
		{outer, "lxc exec " + outer + " -- true"},
		{outer + "/" + middle, "lxc exec " + outer + " -- lxc exec " + middle + " -- true"},
		{outer + "/" + middle + "/" + inner, "lxc exec " + outer + " -- lxc exec " + middle + " -- lxc exec " + inner + " -- true"},
	}
	for i, l := range levels {
		tr := paths.Transport(l.path)
		m := medians(*runs,
			func() { mustRun(tr.Exec(ctx, transport.Command{Args: []string{"true"}})) },
			func() { shell(env, l.chain) },
			func() { shell(env, *lxkitBin+" --host "+socket+" exec "+l.path+" -- true") })
		lib, base, cmd := m[0], m[1], m[2]
		rows = append(rows,
			compare(fmt.Sprintf("exec `true`, %d level(s) down (library call)", i+1), lib, base, "<= 1.0", lib <= base),
			compare(fmt.Sprintf("exec `true`, %d level(s) down (`lxkit exec` command)", i+1), cmd, base, "<= 1.0", cmd <= base))
	}

	// 2,000 files into the middle container: lxkit from here, against
	// `lxc file push -r` run in outer on a copy of the folder already there.
	mid2 := paths.Transport(outer + "/" + middle)
	otr := top.Transport(outer)
	check(mkdirIn(ctx, otr, "/root/src"))
	check(transport.UploadFolder(ctx, otr, tree, "/root/src"))
	var ups []time.Duration
	for i := range 3 {
		dir := fmt.Sprintf("/root/up%d", i)
		check(mkdirIn(ctx, mid2, dir))
		ups = append(ups, timeIt(func() { check(transport.UploadFolder(ctx, mid2, tree, dir)) }))
	}
	check(mkdirIn(ctx, mid2, "/root/cli"))
	cliUp := timeIt(func() {
		shell(env, "lxc exec "+outer+" -- lxc file push -r /root/src/"+filepath.Base(tree)+" "+middle+"/root/cli/")
	})
	rows = append(rows, compare("upload folder 2,000 files / 12 MB two levels down vs `lxc file push -r` run in outer",
		mid(ups), cliUp, "<= 0.1", mid(ups) <= cliUp/10))

	// Lifecycle of 10 containers, one after the other, through each driver.
	cliDriver, err := cli.New(ctx, local.New(), cli.ForSocket(socket))
	check(err)
	cycle := func(d driver.Driver, prefix string) time.Duration {
		names := make([]string, 10)
		for i := range names {
			names[i] = fmt.Sprintf("lxkit-bench-%s-%d-%d", prefix, pid, i)
		}
		defer func() {
			for _, n := range names {
				_ = top.Delete(context.Background(), n)
			}
		}()
		return timeIt(func() {
			for _, n := range names {
				check(d.Create(ctx, n, driver.CreateOptions{Image: driver.Image{Alias: "testimage"}, NoStart: true}))
				check(d.Start(ctx, n))
				check(d.Stop(ctx, n, driver.StopOptions{Force: true}))
				check(d.Delete(ctx, n))
			}
		})
	}
	restTook := cycle(top, "rest")
	cliTook := cycle(cliDriver, "cli")
	rows = append(rows, compare("create, start, stop, delete 10 containers: CLI driver vs REST driver (ratio reported)",
		cliTook, restTook, "report", true))
	return rows
}
