package fleet

import (
	"context"

	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/transport"
)

// CloudConfigFunc reads an instance's #cloud-config files and returns
// what applies them to the running container, so that a bad file is
// reported before anything is made.
type CloudConfigFunc func(files []string) (apply func(ctx context.Context, tr transport.Transport, opts cloudconfig.ApplyOptions) error, err error)

// cloudConfigApply is what a CloudConfigFunc returns.
type cloudConfigApply = func(context.Context, transport.Transport, cloudconfig.ApplyOptions) error

// CloudConfig reads and merges cloud-config files with package
// cloudconfig, which applies them through the container's transport
// (no cloud-init needed in the container).
func CloudConfig(files []string) (func(context.Context, transport.Transport, cloudconfig.ApplyOptions) error, error) {
	var cfgs []*cloudconfig.Config
	for _, f := range files {
		data, err := readSmall(f)
		if err != nil {
			return nil, err
		}
		cfg, err := cloudconfig.Parse(f, data)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
		// Each file holds MaxContent at most: checking after each keeps
		// what many files hold bounded too.
		if err := cloudconfig.Merge(cfgs...).Validate(); err != nil {
			return nil, err
		}
	}
	merged := cloudconfig.Merge(cfgs...)
	if err := merged.Validate(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, tr transport.Transport, opts cloudconfig.ApplyOptions) error {
		return cloudconfig.Apply(ctx, tr, merged, opts)
	}, nil
}
