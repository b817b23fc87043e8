// Package debrepo knows lxkit's local Debian package source for tests, a
// flat repository of a few real bookworm packages that `make hosts` builds
// (scripts/debrepo.sh): where it is cached, what it holds, and how to
// serve it to a container over HTTP from this machine's own address on the
// container's network, so that apt's traffic stays between the two.
package debrepo

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Dir returns the newest cached repository, or an error that says how to
// make one.
func Dir() (string, error) {
	dirs, _ := filepath.Glob("/var/cache/lxkit/debrepo-v*")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "Release")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", errors.New("no Debian package source in /var/cache/lxkit (run `make hosts`)")
	}
	sort.Strings(ok)
	return ok[len(ok)-1], nil
}

// Package is one package of the repository's index.
type Package struct {
	Name, Version string
}

// Packages reads the index of the repository in dir, in its order.
func Packages(dir string) ([]Package, error) {
	f, err := os.Open(filepath.Join(dir, "Packages"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pkgs []Package
	var p Package
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "Package":
			p.Name = strings.TrimSpace(v)
		case "Version":
			p.Version = strings.TrimSpace(v)
		case "":
			if p.Name != "" {
				pkgs = append(pkgs, p)
			}
			p = Package{}
		}
	}
	if p.Name != "" {
		pkgs = append(pkgs, p)
	}
	return pkgs, sc.Err()
}

// Versions returns the versions of the package name in pkgs, in the
// index's order.
func Versions(pkgs []Package, name string) []string {
	var vs []string
	for _, p := range pkgs {
		if p.Name == name {
			vs = append(vs, p.Version)
		}
	}
	return vs
}

// Server serves a repository over HTTP.
type Server struct {
	URL string // "http://10.77.0.1:41234/"

	srv *http.Server
	mu  sync.Mutex
	got []string
}

// Serve serves dir over HTTP on this machine's address on the network of
// peer (a container's IPv4 address: the address of the bridge it is on),
// on a port of the kernel's choosing, until Close.
func Serve(dir string, peer string) (*Server, error) {
	ip, err := HostAddress(peer)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String() + "/"}
	files := http.FileServer(http.Dir(dir)) // not a ServeMux: apt asks for /./Release
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.got = append(s.got, r.URL.Path)
		s.mu.Unlock()
		files.ServeHTTP(w, r)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// SourcesList returns an apt sources.list that names the repository
// alone (unsigned, so trusted).
func (s *Server) SourcesList() string {
	return "deb [trusted=yes] " + s.URL + " ./\n"
}

// Requests returns the paths asked for since the last call, and forgets
// them.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// HostAddress returns this machine's IPv4 address on the network that
// holds peer.
func HostAddress(peer string) (net.IP, error) {
	p := net.ParseIP(peer).To4()
	if p == nil {
		return nil, fmt.Errorf("%q is not an IPv4 address", peer)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && n.IP.To4() != nil && n.Contains(p) {
			return n.IP, nil
		}
	}
	return nil, fmt.Errorf("this machine has no address on the network of %s", peer)
}
