// Package spec reads declarative instance configurations: YAML files
// that say how to make a container (image, profiles, config, devices,
// attached volumes and #cloud-config files), may include other files,
// and use properties such as ${instance}.
//
// A file looks like this:
//
//	include: [base.yaml]          # read first; this file's values win
//	image: testimage              # or {alias:, fingerprint:, server:, protocol:, certificate:}
//	# origin: tpl/snap1           # instead of image: a copy of instance tpl's snapshot snap1
//	profiles: [default]
//	config: {limits.memory: 256MiB}
//	devices:
//	  eth0: {type: nic, network: lxdbr0, name: eth0}
//	properties: {site: example.org}
//	volumes:                      # custom volumes, kept when the instance is rebuilt
//	  data: {pool: default, path: /srv/data}   # volume ${instance}-data unless volume: says
//	  logs: {path: /var/log/app, origin: tpl}  # if missing: a copy of tpl's volume of device logs
//	cloud-config: [web.cfg]       # applied in order through the API
//	cloud-config-mode: native     # or api (the default): see CloudConfigMode
//	placement: {spread: true}     # on a cluster: {target: m2}, {group: G}, spread
//
// Strings may use ${NAME} for a property: instance (the instance's
// name), those of properties: (an including file's win over an included
// one's) and those the caller gives (which win over both). $$ is a
// literal $. An unknown property, key or type is an error with the file
// and line.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/smallfile"
	"github.com/lxkit/lxkit/internal/yamlfile"
)

// Image says which image an instance is made from: an alias or a
// fingerprint, on the host or on an image server.
type Image struct {
	Alias       string `yaml:"alias,omitempty" json:"alias,omitempty"`
	Fingerprint string `yaml:"fingerprint,omitempty" json:"fingerprint,omitempty"`
	Server      string `yaml:"server,omitempty" json:"server,omitempty"`
	Protocol    string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Certificate string `yaml:"certificate,omitempty" json:"certificate,omitempty"`
}

// UnmarshalYAML reads a plain string as an alias.
func (i *Image) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&i.Alias)
	}
	type plain Image
	return yamlfile.DecodeStrict(n, (*plain)(i))
}

// Volume is a custom storage volume attached to the instance as a disk.
type Volume struct {
	// Pool is the storage pool; empty means "default".
	Pool string `yaml:"pool,omitempty" json:"pool,omitempty"`
	// Volume is the volume's name; empty means INSTANCE-DEVICE.
	Volume string `yaml:"volume,omitempty" json:"volume,omitempty"`
	// Path is where it is mounted in the container.
	Path string `yaml:"path" json:"path"`
	// Config is the volume's configuration when it is created (size...).
	Config map[string]string `yaml:"config,omitempty" json:"config,omitempty"`
	// Device holds extra keys of the disk device (readonly, ...).
	Device map[string]string `yaml:"device,omitempty" json:"device,omitempty"`
	// Origin, "TEMPLATE" or "TEMPLATE/SNAPSHOT", makes a missing volume
	// a copy of the template instance's volume: the custom volume that
	// the template's disk device of the same name holds (at that
	// volume's snapshot SNAPSHOT, if given). An existing volume is used
	// as it is.
	Origin string `yaml:"origin,omitempty" json:"origin,omitempty"`
}

// Placement says where on a cluster an instance goes. Empty leaves the
// choice to the daemon; a standalone host ignores it.
type Placement struct {
	// Target is the member to put it on.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Group is a cluster group: the daemon chooses a member of it (or,
	// with Spread, lxkit does).
	Group string `yaml:"group,omitempty" json:"group,omitempty"`
	// Spread puts the instances of a fleet evenly across the online
	// members (of Group, when given).
	Spread bool `yaml:"spread,omitempty" json:"spread,omitempty"`
}

// Spec is one instance's configuration, includes merged and properties
// expanded.
type Spec struct {
	// Name is the instance's name.
	Name  string `yaml:"name" json:"name"`
	Image Image  `yaml:"image,omitempty" json:"image"`
	// Origin, "TEMPLATE/SNAPSHOT", makes the instance's root a copy of
	// the snapshot of another instance of the host (a template) instead
	// of an image: Image is then empty. A later file's image: or origin:
	// replaces an included one's.
	Origin      string                       `yaml:"origin,omitempty" json:"origin,omitempty"`
	Profiles    []string                     `yaml:"profiles,omitempty" json:"profiles,omitempty"`
	Config      map[string]string            `yaml:"config,omitempty" json:"config,omitempty"`
	Devices     map[string]map[string]string `yaml:"devices,omitempty" json:"devices,omitempty"`
	Volumes     map[string]Volume            `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	CloudConfig []string                     `yaml:"cloud-config,omitempty" json:"cloud-config,omitempty"`
	// CloudConfigMode says who applies CloudConfig: CloudConfigAPI (the
	// default, written as "") or CloudConfigNative.
	CloudConfigMode string            `yaml:"cloud-config-mode,omitempty" json:"cloud-config-mode,omitempty"`
	Properties      map[string]string `yaml:"properties,omitempty" json:"properties,omitempty"`
	// Placement is where the instance goes on a cluster: not part of
	// what it is (Hash leaves it out), and it does not move once made.
	Placement *Placement `yaml:"placement,omitempty" json:"-"`
	// Files are the files read, the top one first, for messages.
	Files []string `yaml:"-" json:"files"`
}

// file is one file's content, as written.
type file struct {
	Include         []string                     `yaml:"include"`
	Image           *Image                       `yaml:"image"`
	Origin          *string                      `yaml:"origin"`
	Profiles        []string                     `yaml:"profiles"`
	Config          map[string]string            `yaml:"config"`
	Devices         map[string]map[string]string `yaml:"devices"`
	Volumes         map[string]Volume            `yaml:"volumes"`
	CloudConfig     []string                     `yaml:"cloud-config"`
	CloudConfigMode string                       `yaml:"cloud-config-mode"`
	Properties      map[string]string            `yaml:"properties"`
	Placement       *Placement                   `yaml:"placement"`
}

// Values of cloud-config-mode.
const (
	// CloudConfigAPI: lxkit applies the cloud-config files itself, through
	// the container's transport (package cloudconfig's subset; no
	// cloud-init needed in the image). A Spec holds it as "".
	CloudConfigAPI = "api"
	// CloudConfigNative: lxkit hands the files to the image's own
	// cloud-init, through the instance's cloud-init.user-data.
	CloudConfigNative = "native"
)

// Template is a configuration file read with its includes, not yet made
// into one instance's Spec.
type Template struct {
	path  string
	files []parsed // includes before includers, the top file last
}

type parsed struct {
	path string
	node *yaml.Node
	file file // decoded before properties are expanded, for includes and properties
}

// maxDepth bounds include chains.
const maxDepth = 16

// maxSize bounds a configuration file.
const maxSize = 1 << 20

// Load reads a configuration file and the files it includes (relative
// paths are relative to the including file). A file included twice is
// read once; a cycle is an error.
func Load(path string) (*Template, error) {
	t := &Template{path: path}
	if err := t.load(path, "", nil, map[string]bool{}); err != nil {
		return nil, err
	}
	return t, nil
}

// Path is the top file's path.
func (t *Template) Path() string { return t.path }

// load reads path, included at site ("file:line", "" for the top file)
// by the files of chain, and what it includes.
func (t *Template) load(path, site string, chain []string, done map[string]bool) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for _, p := range chain {
		if p == abs {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: include cycle: %s", site, strings.Join(append(chain, abs), " -> "))
		}
	}
	if done[abs] {
		return nil
	}
	if len(chain) >= maxDepth {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: includes nest deeper than %d files", site, maxDepth)
	}
	data, err := smallfile.Read(path, maxSize)
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		if site != "" {
			return fmt.Errorf("%s: include: %w", site, err)
		}
		return err
	}
	p, err := parse(path, data)
	if err != nil {
		return err
	}
	for i, inc := range p.file.Include {
		site := fmt.Sprintf("%s:%d", path, p.includeLine(i))
		if inc == "" {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: include: empty path", site)
		}
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		if err := t.load(inc, site, append(chain, abs), done); err != nil {
			return err
		}
	}
	done[abs] = true
	t.files = append(t.files, p)
	return nil
}

// includeLine is the line of the i-th file of include:.
func (p *parsed) includeLine(i int) int {
	m := p.node.Content[0]
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == "include" {
			if v := m.Content[k+1]; v.Kind == yaml.SequenceNode && i < len(v.Content) {
				return v.Content[i].Line
			}
			return m.Content[k].Line
		}
	}
	return 0
}

// parse reads one file's content (name is for messages); includes are
// not followed.
func parse(name string, data []byte) (parsed, error) {
	if bytes.HasPrefix(data, []byte("#cloud-config")) {
		return parsed{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"%s: a #cloud-config file, not an instance configuration: name it under cloud-config: in one", name)
	}
	doc, err := yamlfile.ParseDocument(name, data)
	if err != nil {
		return parsed{}, err
	}
	p := parsed{path: name, node: doc}
	if doc.Kind == 0 { // empty file
		return p, nil
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return parsed{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: expected a mapping of keys (image:, profiles:, ...)", name, doc.Line)
	}
	if err := yamlfile.DecodeStrict(doc.Content[0], &p.file); err != nil {
		return parsed{}, yamlfile.Error(name, err)
	}
	return p, nil
}

// Instance makes the Spec of the instance called name. props override
// the files' properties.
func (t *Template) Instance(name string, props map[string]string) (*Spec, error) {
	values := map[string]string{}
	for _, p := range t.files {
		for k, v := range p.file.Properties {
			values[k] = v
		}
	}
	for k, v := range props {
		values[k] = v
	}
	values["instance"] = name
	s := &Spec{Name: name, Properties: values}
	for i := len(t.files) - 1; i >= 0; i-- {
		s.Files = append(s.Files, t.files[i].path)
	}
	for _, p := range t.files {
		if p.node.Kind == 0 {
			continue
		}
		n := cloneNode(p.node.Content[0])
		if err := expand(p.path, n, values); err != nil {
			return nil, err
		}
		var f file
		if err := yamlfile.DecodeStrict(n, &f); err != nil {
			return nil, yamlfile.Error(p.path, err)
		}
		if err := checkOrigins(p.path, n, &f, name); err != nil {
			return nil, err
		}
		switch f.CloudConfigMode {
		case "", CloudConfigAPI, CloudConfigNative:
		default:
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: cloud-config-mode: %q is not %s or %s",
				p.path, yamlfile.KeyLine(n, "cloud-config-mode"), f.CloudConfigMode, CloudConfigAPI, CloudConfigNative)
		}
		merge(s, &f, p.path)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// merge lays f over s: scalars and map keys of f win, lists add up.
func merge(s *Spec, f *file, path string) {
	if f.Image != nil {
		s.Image, s.Origin = *f.Image, ""
	}
	if f.Origin != nil {
		s.Image, s.Origin = Image{}, *f.Origin
	}
	switch f.CloudConfigMode {
	case CloudConfigAPI:
		s.CloudConfigMode = "" // the default: one Hash for both spellings
	case CloudConfigNative:
		s.CloudConfigMode = f.CloudConfigMode
	}
	if f.Placement != nil {
		p := *f.Placement
		s.Placement = &p
	}
	for _, p := range f.Profiles {
		if !contains(s.Profiles, p) {
			s.Profiles = append(s.Profiles, p)
		}
	}
	s.Config = mergeMap(s.Config, f.Config)
	if len(f.Devices) > 0 && s.Devices == nil {
		s.Devices = map[string]map[string]string{}
	}
	for k, v := range f.Devices {
		s.Devices[k] = v
	}
	if len(f.Volumes) > 0 && s.Volumes == nil {
		s.Volumes = map[string]Volume{}
	}
	for k, v := range f.Volumes {
		s.Volumes[k] = v
	}
	for _, c := range f.CloudConfig {
		if !filepath.IsAbs(c) {
			c = filepath.Join(filepath.Dir(path), c)
		}
		if !contains(s.CloudConfig, c) {
			s.CloudConfig = append(s.CloudConfig, c)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mergeMap(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// validate checks what every instance needs, with the top file named.
func (s *Spec) validate() error {
	bad := func(format string, args ...any) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: "+format, append([]any{s.Files[0]}, args...)...)
	}
	n := 0
	for _, set := range []bool{s.Image.Alias != "", s.Image.Fingerprint != ""} {
		if set {
			n++
		}
	}
	if n != 1 && s.Origin == "" {
		return bad("image: give an alias or a fingerprint (one of them), or origin: TEMPLATE/SNAPSHOT")
	}
	if p := s.Placement; p != nil && p.Target != "" && (p.Group != "" || p.Spread) {
		return bad("placement: target names one member; give it alone, or group and/or spread")
	}
	names := make([]string, 0, len(s.Volumes))
	for name := range s.Volumes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := s.Volumes[name]
		if v.Path == "" || !strings.HasPrefix(v.Path, "/") {
			return bad("volume %s: path must be an absolute path in the container", name)
		}
		if _, clash := s.Devices[name]; clash {
			return bad("volume %s: a device of that name exists too", name)
		}
		if v.Pool == "" {
			v.Pool = "default"
		}
		if v.Volume == "" {
			v.Volume = s.Name + "-" + name
		}
		s.Volumes[name] = v
	}
	return nil
}

// checkOrigins checks the origin: of one file (f, decoded from n, of
// path) and of its volumes, for the instance called name: an origin is
// TEMPLATE/SNAPSHOT (a volume's may be TEMPLATE alone), and the
// template is another instance (a rebuild deletes the instance, and its
// snapshots with it, before it copies the origin).
func checkOrigins(path string, n *yaml.Node, f *file, name string) error {
	bad := func(line int, format string, args ...any) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: "+format, append([]any{path, line}, args...)...)
	}
	check := func(origin string, snapshotNeeded bool, line int, what string) error {
		tpl, snap, hasSnap := strings.Cut(origin, "/")
		switch {
		case tpl == "" || (hasSnap && snap == "") || strings.Contains(snap, "/") || strings.ContainsAny(origin, " \t\n") || (snapshotNeeded && !hasSnap):
			form := "TEMPLATE/SNAPSHOT"
			if !snapshotNeeded {
				form = "TEMPLATE or TEMPLATE/SNAPSHOT"
			}
			return bad(line, "%s %q: want %s (an instance of the host, and one of its snapshots)", what, origin, form)
		case tpl == name:
			return bad(line, "%s %q: the instance %s cannot be its own template", what, origin, name)
		}
		return nil
	}
	if f.Origin != nil {
		line := yamlfile.KeyLine(n, "origin")
		if f.Image != nil {
			return bad(line, "give image: or origin:, not both")
		}
		if err := check(*f.Origin, true, line, "origin"); err != nil {
			return err
		}
	}
	for _, vol := range slices.Sorted(maps.Keys(f.Volumes)) {
		if o := f.Volumes[vol].Origin; o != "" {
			if err := check(o, false, yamlfile.KeyLine(n, "volumes", vol, "origin"), "volume "+vol+": origin"); err != nil {
				return err
			}
		}
	}
	return nil
}

// expand replaces ${NAME} in every string of n.
func expand(path string, n *yaml.Node, values map[string]string) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!binary" {
		out, err := Expand(n.Value, values)
		if err != nil {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %s", path, n.Line, err)
		}
		if out != n.Value {
			n.Value = out
			n.Tag = "!!str"
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	for _, c := range n.Content {
		if err := expand(path, c, values); err != nil {
			return err
		}
	}
	return nil
}

// Expand replaces ${NAME} in s with values[NAME]; $$ is a literal $. An
// unknown name or an unclosed ${ is an error.
func Expand(s string, values map[string]string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q", s)
			}
			name := s[i+2 : i+2+end]
			v, ok := values[name]
			if !ok {
				return "", fmt.Errorf("unknown property ${%s} (known: %s)", name, strings.Join(sortedKeys(values), ", "))
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = cloneNode(x)
	}
	return &c
}
