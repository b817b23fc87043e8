// Package pause waits, as long as a context lets it.
package pause

import (
	"context"
	"time"
)

// For waits for d, or less if ctx ends first: then it returns ctx's error.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
