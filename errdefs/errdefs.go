// Package errdefs defines the error classes that every lxkit driver and
// transport returns. Match them with errors.Is:
//
//	if errors.Is(err, errdefs.ErrNotFound) { ... }
//
// A *StatusError from the REST API and a classified CLI failure both match
// the same class, so callers never look at status codes or message text.
package errdefs

import (
	"errors"
	"fmt"
	"net/http"
)

// The error classes.
var (
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrUnavailable        = errors.New("unavailable")
	ErrNotImplemented     = errors.New("not implemented")
	ErrInternal           = errors.New("internal error")
	ErrCanceled           = errors.New("canceled")
	// ErrUntrusted is a daemon that does not trust this client's certificate.
	ErrUntrusted = errors.New("client not trusted")
	// ErrCertificate is a server certificate that failed verification: not
	// signed by a known authority, or not the one pinned for the remote.
	ErrCertificate = errors.New("server certificate not verified")
	// ErrIntegrity is data that is not what it claims to be, or not safe
	// to use: a hash or size that does not match, a path or name that
	// would lead out of where it belongs. A server that sends it is
	// broken or hostile.
	ErrIntegrity = errors.New("integrity check failed")
)

// StatusError is an error answer from the daemon. It keeps the HTTP status and
// the daemon's message, and matches the class of its status with errors.Is.
type StatusError struct {
	Status  int    // HTTP status code
	Message string // the daemon's error text
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return http.StatusText(e.Status)
	}
	return e.Message
}

// Is reports whether target is the class of e's status.
func (e *StatusError) Is(target error) bool {
	return target == classOf(e.Status)
}

func classOf(status int) error {
	switch status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadRequest:
		return ErrInvalidArgument
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusPreconditionFailed:
		return ErrPreconditionFailed
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return ErrUnavailable
	case http.StatusNotImplemented:
		return ErrNotImplemented
	case http.StatusInternalServerError:
		return ErrInternal
	}
	return nil
}

// OperationError is a background operation that ended in failure or was
// cancelled.
type OperationError struct {
	ID          string
	Description string
	Status      string // "Failure" or "Cancelled"
	Err         string // the daemon's error text
}

func (e *OperationError) Error() string {
	msg := e.Err
	if msg == "" {
		msg = e.Status
	}
	if e.Description != "" {
		return e.Description + ": " + msg
	}
	return msg
}

// Is makes a cancelled operation match ErrCanceled.
func (e *OperationError) Is(target error) bool {
	return target == ErrCanceled && e.Status == "Cancelled"
}

// Wrap returns an error that matches class and prints as msg: cause.
// It is for errors that lxkit itself classifies (a CLI failure, a missing
// socket); cause may be nil.
func Wrap(class error, cause error, format string, args ...any) error {
	return &classified{class: class, msg: fmt.Sprintf(format, args...), cause: cause}
}

type classified struct {
	class error
	msg   string
	cause error
}

func (e *classified) Error() string {
	if e.cause == nil {
		return e.msg
	}
	return e.msg + ": " + e.cause.Error()
}

func (e *classified) Is(target error) bool { return target == e.class }
func (e *classified) Unwrap() error        { return e.cause }
