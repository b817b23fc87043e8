package client

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// SessionFile returns a TLS session cache that also keeps the latest
// session in the file at path, so that the next process resumes it
// instead of making a full handshake. The file lets whoever reads it
// resume the session as this client: it is written 0600, like a private
// key. Give each combination of daemon, pinned certificate and client
// certificate a file of its own: a changed pin or client certificate then
// finds no session, and makes a full handshake that checks the pin.
// A file that cannot be read or written only costs the full handshake.
func SessionFile(path string) tls.ClientSessionCache {
	return &sessionFile{path: path, mem: tls.NewLRUClientSessionCache(32)}
}

type sessionFile struct {
	path  string
	mem   tls.ClientSessionCache
	mu    sync.Mutex
	read  bool // the file was read into mem
	wrote bool // this process has written the file
}

// sessionMagic starts the file; the rest is three length-prefixed parts:
// the cache key, the ticket and the session state.
const sessionMagic = "lxkit tls session 1\n"

func (s *sessionFile) Get(key string) (*tls.ClientSessionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.read {
		s.read = true
		if cs, fileKey, err := readSession(s.path); err == nil {
			s.mem.Put(fileKey, cs)
		}
	}
	return s.mem.Get(key)
}

func (s *sessionFile) Put(key string, cs *tls.ClientSessionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true // a session of this process's own is newer than the file's
	s.mem.Put(key, cs)
	if cs == nil {
		_ = os.Remove(s.path)
		return
	}
	// Once per process is enough: the daemons (Go's TLS) take a ticket
	// more than once, and each connection (an exec opens five) brings a
	// new one, whose writing would cost more than the resumption saves.
	if !s.wrote {
		s.wrote = writeSession(s.path, key, cs) == nil
	}
}

func readSession(path string) (*tls.ClientSessionState, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	rest, ok := bytes.CutPrefix(data, []byte(sessionMagic))
	if !ok {
		return nil, "", errors.New("not a session file")
	}
	var parts [3][]byte
	for i := range parts {
		n, size := binary.Uvarint(rest)
		if size <= 0 || n > uint64(len(rest)-size) {
			return nil, "", errors.New("truncated session file")
		}
		parts[i], rest = rest[size:size+int(n)], rest[size+int(n):]
	}
	state, err := tls.ParseSessionState(parts[2])
	if err != nil {
		return nil, "", err
	}
	cs, err := tls.NewResumptionState(parts[1], state)
	if err != nil {
		return nil, "", err
	}
	return cs, string(parts[0]), nil
}

func writeSession(path, key string, cs *tls.ClientSessionState) error {
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return errors.New("no resumption state")
	}
	stateBytes, err := state.Bytes()
	if err != nil {
		return err
	}
	data := []byte(sessionMagic)
	for _, p := range [][]byte{[]byte(key), ticket, stateBytes} {
		data = binary.AppendUvarint(data, uint64(len(p)))
		data = append(data, p...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once renamed, this fails harmlessly
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
