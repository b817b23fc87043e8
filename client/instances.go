package client

import (
	"net/url"
)

func instancePath(name string, rest ...string) string {
	p := "/1.0/instances/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}
