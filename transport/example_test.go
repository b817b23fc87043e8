package transport_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/local"
)

// Run captures a command's output; a non-zero exit is an *ExitError.
func ExampleRun() {
	ctx := context.Background()
	t := local.New() // or a driver's Transport(name), ssh.Dial, ...
	out, err := transport.Run(ctx, t, "sh", "-c", "echo hello; exit 0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)
	_, err = transport.Run(ctx, t, "sh", "-c", "echo oops >&2; exit 3")
	var ee *transport.ExitError
	fmt.Println(errors.As(err, &ee), ee.Code)
	// Output:
	// hello
	// true 3
}

// Files and folders move through any transport.
func ExampleDownloadFolder() {
	ctx := context.Background()
	t := local.New()
	if err := t.WriteFile(ctx, "/tmp/greeting", strings.NewReader("hi\n"), transport.FileOptions{Mode: 0o644}); err != nil {
		log.Fatal(err)
	}
	if err := transport.UploadFolder(ctx, t, "./site", "/srv"); err != nil { // makes /srv/site
		log.Fatal(err)
	}
	sum, err := transport.DownloadFolder(ctx, t, "/var/log", "./logs") // makes ./logs/log
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sum.Files, "files,", sum.Bytes, "bytes")
}
