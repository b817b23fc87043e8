package client

import (
	"context"
	"net/http"
	"time"

	"github.com/lxkit/lxkit/hostapi"
)

// onMember names the cluster member that a request's instance is on when
// the daemon answered that a member does not answer (hostapi.MemberDown),
// words that name none: it asks the daemon, which lists the instances of
// members that are down too, where the instance is. Any other error, or
// a failure to ask, is returned as it was.
func (c *Client) onMember(ctx context.Context, req *http.Request, err error) error {
	if !hostapi.MemberDown.In(err) {
		return err
	}
	name, ok := hostapi.InstanceOf(req.URL.EscapedPath())
	if !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	path := hostapi.WithProject("/1.0/instances?recursion=1", req.URL.Query().Get("project"))
	list, lerr := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if lerr != nil {
		return err
	}
	resp, lerr := c.do(list)
	if lerr != nil {
		return err
	}
	defer resp.Body.Close()
	a, lerr := c.decodeAnswer(resp)
	if lerr != nil {
		return err
	}
	return hostapi.NameMember(err, name, a.Metadata)
}
