// Package keyed serializes work per key (a container's or a profile's
// updates), so that read-modify-write updates through one process never
// race each other even where the API has no ETag (the CLI driver's).
package keyed

import "sync"

// Mutex is a set of mutexes by key; its zero value is ready. A key's
// mutex exists only while someone holds or waits for it.
type Mutex struct {
	mu    sync.Mutex
	locks map[string]*lock
}

type lock struct {
	sync.Mutex
	users int
}

// Lock locks key and returns its unlock.
func (k *Mutex) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*lock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &lock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
