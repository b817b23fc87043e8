package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/lxkit/lxkit/api"
)

func instancePath(name string, rest ...string) string {
	p := "/1.0/instances/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// Instances lists all instances with their full records.
func (c *Client) Instances(ctx context.Context) ([]api.Instance, error) {
	var out []api.Instance
	_, err := c.Query(ctx, http.MethodGet, "/1.0/instances?recursion=1", nil, &out)
	return out, err
}

// Instance returns one instance and its ETag.
func (c *Client) Instance(ctx context.Context, name string) (*api.Instance, string, error) {
	var out api.Instance
	etag, err := c.Query(ctx, http.MethodGet, instancePath(name), nil, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, etag, nil
}

// InstanceState returns the runtime state of an instance.
func (c *Client) InstanceState(ctx context.Context, name string) (*api.InstanceState, error) {
	var out api.InstanceState
	if _, err := c.Query(ctx, http.MethodGet, instancePath(name, "state"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateInstance creates an instance and waits until it exists.
func (c *Client) CreateInstance(ctx context.Context, req api.InstancesPost) error {
	_, err := c.Do(ctx, http.MethodPost, "/1.0/instances", req, "")
	return err
}

// UpdateInstance replaces the writable fields of an instance. With a
// non-empty etag the daemon refuses (412) if the instance changed since.
func (c *Client) UpdateInstance(ctx context.Context, name string, put api.InstancePut, etag string) error {
	_, err := c.Do(ctx, http.MethodPut, instancePath(name), put, etag)
	return err
}

// SetInstanceState starts, stops, restarts, freezes or unfreezes an instance
// and waits for the change.
func (c *Client) SetInstanceState(ctx context.Context, name string, req api.InstanceStatePut) error {
	_, err := c.Do(ctx, http.MethodPut, instancePath(name, "state"), req, "")
	return err
}

// DeleteInstance deletes a stopped instance.
func (c *Client) DeleteInstance(ctx context.Context, name string) error {
	_, err := c.Do(ctx, http.MethodDelete, instancePath(name), nil, "")
	return err
}
