package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// Both daemons ping every events listener every 10 seconds and answer
// pings. The client pings too, so that a daemon that did not would still
// keep an idle stream alive; a stream without any frame for eventsIdle is
// dead (a host gone from the network leaves no other trace). Variables
// for tests.
var (
	eventsPing = 15 * time.Second
	eventsIdle = 45 * time.Second
)

// Events calls fn for each event of the types opts asks for, in the
// client's project (or every project with opts.AllProjects), until ctx
// ends, fn returns an error or the stream breaks; see hostapi.EventSource.
// It returns ctx.Err() when ctx ends, fn's error as it is, for a
// stream that breaks (or stays silent for 45 seconds) an error matching
// errdefs.ErrUnavailable, and for an event larger than the client's answer
// limit (WithMaxAnswerSize) one matching errdefs.ErrInternal. A type that is not one of api.EventTypes is
// errdefs.ErrInvalidArgument.
//
// Events returns no sign of when the subscription is in place: events of
// the moment Events is called may be missed. fn runs on the caller's
// goroutine, one event at a time; it should return quickly, since the
// daemon drops a listener that falls behind.
func (c *Client) Events(ctx context.Context, opts api.EventOptions, fn func(api.Event) error) error {
	types, err := opts.EventTypes()
	if err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: %v", c.addr, err)
	}
	q := url.Values{"type": {strings.Join(types, ",")}}
	switch {
	case opts.AllProjects:
		q.Set("all-projects", "true") // the daemons refuse a project with it
	case c.project != "":
		q.Set("project", c.project)
	}
	conn, err := c.dialEvents(ctx, "/1.0/events?"+q.Encode())
	if err != nil {
		return err
	}
	defer hangUp(conn)
	stopWatch := context.AfterFunc(ctx, func() { hangUp(conn) }) // ends a read in progress
	defer stopWatch()
	idle := eventsIdle
	extend, stopPings := keepAlive(conn, eventsPing, idle)
	defer stopPings()

	for {
		extend() // a slow fn is no silent daemon
		data, err := c.message(conn, "an event")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errdefs.ErrInternal) {
			return err
		}
		if lostWebsocket(err) {
			return errdefs.Wrap(errdefs.ErrUnavailable, err, "%s: events: connection to the daemon lost", c.addr)
		}
		if err != nil {
			return errdefs.Wrap(errdefs.ErrUnavailable, brokenCause(err, idle), "%s: the event stream broke", c.addr)
		}
		var ev api.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return errdefs.Wrap(errdefs.ErrInternal, err, "%s: decoding an event", c.addr)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// dialEvents opens the events websocket at path (with its query).
func (c *Client) dialEvents(ctx context.Context, path string) (*websocket.Conn, error) {
	start := time.Now()
	conn, resp, err := c.dialWebsocket(ctx, c.wsBase+path, "the events websocket")
	if err != nil {
		c.log.Debug("events failed", "path", path, "err", err)
		if resp != nil {
			defer resp.Body.Close()
			if _, derr := c.decodeAnswer(resp); derr != nil {
				return nil, c.refusal(derr)
			}
		}
		return nil, c.websocketError(ctx, "the events websocket", err)
	}
	c.log.Debug("events", "path", path, "took", time.Since(start))
	return conn, nil
}

// message reads one whole message of a websocket whose read limit is the
// client's answer limit; a larger one (what) is an error matching
// errdefs.ErrInternal, refused as soon as its frames announce it.
func (c *Client) message(conn *websocket.Conn, what string) ([]byte, error) {
	conn.SetReadLimit(c.maxAnswer)
	_, r, err := conn.NextReader()
	var data []byte
	if err == nil {
		data, err = readAll(r, -1, c.maxAnswer)
	}
	if errors.Is(err, websocket.ErrReadLimit) || errors.Is(err, errTooLarge) {
		return nil, c.tooLarge(what, c.maxAnswer)
	}
	return data, err
}

// keepAlive answers the daemon's pings, pings it every ping, and makes
// each ping or pong that arrives extend the read deadline by idle. It
// returns extend, which does that too, and stop, which ends the pings.
func keepAlive(conn *websocket.Conn, ping, idle time.Duration) (extend, stop func()) {
	extend = func() { _ = conn.SetReadDeadline(time.Now().Add(idle)) }
	conn.SetPingHandler(func(data string) error {
		extend()
		// A failed write shows as a failed read soon enough.
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	conn.SetPongHandler(func(string) error { extend(); return nil })
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(ping)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			}
		}
	}()
	return extend, func() { close(done); <-finished }
}

// hangUp closes an events websocket, telling the daemon first.
func hangUp(conn *websocket.Conn) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	conn.Close()
}

// brokenCause is the cause of a broken stream, worded for people.
func brokenCause(err error, idle time.Duration) error {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("no message or keepalive for " + idle.String() + " (daemon stopped or overloaded?)")
	}
	return err
}
