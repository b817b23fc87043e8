package cli

import (
	"context"
	"encoding/json"

	"github.com/lxkit/lxkit/api"
)

// Start sends a request without waiting for the background operation it
// starts, and returns that operation (nil for a synchronous answer):
// `lxc query` without --wait prints the operation.
func (q queryAPI) Start(ctx context.Context, method, path string, body any, _ string) (*api.Operation, error) {
	out, err := q.run(ctx, false, method, path, body)
	if err != nil {
		return nil, err
	}
	var op api.Operation
	if json.Unmarshal(out, &op) != nil || op.ID == "" || op.Class == "" {
		return nil, nil // a synchronous answer is no operation
	}
	return &op, nil
}
