package certs

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lxkit/lxkit/errdefs"
)

// Where a client certificate or a remote comes from.
const (
	SourceLXKit = "lxkit" // lxkit's own configuration directory
	SourceLXC   = "lxc"   // lxc's (LXD's command)
	SourceIncus = "incus" // incus's
)

// The files of a client certificate and its key in a configuration
// directory, the same names for lxkit, lxc and incus.
const (
	ClientCertFile = "client.crt"
	ClientKeyFile  = "client.key"
)

// Dirs are the configuration directories of lxkit, lxc and incus. An empty
// field is a tool not looked at.
type Dirs struct {
	LXKit string // lxkit's own: $LXKIT_CONF, $XDG_CONFIG_HOME/lxkit or ~/.config/lxkit
	LXC   string // lxc's: $LXD_CONF, ~/.config/lxc or the snap's ~/snap/lxd/common/config
	Incus string // incus's: $INCUS_CONF or ~/.config/incus
}

// DefaultDirs finds the three directories the way each tool does:
//
//   - lxkit: $LXKIT_CONF, else $XDG_CONFIG_HOME/lxkit (if that variable is
//     an absolute path), else ~/.config/lxkit.
//   - lxc: $LXD_CONF, else ~/.config/lxc if it exists, else the LXD snap's
//     ~/snap/lxd/common/config if that exists, else ~/.config/lxc. (The
//     snap's lxc sets LXD_CONF to the latter; Debian's reads the former.)
//   - incus: $INCUS_CONF, else ~/.config/incus.
//
// Directories need not exist. The home directory is $HOME; without it only
// directories named by variables are known, and DefaultDirs fails if one is
// then missing.
func DefaultDirs() (Dirs, error) {
	home, homeErr := os.UserHomeDir()
	need := func(parts ...string) (string, error) {
		if homeErr != nil {
			return "", homeErr
		}
		return filepath.Join(append([]string{home}, parts...)...), nil
	}
	var d Dirs
	var err error
	switch xdg := os.Getenv("XDG_CONFIG_HOME"); {
	case os.Getenv("LXKIT_CONF") != "":
		d.LXKit = os.Getenv("LXKIT_CONF")
	case filepath.IsAbs(xdg):
		d.LXKit = filepath.Join(xdg, "lxkit")
	default:
		if d.LXKit, err = need(".config", "lxkit"); err != nil {
			return Dirs{}, err
		}
	}
	if v := os.Getenv("LXD_CONF"); v != "" {
		d.LXC = v
	} else {
		if d.LXC, err = need(".config", "lxc"); err != nil {
			return Dirs{}, err
		}
		snap, _ := need("snap", "lxd", "common", "config")
		if !isDir(d.LXC) && isDir(snap) {
			d.LXC = snap
		}
	}
	if v := os.Getenv("INCUS_CONF"); v != "" {
		d.Incus = v
	} else if d.Incus, err = need(".config", "incus"); err != nil {
		return Dirs{}, err
	}
	return d, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// ClientFiles are the paths of a client certificate and its key.
type ClientFiles struct {
	Cert   string
	Key    string
	Source string // SourceLXKit, SourceLXC or SourceIncus
}

// Load reads the pair with LoadKeyPair.
func (f ClientFiles) Load() (tls.Certificate, error) {
	return LoadKeyPair(f.Cert, f.Key)
}

// LoadLazily reads the pair with LoadKeyPairLazily.
func (f ClientFiles) LoadLazily() (tls.Certificate, error) {
	return LoadKeyPairLazily(f.Cert, f.Key)
}

// OwnClientFiles are lxkit's own client files, where Generate should put a
// new certificate. They may not exist.
func (d Dirs) OwnClientFiles() ClientFiles {
	return filesIn(d.LXKit, SourceLXKit)
}

// ClientFiles returns the first client certificate and key found in lxkit's
// directory, then lxc's, then incus's. A directory that holds only one of
// the two files is an error matching errdefs.ErrInvalidArgument (a broken
// pair, not a missing one). Without any pair it returns an error matching
// errdefs.ErrNotFound that names where it looked.
func (d Dirs) ClientFiles() (ClientFiles, error) {
	var looked []string
	for _, c := range []ClientFiles{filesIn(d.LXKit, SourceLXKit), filesIn(d.LXC, SourceLXC), filesIn(d.Incus, SourceIncus)} {
		if c.Cert == "" {
			continue
		}
		looked = append(looked, filepath.Dir(c.Cert))
		ok, err := c.exist()
		if err != nil {
			return ClientFiles{}, err
		}
		if ok {
			return c, nil
		}
	}
	return ClientFiles{}, errdefs.Wrap(errdefs.ErrNotFound, nil,
		"no client certificate: looked for %s and %s in %s", ClientCertFile, ClientKeyFile, strings.Join(looked, ", "))
}

// DefaultClientFiles is ClientFiles in DefaultDirs.
func DefaultClientFiles() (ClientFiles, error) {
	d, err := DefaultDirs()
	if err != nil {
		return ClientFiles{}, err
	}
	return d.ClientFiles()
}

func filesIn(dir, source string) ClientFiles {
	if dir == "" {
		return ClientFiles{Source: source}
	}
	return ClientFiles{Cert: filepath.Join(dir, ClientCertFile), Key: filepath.Join(dir, ClientKeyFile), Source: source}
}

// exist reports whether both files exist; one without the other is an
// error.
func (f ClientFiles) exist() (bool, error) {
	cert, err := exists(f.Cert)
	if err != nil {
		return false, err
	}
	key, err := exists(f.Key)
	if err != nil {
		return false, err
	}
	switch {
	case cert && !key:
		return false, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s has no key beside it (%s missing)", f.Cert, f.Key)
	case key && !cert:
		return false, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s has no certificate beside it (%s missing)", f.Key, f.Cert)
	}
	return cert && key, nil
}

func exists(p string) (bool, error) {
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
