package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lxkit/lxkit/api"
)

// ExecRecorded runs a command whose output the daemon records into log
// files, and copies them to stdout and stderr (nil discards) once it has
// ended, with no websocket. It takes no input and cannot signal the
// command: when ctx ends
// it calls stop (which must end the command some other way), waits for the
// command to end, and returns ctx's error with the exit code.
func (c *Client) ExecRecorded(ctx context.Context, name string, req api.InstanceExecPost, stdout, stderr io.Writer, stop func()) (int, error) {
	req.WaitForWS, req.Interactive, req.RecordOutput = false, false, true
	op, code, err := c.startExec(ctx, name, req)
	if op == nil {
		return code, err
	}
	done, err := c.Wait(ctx, op)
	if ctx.Err() != nil {
		if stop != nil {
			stop()
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		done, _ = c.Wait(wctx, op)
		cancel()
		err = ctx.Err()
	}
	if err != nil && ctx.Err() == nil {
		// LXD fails the operation of a missing command (with return 127).
		if code, ferr := execFailure(err); ferr == nil {
			return code, nil
		}
	}
	code = exitCode(done)
	if code < 0 {
		if err == nil {
			err = errors.New("the daemon reported no exit code")
		}
		return execFailure(err)
	}
	logs, _ := done.Metadata["output"].(map[string]any)
	var wg sync.WaitGroup
	var errs errList
	for fd, w := range map[string]io.Writer{"1": stdout, "2": stderr} {
		if p, _ := logs[fd].(string); p != "" {
			wg.Add(1)
			go func() { defer wg.Done(); errs.add(c.copyLog(context.WithoutCancel(ctx), p, w)) }()
		}
	}
	wg.Wait()
	if err == nil {
		err = errs.first()
	}
	return code, err
}

// copyLog streams a recorded log to w and deletes it. The delete is not
// waited for: LXD 5.0 sometimes answers it only after 90 seconds (about
// one call in 300 here), and the command's result does not depend on it.
func (c *Client) copyLog(ctx context.Context, path string, w io.Writer) error {
	defer func() {
		go func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			_, _ = c.Query(dctx, http.MethodDelete, path, nil, nil)
		}()
	}()
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := c.raw(req)
	if err != nil {
		return fmt.Errorf("reading recorded output: %w", err)
	}
	defer resp.Body.Close()
	if w == nil {
		w = io.Discard
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
