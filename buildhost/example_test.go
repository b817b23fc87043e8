package buildhost_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
)

// A job in a throwaway container: workspace in, steps streamed to the
// log, artifacts out, the container deleted.
func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	j, err := buildhost.Load("ci/unit.yaml", map[string]string{"img": "testimage"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := buildhost.Run(ctx, rest.New(c), j, buildhost.Options{Log: os.Stdout, ArtifactsDir: "out"})
	var failed *buildhost.StepError
	switch {
	case errors.As(err, &failed):
		fmt.Println("step", failed.Step, "failed with", failed.ExitCode)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(res.Artifacts)
}
