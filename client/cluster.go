package client

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// ClusterCertificate fetches the cluster's certificate from the first of
// the token's addresses that answers, and returns it PEM-encoded if its
// fingerprint is the token's: what a host joining a cluster sends with
// the token (host.JoinOptions.ClusterCertificate). A certificate that is not is refused (an
// error matching errdefs.ErrCertificate): whoever answers there is not
// the cluster that issued the token.
func ClusterCertificate(ctx context.Context, tok api.ClusterJoinToken) (string, error) {
	if len(tok.Addresses) == 0 {
		return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "the join token names no address of the cluster")
	}
	var errs []error
	for _, addr := range tok.Addresses {
		cert, _, err := ServerCertificate(ctx, "https://"+addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fp := Fingerprint(cert); !strings.EqualFold(fp, tok.Fingerprint) {
			return "", errdefs.Wrap(errdefs.ErrCertificate, nil,
				"%s presents certificate %s, but the join token is for the cluster with certificate %s: refusing to join (is something in between?)",
				addr, fp, tok.Fingerprint)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})), nil
	}
	if len(errs) == 1 {
		return "", fmt.Errorf("fetching the cluster's certificate: %w", errs[0])
	}
	return "", fmt.Errorf("fetching the cluster's certificate: no address of the join token answered: %w", errors.Join(errs...))
}
