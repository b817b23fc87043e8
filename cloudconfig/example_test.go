package cloudconfig_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/driver/rest"
)

// Parse is strict: a misspelt key is an error at its line, not a setting
// silently lost.
func ExampleParse() {
	_, err := cloudconfig.Parse("web.cfg", []byte(`#cloud-config
write_files:
  - path: /etc/motd
    contnet: hello
`))
	fmt.Println(err)
	// Output: web.cfg:4:5: write_files[0]: unknown key "contnet" (did you mean "content"?)
}

// Merge joins the files an instance names: lists are appended, and the
// last file that sets a value wins, even to false.
func ExampleMerge() {
	base, _ := cloudconfig.Parse("base.cfg", []byte("#cloud-config\npackage_update: true\ntimezone: UTC\nruncmd: [echo base]\n"))
	web, _ := cloudconfig.Parse("web.cfg", []byte("#cloud-config\npackage_update: false\nruncmd: [echo web]\n"))
	cfg := cloudconfig.Merge(base, web)
	fmt.Println(cfg.PackageUpdate, cfg.Timezone)
	for _, c := range cfg.Runcmd {
		fmt.Printf("%s: %s\n", c.Origin, c.Shell)
	}
	// Output:
	// false UTC
	// base.cfg: runcmd[0]: echo base
	// web.cfg: runcmd[0]: echo web
}

// Apply a file to a running container through the REST driver.
func ExampleApply() {
	ctx := context.Background()
	data, err := os.ReadFile("web.cfg")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := cloudconfig.Parse("web.cfg", data)
	if err != nil {
		fmt.Println(err) // web.cfg:LINE:COL: ...
		return
	}
	c, err := client.New(ctx, "/var/lib/incus/unix.socket")
	if err != nil {
		fmt.Println(err)
		return
	}
	tr := rest.New(c).Transport("web")
	err = cloudconfig.Apply(ctx, tr, cfg, cloudconfig.ApplyOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Println(err) // e.g. web.cfg: runcmd[2]: exit status 3: ...
	}
}
