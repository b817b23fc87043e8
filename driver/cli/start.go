package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lxkit/lxkit/api"
)

// Start sends a request without waiting for the background operation it
// starts, and returns that operation (nil for a synchronous answer):
// `lxc query` without --wait prints the operation.
func (q queryAPI) Start(ctx context.Context, method, path string, body any, _ string) (*api.Operation, error) {
	args := []string{"query", "-X", method}
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		args = append(args, "--data", string(data))
	}
	args = append(args, q.h.Target(path))
	out, err := q.h.Run(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var op api.Operation
	if json.Unmarshal(out, &op) != nil || op.ID == "" || op.Class == "" {
		return nil, nil // a synchronous answer is no operation
	}
	return &op, nil
}
