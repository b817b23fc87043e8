package client

import (
	"context"
	"net/http"

	"github.com/lxkit/lxkit/hostapi"
)

// The client reads an instance's logs itself.
var _ hostapi.LogReader = (*Client)(nil)

// InstanceLog returns one of an instance's log files (GET
// /1.0/instances/NAME/logs/FILE): hostapi.LogFile, "lxc.log", for a
// container. It reads no more than the client's answer limit
// (WithMaxAnswerSize). An error answer is a *errdefs.StatusError.
func (c *Client) InstanceLog(ctx context.Context, name, file string) ([]byte, error) {
	return c.getText(ctx, hostapi.InstancePath(name, "logs", file), "the log "+file+" of "+name)
}

// ConsoleLog returns what a container wrote to its console since the
// last read (GET /1.0/instances/NAME/console), as `lxc console
// --show-log` prints it; reading it empties the buffer of a running
// container. An empty buffer may be an error carrying
// hostapi.ConsoleEmpty (LXD 5.0.2).
func (c *Client) ConsoleLog(ctx context.Context, name string) ([]byte, error) {
	return c.getText(ctx, hostapi.InstancePath(name, "console"), "the console log of "+name)
}

// getText reads an answer that is a file, not JSON (what names it in
// messages), within the client's bounds.
func (c *Client) getText(ctx context.Context, path, what string) ([]byte, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.raw(req)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	return c.readAnswer(resp, what)
}
