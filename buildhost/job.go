// Package buildhost runs jobs in throwaway containers, as a CI system uses
// build hosts: it makes a container, uploads the workspace, runs the steps
// with their output streamed, fetches the artifacts and deletes the
// container, whatever happened.
//
// A job file looks like this:
//
//	name: unit                      # default: the file's name
//	image: testimage                # or {alias:, fingerprint:, server:, protocol:, certificate:}
//	profiles: [default]
//	config: {limits.cpu: "1"}
//	devices:                        # e.g. a cache that outlives the job
//	  cache: {type: disk, pool: default, source: gocache, path: /root/go}
//	workspace: .                    # local folder, relative to this file
//	dir: /workspace                 # where it goes; the steps' working directory
//	user: root                      # who runs the steps (must exist in the image)
//	env: {GOFLAGS: -mod=vendor}
//	secrets: [NPM_TOKEN]            # from lxkit's environment; *** in the log
//	timeout: 30m                    # the whole job; default 1h
//	ephemeral: true                 # the daemon deletes the container once it stops
//	provision:                      # cloud-config applied before the steps
//	  - base.cfg                    # a #cloud-config file, relative to this file
//	  - runcmd: [[mkdir, /cache]]   # or cloud-config written here
//	packages: [make, git]           # as a cloud-config's packages:, after provision:
//	steps:
//	  - make                        # a plain string is a step's script
//	  - name: test
//	    run: |
//	      ./run-tests > report.txt
//	    timeout: 10m
//	    continue-on-error: true     # a failure does not stop the job
//	  - name: logs
//	    run: cat /var/log/app.log
//	    always: true                # runs even after a failed step
//	artifacts: [report.txt, out/]   # relative to dir; files or folders
//	properties: {go: "1.22"}        # ${go} in values; lxkit job run -p go=1.23 wins
//
// The provisioning stage (provision: and packages:) runs first, as root,
// before the workspace is copied in: package cloudconfig applies it
// through the container's transport (no cloud-init needed), and the job's
// Result reports it as a step of its own, named "provision". It may make
// the job's user. Properties are expanded in the names of its files but
// not in inline cloud-config, as in cloud-config files.
//
// An ephemeral job container is one the daemon deletes when it stops: a
// host that crashes or reboots under a job leaves nothing behind, where
// otherwise the container would wait for Reap.
//
// Scripts run with `/bin/sh -e -c`: a step stops at its first failing
// command. After a failed step only the steps marked always run.
// Properties are not expanded in scripts, whose ${NAME} is the shell's:
// give a script a property through env:, as GO: ${go}.
//
// A secret reaches the steps as an environment variable without ever being
// on a command line (the CLI driver's `lxc exec --env` would show it to
// ps): it is written to a file only the job's user can read, which each
// step reads before its script and which goes with the container (or is
// removed from a kept one).
// Its value, and each line of it, is replaced by *** in the log.
package buildhost

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/smallfile"
	"github.com/lxkit/lxkit/internal/yamlfile"
	"github.com/lxkit/lxkit/spec"
)

// Job is what to run in one throwaway container.
type Job struct {
	// Name names the job in messages and in the container's name.
	Name  string     `yaml:"name"`
	Image spec.Image `yaml:"image"`
	// Origin, "TEMPLATE/SNAPSHOT", makes the container a copy of a
	// template instance's snapshot instead of an image (copy-on-write
	// where the pool can): the fast path, packages and caches already in.
	Origin   string            `yaml:"origin"`
	Profiles []string          `yaml:"profiles"`
	Config   map[string]string `yaml:"config"`
	// Devices are added to the container's, e.g. a cache volume that
	// outlives the job's container.
	Devices map[string]map[string]string `yaml:"devices"`
	// Workspace is a local folder whose content is copied into Dir; empty
	// copies nothing.
	Workspace string `yaml:"workspace"`
	// Dir is the steps' working directory in the container; empty means
	// DefaultDir.
	Dir string `yaml:"dir"`
	// User runs the steps and owns Dir; empty means root.
	User string            `yaml:"user"`
	Env  map[string]string `yaml:"env"`
	// Secrets name environment variables whose values Run takes from
	// Options.Secrets (lxkit job run: from its own environment).
	Secrets []string `yaml:"secrets"`
	// Ephemeral makes the container one the daemon deletes when it stops
	// (driver.CreateOptions.Ephemeral), so that a crash leaves nothing.
	Ephemeral bool `yaml:"ephemeral"`
	// Provision is cloud-config applied, in order, before the steps (and
	// before the workspace is copied in); Packages are installed after
	// it, as a cloud-config's packages: would be. Load reads provision:
	// itself (see Provision).
	Provision []Provision `yaml:"-"`
	Packages  []string    `yaml:"packages"`
	// Timeout bounds the whole job; zero means DefaultTimeout.
	Timeout   Duration `yaml:"timeout"`
	Steps     []Step   `yaml:"steps"`
	Artifacts []string `yaml:"artifacts"`
	// Properties are the defaults of the file's ${NAME} properties.
	Properties map[string]string `yaml:"properties"`
}

// Provision is one part of a job's provisioning stage: a cloud-config
// file, or cloud-config written in the job file.
type Provision struct {
	// File is a #cloud-config file. Load makes a relative one relative to
	// the job file and parses it into Config.
	File string
	// Config is what is applied. Load parses it from File or from the
	// job file; a Job made in Go may give File alone, which Validate
	// reads.
	Config *cloudconfig.Config
}

// ProvisionStep names the provisioning stage in a Result's Steps.
const ProvisionStep = "provision"

// Step is one script of a job.
type Step struct {
	Name string            `yaml:"name"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	// Timeout stops the step (SIGTERM, then SIGKILL); zero means none
	// beyond the job's.
	Timeout Duration `yaml:"timeout"`
	// ContinueOnError records a failure without stopping the job.
	ContinueOnError bool `yaml:"continue-on-error"`
	// Always runs the step even after an earlier step failed.
	Always bool `yaml:"always"`
}

// UnmarshalYAML reads a plain string as the step's script.
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&s.Run)
	}
	type plain Step
	return yamlfile.DecodeStrict(n, (*plain)(s))
}

// Duration is a time.Duration written as "90s", "10m" or "1h30m".
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (such as 90s, 10m or 1h30m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MaxNameLen bounds a job's name, which messages, the summary and a
// configuration key of its container carry (the container's own name is
// made of its letters and digits).
const MaxNameLen = 128

// Defaults of a Job's optional fields.
const (
	DefaultDir     = "/workspace"
	DefaultTimeout = time.Hour
)

// Load reads a job file. props set the file's ${NAME} properties (and win
// over its properties:). A relative workspace is relative to the file.
func Load(file string, props map[string]string) (*Job, error) {
	data, err := smallfile.Read(file, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var j Job
	n, err := yamlfile.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if n != nil {
		if err := expandProperties(file, n, props); err != nil {
			return nil, err
		}
		prov := takeKey(n, "provision")
		if err := yamlfile.DecodeNode(file, n, &j); err != nil {
			return nil, err
		}
		if j.Provision, err = loadProvision(file, prov); err != nil {
			return nil, err
		}
		if err := checkPackages(file, n); err != nil {
			return nil, err
		}
	}
	if j.Name == "" {
		j.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if err := j.checkSource(); err != nil && n != nil {
		line := yamlfile.KeyLine(n, "origin")
		if line == 0 {
			line = yamlfile.KeyLine(n, "image")
		}
		if line > 0 {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
	}
	if j.Workspace != "" && !filepath.IsAbs(j.Workspace) {
		j.Workspace = filepath.Join(filepath.Dir(file), j.Workspace)
	}
	if err := j.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &j, nil
}

// takeKey removes key and its value from the mapping m, returning the
// key's and the value's nodes (nil when m has no such key).
func takeKey(m *yaml.Node, key string) []*yaml.Node {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			kv := slices.Clone(m.Content[i : i+2])
			m.Content = slices.Delete(m.Content, i, i+2)
			return kv
		}
	}
	return nil
}

// loadProvision reads the provision: of a job file (kv: its key and
// value, or nil): a list of cloud-config files, relative to the file, and
// maps of cloud-config modules, each parsed with the lines of the file
// that holds it.
func loadProvision(file string, kv []*yaml.Node) ([]Provision, error) {
	if kv == nil {
		return nil, nil
	}
	bad := func(n *yaml.Node, format string, args ...any) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %s", file, n.Line, fmt.Sprintf(format, args...))
	}
	list := kv[1]
	if list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null" {
		return nil, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, bad(list, "provision: want a list of cloud-config files and maps of cloud-config modules")
	}
	var out []Provision
	for i, it := range list.Content {
		for it.Kind == yaml.AliasNode && it.Alias != nil {
			it = it.Alias
		}
		switch {
		case it.Kind == yaml.ScalarNode && it.ShortTag() == "!!str" && strings.TrimSpace(it.Value) != "":
			p := Provision{File: it.Value}
			if !filepath.IsAbs(p.File) {
				p.File = filepath.Join(filepath.Dir(file), p.File)
			}
			cfg, err := readCloudConfig(p.File)
			if err != nil {
				return nil, bad(it, "provision[%d]: %v", i, err)
			}
			p.Config = cfg
			out = append(out, p)
		case it.Kind == yaml.MappingNode:
			cfg, err := cloudconfig.ParseNode(file, it)
			if err != nil {
				return nil, invalidError{err} // file:line:col: module[i]: ...
			}
			out = append(out, Provision{Config: cfg})
		default:
			return nil, bad(it, "provision[%d]: want a cloud-config file's name or a map of cloud-config modules", i)
		}
	}
	return out, nil
}

// invalidError is a *cloudconfig.ParseError, which names its file and
// line, classed as errdefs.ErrInvalidArgument.
type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == errdefs.ErrInvalidArgument }

// readCloudConfig reads and parses a cloud-config file.
func readCloudConfig(file string) (*cloudconfig.Config, error) {
	data, err := smallfile.Read(file, 1<<20)
	if err != nil {
		return nil, err
	}
	return cloudconfig.Parse(file, data)
}

// checkPackages checks the names of a job file's packages: as a
// cloud-config's would be, with the file's lines.
func checkPackages(file string, top *yaml.Node) error {
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "packages" {
			m := &yaml.Node{Kind: yaml.MappingNode, Content: top.Content[i : i+2]}
			if _, err := cloudconfig.ParseNode(file, m); err != nil {
				return invalidError{err}
			}
		}
	}
	return nil
}

// expandProperties replaces ${NAME} in the job file's values with its
// properties (those of properties:, then props), except in scripts: there
// ${NAME} is the shell's, and a property reaches a script through env:.
func expandProperties(file string, top *yaml.Node, props map[string]string) error {
	values := map[string]string{}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind == yaml.ScalarNode {
			out, err := spec.Expand(n.Value, values)
			if err != nil {
				return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %v", file, n.Line, err)
			}
			if out != n.Value {
				n.Value, n.Tag, n.Style = out, "!!str", yaml.DoubleQuotedStyle
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "properties" {
			var fileProps map[string]string
			if err := yamlfile.DecodeNode(file, top.Content[i+1], &fileProps); err != nil {
				return err
			}
			maps.Copy(values, fileProps)
		}
	}
	maps.Copy(values, props)
	for i := 0; i+1 < len(top.Content); i += 2 {
		if key := top.Content[i].Value; key != "properties" {
			if key == "provision" && top.Content[i+1].Kind == yaml.SequenceNode {
				// File names, not inline cloud-config, whose ${NAME} is
				// left as in a cloud-config file.
				for _, it := range top.Content[i+1].Content {
					if it.Kind == yaml.ScalarNode {
						if err := walk(it); err != nil {
							return err
						}
					}
				}
				continue
			}
			if key == "steps" && top.Content[i+1].Kind == yaml.SequenceNode {
				// Everything of a step but its script (a step written as
				// a plain string is one).
				for _, step := range top.Content[i+1].Content {
					for k := 0; step.Kind == yaml.MappingNode && k+1 < len(step.Content); k += 2 {
						if step.Content[k].Value == "run" {
							continue
						}
						if err := walk(step.Content[k+1]); err != nil {
							return err
						}
					}
				}
				continue
			}
			if err := walk(top.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSource checks that a job is made from an image or from an origin,
// not both, and that an origin is TEMPLATE/SNAPSHOT.
func (j *Job) checkSource() error {
	switch {
	case j.Image == (spec.Image{}) && j.Origin == "":
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "job %s: no image (or origin)", j.Name)
	case j.Image != (spec.Image{}) && j.Origin != "":
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "job %s: give image or origin, not both", j.Name)
	case j.Origin != "":
		tpl, snap, ok := strings.Cut(j.Origin, "/")
		if !ok || tpl == "" || snap == "" || strings.Contains(snap, "/") || strings.ContainsAny(j.Origin, " \t\n") {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
				"job %s: origin %q: want TEMPLATE/SNAPSHOT (an instance of the host, and one of its snapshots)", j.Name, j.Origin)
		}
	}
	return nil
}

// Validate checks a job before anything is made for it, filling in the
// defaults of Dir and step names.
func (j *Job) Validate() error {
	bad := func(format string, args ...any) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, format, args...)
	}
	if strings.TrimSpace(j.Name) == "" {
		return bad("job has no name")
	}
	if len(j.Name) > MaxNameLen || !utf8.ValidString(j.Name) || strings.ContainsFunc(j.Name, unicode.IsControl) {
		return bad("job name %q: want at most %d bytes of text without control characters", j.Name, MaxNameLen)
	}
	if err := j.checkSource(); err != nil {
		return err
	}
	if j.Dir == "" {
		j.Dir = DefaultDir
	}
	if !path.IsAbs(j.Dir) || path.Clean(j.Dir) != j.Dir || j.Dir == "/" {
		return bad("job %s: dir %q: want an absolute, clean path below /", j.Name, j.Dir)
	}
	if j.Workspace != "" {
		if fi, err := os.Stat(j.Workspace); err != nil {
			return bad("job %s: workspace: %v", j.Name, err)
		} else if !fi.IsDir() {
			return bad("job %s: workspace %s is not a folder", j.Name, j.Workspace)
		}
	}
	if err := checkEnv(j.Env); err != nil {
		return bad("job %s: env: %v", j.Name, err)
	}
	for i, name := range j.Secrets {
		if !isVarName(name) {
			return bad("job %s: secret %q: want a variable name (letters, digits, _)", j.Name, name)
		}
		if slices.Contains(j.Secrets[:i], name) {
			return bad("job %s: secret %s named twice", j.Name, name)
		}
		if _, ok := j.Env[name]; ok {
			return bad("job %s: %s is both in env and a secret", j.Name, name)
		}
	}
	if len(j.Steps) == 0 {
		return bad("job %s: no steps", j.Name)
	}
	for i := range j.Steps {
		s := &j.Steps[i]
		if strings.TrimSpace(s.Run) == "" {
			return bad("job %s: steps[%d]: nothing to run", j.Name, i)
		}
		if s.Name == "" {
			s.Name = firstLine(s.Run)
		}
		if err := checkEnv(s.Env); err != nil {
			return bad("job %s: step %s: env: %v", j.Name, s.Name, err)
		}
	}
	if _, err := j.provisioning(); err != nil {
		return bad("job %s: %v", j.Name, err)
	}
	seen := map[string]bool{}
	for _, a := range j.Artifacts {
		clean := path.Clean(a)
		if a == "" || path.IsAbs(a) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return bad("job %s: artifact %q: want a path inside dir", j.Name, a)
		}
		if seen[clean] {
			return bad("job %s: artifact %q named twice", j.Name, a)
		}
		seen[clean] = true
	}
	return nil
}

// provisioning is the job's provisioning stage as one cloud-config,
// reading the files of Provision items that have no Config yet; nil when
// the job has none.
func (j *Job) provisioning() (*cloudconfig.Config, error) {
	var cfgs []*cloudconfig.Config
	for i := range j.Provision {
		p := &j.Provision[i]
		if p.Config == nil {
			if p.File == "" {
				return nil, fmt.Errorf("provision[%d]: neither a file nor cloud-config", i)
			}
			cfg, err := readCloudConfig(p.File)
			if err != nil {
				return nil, fmt.Errorf("provision[%d]: %w", i, err)
			}
			p.Config = cfg
		}
		cfgs = append(cfgs, p.Config)
	}
	if len(j.Packages) > 0 {
		pkgs := &cloudconfig.Config{}
		for i, name := range j.Packages {
			pkgs.Packages = append(pkgs.Packages, cloudconfig.Package{Name: name, Origin: cloudconfig.Origin{Path: fmt.Sprintf("packages[%d]", i)}})
		}
		cfgs = append(cfgs, pkgs)
	}
	if len(cfgs) == 0 {
		return nil, nil
	}
	merged := cloudconfig.Merge(cfgs...)
	if err := merged.Validate(); err != nil {
		return nil, err
	}
	return merged, nil
}

func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("invalid variable %q", k)
		}
	}
	return nil
}

// isVarName reports whether a shell can read s as a variable name.
func isVarName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// firstLine names a step after its script, shortened.
func firstLine(script string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(script), "\n")
	if r := []rune(line); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return line
}
