// Package unixmode converts between Go's fs.FileMode and the permission
// bits of chmod(2), which tar headers and the daemons' file API use.
package unixmode

import "io/fs"

// From turns chmod(2) bits (0o7777) into an fs.FileMode.
func From(v uint32) fs.FileMode {
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// To turns an fs.FileMode into chmod(2) bits.
func To(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}
