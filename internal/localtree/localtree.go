// Package localtree walks a local folder that is to be copied, entry by
// entry, to a place on a target: what each entry is, where it goes and
// with which mode.
package localtree

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Kinds of entries; sockets, devices and fifos are not copied.
const (
	Dir = iota
	Symlink
	File
)

// Entry is one entry of the folder.
type Entry struct {
	Local  string      // its path here
	Remote string      // where it goes: remoteDir/BASE/REL
	Kind   int         // Dir, Symlink or File
	Mode   fs.FileMode // permissions with setuid, setgid and sticky
	Target string      // a symlink's target, as it is written
}

// Walk calls fn for each directory, symlink and regular file of local,
// local first, parents before their children. Each goes below remoteDir
// under local's base name, as `cp -r local remoteDir` places it.
func Walk(local, remoteDir string, fn func(Entry) error) error {
	local = filepath.Clean(local)
	top := path.Join(remoteDir, filepath.Base(local))
	return filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Local: p, Remote: path.Join(top, filepath.ToSlash(rel)),
			Mode: fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)}
		switch {
		case d.IsDir():
			e.Kind = Dir
		case d.Type()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
			e.Kind = Symlink
		case d.Type().IsRegular():
			e.Kind = File
		default:
			return nil
		}
		return fn(e)
	})
}
