package cloudconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/internal/unixmode"
	"github.com/lxkit/lxkit/internal/yamlfile"
)

// ErrNotCloudConfig is matched (errors.Is) by the error for a file that
// does not begin with the line "#cloud-config".
var ErrNotCloudConfig = errors.New("not a cloud-config file")

// ParseError is a problem in a cloud-config file, at a position.
type ParseError struct {
	Origin Origin
	Err    error
}

// Error returns "file:line:col: path: problem".
func (e *ParseError) Error() string {
	if p := e.Origin.position(); p != "" {
		return p + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxNodes bounds the YAML nodes Parse visits, aliases expanded.
const maxNodes = 100_000

// MaxContent bounds the write_files contents of a file, once decoded,
// together: each alias of a content counts again. A Config that holds
// more (several files merged) is refused by Validate.
const MaxContent = 16 << 20

// Parse reads one cloud-config file. name is used in errors and in each
// item's Origin. Any problem, including a key or module it does not know,
// is a *ParseError naming the file and line.
func Parse(name string, data []byte) (*Config, error) {
	if err := checkHeader(name, data); err != nil {
		return nil, err
	}
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if root == nil {
		return cfg, nil
	}
	d := &decoder{file: name}
	if err := d.config(root, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func checkHeader(name string, data []byte) error {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	first := string(bytes.TrimRight(line, " \t\r"))
	if first == Header {
		return nil
	}
	msg := fmt.Sprintf("the first line must be %q", Header)
	switch {
	case strings.HasPrefix(first, "## template:"):
		msg = "templates are not supported: render the file first"
	case strings.HasPrefix(first, "#cloud-config-"):
		msg = fmt.Sprintf("%s files are not supported: only %s", first, Header)
	case strings.HasPrefix(first, "#!"):
		msg = "this is a script, not a cloud-config file: run it with runcmd"
	}
	return &ParseError{Origin: Origin{File: name, Line: 1}, Err: fmt.Errorf("%w: %s", ErrNotCloudConfig, msg)}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (?s:(.*))$`)

// parseYAML returns the root node of the one document in data, or nil for
// an empty document.
func parseYAML(name string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The parser is third-party code run on untrusted input: a bug
		// there must be an error for this file, not a crash.
		if r := recover(); r != nil {
			root, err = nil, &ParseError{Origin: Origin{File: name}, Err: fmt.Errorf("YAML parser failed: %v", r)}
		}
	}()
	fail := func(err error) error {
		o := Origin{File: name}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			o.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return &ParseError{Origin: o, Err: errors.New(msg)}
	}
	if err := yamlfile.Check(name, data); err != nil {
		return nil, limitError(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fail(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &ParseError{Origin: Origin{File: name, Line: next.Line}, Err: errors.New("a second YAML document: a cloud-config file holds one")}
	case !errors.Is(err, io.EOF):
		return nil, fail(err)
	}
	if err := yamlfile.CheckTree(name, &doc); err != nil {
		return nil, limitError(err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// limitError is a refusal of package yamlfile as a *ParseError.
func limitError(err error) error {
	var le *yamlfile.LineError
	if errors.As(err, &le) {
		return &ParseError{Origin: Origin{File: le.File, Line: le.Line}, Err: errors.New(le.Msg)}
	}
	return err
}

// decoder walks the YAML tree of one file.
type decoder struct {
	file    string
	nodes   int
	decoded int // bytes of write_files content
}

func (d *decoder) at(n *yaml.Node, path string) Origin {
	return Origin{File: d.file, Line: n.Line, Column: n.Column, Path: path}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &ParseError{Origin: d.at(n, path), Err: fmt.Errorf(format, args...)}
}

// wrap gives a value check's error the position of n.
func (d *decoder) wrap(n *yaml.Node, path string, err error) error {
	if err == nil {
		return nil
	}
	return &ParseError{Origin: d.at(n, path), Err: err}
}

// resolve follows an alias and counts the node against the budget.
func (d *decoder) resolve(n *yaml.Node, path string) (*yaml.Node, error) {
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops > 100 {
			return nil, d.errorf(n, path, "unresolvable alias *%s", n.Value)
		}
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes {
		return nil, d.errorf(n, path, "more than %d YAML values (with aliases expanded)", maxNodes)
	}
	return n, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a map"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// pair is one key of a map, merge keys (<<) expanded.
type pair struct {
	key  string
	k, v *yaml.Node
}

// mapping returns the entries of a map (null is an empty map). Explicit
// keys come first and win over merged ones; a key given twice is an error.
func (d *decoder) mapping(n *yaml.Node, path string) ([]pair, error) {
	n, err := d.resolve(n, path)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, path, "want a map, got %s", describe(n))
	}
	var out, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k, err = d.resolve(k, path); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return nil, d.errorf(k, path, "a map key must be a string, got %s", describe(k))
		}
		if k.ShortTag() == "!!merge" {
			m, err := d.merged(v, path)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		if seen[k.Value] {
			return nil, d.errorf(k, path, "key %q given twice", k.Value)
		}
		seen[k.Value] = true
		out = append(out, pair{k.Value, k, v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// merged returns the entries that a merge key (<<: *a, or <<: [*a, *b])
// brings in, earlier maps first.
func (d *decoder) merged(v *yaml.Node, path string) ([]pair, error) {
	v, err := d.resolve(v, path)
	if err != nil {
		return nil, err
	}
	if v.Kind != yaml.SequenceNode {
		return d.mapping(v, path)
	}
	var out []pair
	for _, m := range v.Content {
		ps, err := d.mapping(m, path)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// sequence returns the items of a list (null is an empty list).
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, error) {
	n, err := d.resolve(n, path)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errorf(n, path, "want a list, got %s", describe(n))
	}
	return n.Content, nil
}

// scalar returns a resolved scalar node that is not null.
func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, error) {
	n, err := d.resolve(n, path)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return nil, d.errorf(n, path, "want %s, got %s", want, describe(n))
	}
	return n, nil
}

func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	n, err := d.scalar(n, path, "a string")
	if err != nil {
		return "", err
	}
	return n.Value, nil
}

// boolean reads true or false, and YAML 1.1's unquoted yes, no, on, off,
// which cloud-init's parser reads as booleans too.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, error) {
	n, err := d.scalar(n, path, "true or false")
	if err != nil {
		return false, err
	}
	if n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b, nil
		}
	}
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
		switch strings.ToLower(n.Value) {
		case "yes", "on", "y":
			return true, nil
		case "no", "off", "n":
			return false, nil
		}
	}
	return false, d.errorf(n, path, "want true or false, got %s", describe(n))
}

// integer reads a whole number, also when quoted.
func (d *decoder) integer(n *yaml.Node, path string) (int, error) {
	n, err := d.scalar(n, path, "a number")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
	if err != nil || v < 0 || v > 1<<32-2 {
		return 0, d.errorf(n, path, "want a number from 0 to 4294967294, got %s", describe(n))
	}
	return int(v), nil
}

// names reads a list of strings, or one string of comma-separated names.
func (d *decoder) names(n *yaml.Node, path string) ([]string, error) {
	n, err := d.resolve(n, path)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode {
		var out []string
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	items, err := d.sequence(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := d.str(it, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// strings reads a list of strings; one string is a list of one.
func (d *decoder) strings(n *yaml.Node, path string) ([]string, error) {
	n, err := d.resolve(n, path)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	items, err := d.sequence(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := d.str(it, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// unknown is the error for a key that is not in known, with a suggestion
// when one is close, or the reason when the key is one this package
// knows and refuses.
func (d *decoder) unknown(k *yaml.Node, key, path, what string, known []string, refused map[string]string) error {
	if why, ok := refused[key]; ok {
		return d.errorf(k, path, "%s %q is not supported: %s", what, k.Value, why)
	}
	msg := fmt.Sprintf("unknown %s %q", what, k.Value)
	if s := closest(key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return &ParseError{Origin: d.at(k, path), Err: errors.New(msg)}
}

type moduleFunc func(d *decoder, c *Config, p pair) error

// modules are the supported top-level keys.
var modules = map[string]moduleFunc{
	"write_files":       (*decoder).writeFiles,
	"hostname":          (*decoder).hostname,
	"fqdn":              (*decoder).hostname,
	"preserve_hostname": (*decoder).flag,
	"manage_etc_hosts":  (*decoder).manageEtcHosts,
	"groups":            (*decoder).groups,
	"users":             (*decoder).users,
	"timezone":          (*decoder).timezone,
	"package_update":    (*decoder).flag,
	"package_upgrade":   (*decoder).flag,
	"packages":          (*decoder).packages,
	"runcmd":            (*decoder).runcmd,
}

const defaultUser = "the distribution's default user is not supported: name the user under users"

// refusedModules are cloud-init modules and settings that Parse refuses,
// with the reason.
var refusedModules = map[string]string{
	"bootcmd":                    "it runs at every boot, and Apply runs once: use runcmd",
	"apt":                        "package sources and proxies are not managed",
	"yum_repos":                  "package sources are not managed",
	"zypper":                     "package sources are not managed",
	"snap":                       "snaps are not supported",
	"apt_update":                 "write package_update",
	"apt_upgrade":                "write package_upgrade",
	"package_reboot_if_required": "Apply does not reboot the container",
	"user":                       defaultUser,
	"ssh_authorized_keys":        "these are the default user's keys: give them to a user under users",
	"disable_root":               defaultUser,
	"chpasswd":                   "set a password hash with users[].passwd",
	"password":                   "set a password hash with users[].passwd",
	"ssh_pwauth":                 "the ssh server is not configured",
	"ssh":                        "the ssh server is not configured",
	"ssh_keys":                   "the ssh server's keys are not managed",
	"ssh_deletekeys":             "the ssh server's keys are not managed",
	"ssh_genkeytypes":            "the ssh server's keys are not managed",
	"ssh_import_id":              "it needs the network: list the keys in users[].ssh_authorized_keys",
	"ca_certs":                   "write the certificate with write_files and run update-ca-certificates with runcmd",
	"ca-certs":                   "write the certificate with write_files and run update-ca-certificates with runcmd",
	"locale":                     "not supported",
	"ntp":                        "a container keeps its host's clock",
	"mounts":                     "give the container devices instead",
	"swap":                       "not supported",
	"disk_setup":                 "not supported",
	"fs_setup":                   "not supported",
	"growpart":                   "not supported",
	"resize_rootfs":              "not supported",
	"power_state":                "Apply does not stop or reboot the container",
	"phone_home":                 "not supported",
	"final_message":              "not supported",
	"output":                     "command output goes to ApplyOptions.Stdout and Stderr",
	"rsyslog":                    "not supported",
	"resolv_conf":                "not supported",
	"keyboard":                   "not supported",
	"random_seed":                "not supported",
	"lxd":                        "not supported",
	"prefer_fqdn_over_hostname":  "not supported",
	"create_hostname_file":       "not supported",
	"merge_how":                  "cloud-init's merge directives are not supported: Merge appends lists and lets later settings win",
	"merge_type":                 "cloud-init's merge directives are not supported: Merge appends lists and lets later settings win",
	"cloud_init_modules":         "module lists are cloud-init's own settings",
	"cloud_config_modules":       "module lists are cloud-init's own settings",
	"cloud_final_modules":        "module lists are cloud-init's own settings",
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d *decoder) config(root *yaml.Node, c *Config) error {
	ps, err := d.mapping(root, "")
	if err != nil {
		return err
	}
	for _, p := range ps {
		f, ok := modules[p.key]
		if !ok {
			return d.unknown(p.k, p.key, "", "module", keys(modules), refusedModules)
		}
		if err := f(d, c, p); err != nil {
			return err
		}
	}
	if c.Hostname != "" && c.FQDN != "" && !strings.Contains(c.FQDN, ".") {
		return &ParseError{Origin: c.origin("fqdn"), Err: fmt.Errorf("fqdn %q has no domain", c.FQDN)}
	}
	return nil
}

// set records where a scalar setting was made.
func (d *decoder) set(c *Config, p pair) {
	if c.Origins == nil {
		c.Origins = map[string]Origin{}
	}
	c.Origins[p.key] = d.at(p.k, p.key)
}

func (d *decoder) flag(c *Config, p pair) error {
	if v, err := d.resolve(p.v, p.key); err != nil || isNull(v) {
		return err
	}
	b, err := d.boolean(p.v, p.key)
	if err != nil {
		return err
	}
	switch p.key {
	case "preserve_hostname":
		c.PreserveHostname = b
	case "package_update":
		c.PackageUpdate = b
	case "package_upgrade":
		c.PackageUpgrade = b
	}
	d.set(c, p)
	return nil
}

func (d *decoder) manageEtcHosts(c *Config, p pair) error {
	v, err := d.resolve(p.v, p.key)
	if err != nil || isNull(v) {
		return err
	}
	if v.Kind == yaml.ScalarNode && (v.Value == "localhost" || v.Value == "template") {
		return d.errorf(v, p.key, "%q is not supported: only true and false", v.Value)
	}
	if c.ManageEtcHosts, err = d.boolean(v, p.key); err != nil {
		return err
	}
	d.set(c, p)
	return nil
}

func (d *decoder) hostname(c *Config, p pair) error {
	v, err := d.resolve(p.v, p.key)
	if err != nil || isNull(v) {
		return err
	}
	s, err := d.str(v, p.key)
	if err != nil {
		return err
	}
	if err := d.wrap(v, p.key, validHostname(s)); err != nil {
		return err
	}
	if p.key == "fqdn" {
		c.FQDN = s
	} else {
		c.Hostname = s
	}
	d.set(c, p)
	return nil
}

func (d *decoder) timezone(c *Config, p pair) error {
	v, err := d.resolve(p.v, p.key)
	if err != nil || isNull(v) {
		return err
	}
	s, err := d.str(v, p.key)
	if err != nil {
		return err
	}
	if err := d.wrap(v, p.key, validTimezone(s)); err != nil {
		return err
	}
	c.Timezone = s
	d.set(c, p)
	return nil
}

func (d *decoder) runcmd(c *Config, p pair) error {
	items, err := d.sequence(p.v, p.key)
	if err != nil {
		return err
	}
	for i, it := range items {
		path := fmt.Sprintf("runcmd[%d]", i)
		it, err := d.resolve(it, path)
		if err != nil {
			return err
		}
		cmd := Command{Origin: d.at(it, path)}
		if cmd.Shell, cmd.Args, err = d.scalarOrList(it, path, "a command string or a list of arguments", ""); err != nil {
			return err
		}
		if err := d.wrap(it, path, cmd.validate()); err != nil {
			return err
		}
		c.Runcmd = append(c.Runcmd, cmd)
	}
	return nil
}

// scalarOrList reads it (at path) as a string, or as a list of strings;
// want says what it may be, and note what follows, for the error when it
// is neither.
func (d *decoder) scalarOrList(it *yaml.Node, path, want, note string) (string, []string, error) {
	switch it.Kind {
	case yaml.ScalarNode:
		s, err := d.str(it, path)
		return s, nil, err
	case yaml.SequenceNode:
		items, err := d.sequence(it, path)
		if err != nil {
			return "", nil, err
		}
		list := make([]string, 0, len(items))
		for j, item := range items {
			s, err := d.str(item, fmt.Sprintf("%s[%d]", path, j))
			if err != nil {
				return "", nil, err
			}
			list = append(list, s)
		}
		return "", list, nil
	}
	return "", nil, d.errorf(it, path, "want %s, got %s%s", want, describe(it), note)
}

func (d *decoder) packages(c *Config, p pair) error {
	items, err := d.sequence(p.v, p.key)
	if err != nil {
		return err
	}
	for i, it := range items {
		path := fmt.Sprintf("packages[%d]", i)
		it, err := d.resolve(it, path)
		if err != nil {
			return err
		}
		pkg := Package{Origin: d.at(it, path)}
		name, parts, err := d.scalarOrList(it, path, "a package name or [name, version]", " (the {apt: [...], snap: [...]} form is not supported)")
		switch {
		case err != nil:
			return err
		case it.Kind == yaml.SequenceNode && (len(parts) < 1 || len(parts) > 2):
			return d.errorf(it, path, "want [name] or [name, version], got %d items", len(parts))
		case it.Kind == yaml.SequenceNode:
			name = parts[0]
			if len(parts) == 2 {
				pkg.Version = parts[1]
			}
		}
		pkg.Name = name
		if err := d.wrap(it, path, pkg.validate()); err != nil {
			return err
		}
		c.Packages = append(c.Packages, pkg)
	}
	return nil
}

var fileKeys = []string{"path", "content", "encoding", "permissions", "owner", "append", "defer"}

var refusedFileKeys = map[string]string{
	"source": "fetching a URL is not supported: give the content",
}

func (d *decoder) writeFiles(c *Config, p pair) error {
	items, err := d.sequence(p.v, p.key)
	if err != nil {
		return err
	}
	for i, it := range items {
		path := fmt.Sprintf("write_files[%d]", i)
		f, err := d.writeFile(it, path)
		if err != nil {
			return err
		}
		c.WriteFiles = append(c.WriteFiles, *f)
	}
	return nil
}

func (d *decoder) writeFile(n *yaml.Node, path string) (*File, error) {
	n, err := d.resolve(n, path)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, path, "want a map with path and content, got %s", describe(n))
	}
	ps, err := d.mapping(n, path)
	if err != nil {
		return nil, err
	}
	f := &File{Origin: d.at(n, path)}
	var content, encoding *yaml.Node
	hasPath := false
	for _, p := range ps {
		kp := path + "." + p.key
		switch p.key {
		case "path":
			if f.Path, err = d.str(p.v, kp); err != nil {
				return nil, err
			}
			err = d.wrap(p.v, kp, checkFilePath(f.Path))
			hasPath = true
		case "content":
			content = p.v
		case "encoding":
			encoding = p.v
		case "permissions":
			var m fs.FileMode
			m, err = d.permissions(p.v, kp)
			f.Permissions = &m
		case "owner":
			if f.Owner, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, checkOwner(f.Owner))
			}
		case "append":
			f.Append, err = d.boolean(p.v, kp)
		case "defer":
			f.Defer, err = d.boolean(p.v, kp)
		default:
			err = d.unknown(p.k, p.key, path, "key", fileKeys, refusedFileKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasPath {
		return nil, d.errorf(n, path, "path is missing")
	}
	if f.Content, err = d.content(content, encoding, path); err != nil {
		return nil, err
	}
	return f, nil
}

// permissions reads an octal mode, quoted or not: "0640", 0640, "640" and
// "0o640" are all rw-r-----.
func (d *decoder) permissions(n *yaml.Node, path string) (fs.FileMode, error) {
	n, err := d.scalar(n, path, "an octal mode such as \"0644\"")
	if err != nil {
		return 0, err
	}
	s := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || s == "" || v > 0o7777 {
		return 0, d.errorf(n, path, "want an octal mode such as \"0644\", got %s", describe(n))
	}
	return unixmode.From(uint32(v)), nil
}

// content decodes a write_files content by its encoding.
func (d *decoder) content(n, enc *yaml.Node, path string) ([]byte, error) {
	encoding := "text"
	if enc != nil {
		e, err := d.str(enc, path+".encoding")
		if err != nil {
			return nil, err
		}
		encoding = strings.ToLower(e)
	}
	var gz, b64 bool
	switch encoding {
	case "text", "text/plain":
	case "b64", "base64":
		b64 = true
	case "gz", "gzip":
		gz = true
	case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64":
		gz, b64 = true, true
	default:
		return nil, d.errorf(enc, path+".encoding", "unknown encoding %q (want text, b64, base64, gz, gzip or gz+b64)", encoding)
	}
	if n == nil {
		return []byte{}, nil
	}
	kp := path + ".content"
	at := n // the alias, if one stands for the content
	n, err := d.resolve(n, kp)
	if err != nil {
		return nil, err
	}
	if isNull(n) {
		return []byte{}, nil
	}
	s, err := d.str(n, kp)
	if err != nil {
		return nil, err
	}
	left := MaxContent - d.decoded
	data := []byte(s)
	if n.ShortTag() == "!!binary" {
		if data, err = decodeBase64(s); err != nil {
			return nil, d.errorf(n, kp, "!!binary value: %v", err)
		}
	}
	if b64 {
		if data, err = decodeBase64(string(data)); err != nil {
			return nil, d.errorf(n, kp, "%s content: %v", encoding, err)
		}
	}
	if gz {
		if data, err = gunzip(data, left); err != nil {
			return nil, d.errorf(n, kp, "%s content: %v", encoding, err)
		}
	}
	if len(data) > left {
		return nil, d.errorf(at, kp, "more than %d MiB of write_files content in this file (aliases count each time)", MaxContent>>20)
	}
	d.decoded += len(data)
	return data, nil
}

// decodeBase64 decodes standard base64, padded or not, ignoring white
// space as cloud-init does.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	return b, nil
}

// gunzip uncompresses data, up to max+1 bytes: more is too much.
func gunzip(data []byte, max int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not gzip data: %v", err)
	}
	// The trailer gives the size (modulo 4 GiB): the buffer is made
	// once, unless the trailer lies.
	size := 0
	if len(data) >= 4 {
		size = int(binary.LittleEndian.Uint32(data[len(data)-4:]))
	}
	out := bytes.NewBuffer(make([]byte, 0, min(size, max)+1+bytes.MinRead)) // ReadFrom keeps MinRead free
	if _, err := io.Copy(out, io.LimitReader(zr, int64(max)+1)); err != nil {
		return nil, fmt.Errorf("gzip data: %v", err)
	}
	return out.Bytes(), nil
}

func (d *decoder) groups(c *Config, p pair) error {
	v, err := d.resolve(p.v, p.key)
	if err != nil || isNull(v) {
		return err
	}
	add := func(k *yaml.Node, name string, members *yaml.Node, path string) error {
		g := Group{Name: name, Origin: d.at(k, path)}
		if members != nil {
			if g.Members, err = d.names(members, path+".members"); err != nil {
				return err
			}
		}
		if err := d.wrap(k, path, g.validate()); err != nil {
			return err
		}
		c.Groups = append(c.Groups, g)
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode: // {name: [members], ...}
		ps, err := d.mapping(v, "groups")
		if err != nil {
			return err
		}
		for _, gp := range ps {
			if err := add(gp.k, gp.key, gp.v, fmt.Sprintf("groups[%d]", len(c.Groups))); err != nil {
				return err
			}
		}
		return nil
	case yaml.ScalarNode: // "a, b"
		names, err := d.names(v, "groups")
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := add(v, name, nil, fmt.Sprintf("groups[%d]", len(c.Groups))); err != nil {
				return err
			}
		}
		return nil
	}
	items, err := d.sequence(v, "groups")
	if err != nil {
		return err
	}
	for i, it := range items {
		path := fmt.Sprintf("groups[%d]", i)
		it, err := d.resolve(it, path)
		if err != nil {
			return err
		}
		if it.Kind != yaml.MappingNode {
			name, err := d.str(it, path)
			if err != nil {
				return err
			}
			if err := add(it, name, nil, path); err != nil {
				return err
			}
			continue
		}
		ps, err := d.mapping(it, path)
		if err != nil {
			return err
		}
		for _, gp := range ps {
			if err := add(gp.k, gp.key, gp.v, path); err != nil {
				return err
			}
		}
	}
	return nil
}

var userKeys = []string{"name", "gecos", "homedir", "primary_group", "groups", "shell", "uid", "system",
	"no_create_home", "lock_passwd", "passwd", "hashed_passwd", "ssh_authorized_keys", "sudo"}

var refusedUserKeys = map[string]string{
	"plain_text_passwd": "give a hash in passwd (mkpasswd -m sha-512)",
	"doas":              "not supported: use sudo",
	"ssh_import_id":     "it needs the network: list the keys in ssh_authorized_keys",
	"ssh_redirect_user": "not supported",
	"expiredate":        "not supported",
	"inactive":          "not supported",
	"selinux_user":      "not supported",
	"snapuser":          "not supported",
	"no_user_group":     "not supported: set primary_group",
	"no_log_init":       "not supported",
	"create_groups":     "not supported: missing groups are always created",
	"home":              "write homedir",
	"password":          "write passwd, with a hash",
}

func (d *decoder) users(c *Config, p pair) error {
	items, err := d.sequence(p.v, p.key)
	if err != nil {
		return err
	}
	for i, it := range items {
		path := fmt.Sprintf("users[%d]", i)
		u, err := d.user(it, path)
		if err != nil {
			return err
		}
		c.Users = append(c.Users, *u)
	}
	return nil
}

func (d *decoder) user(n *yaml.Node, path string) (*User, error) {
	n, err := d.resolve(n, path)
	if err != nil {
		return nil, err
	}
	u := &User{Origin: d.at(n, path)}
	if n.Kind == yaml.ScalarNode {
		if u.Name, err = d.str(n, path); err != nil {
			return nil, err
		}
		if u.Name == "default" {
			return nil, d.errorf(n, path, "%s", defaultUser)
		}
		return u, d.wrap(n, path, u.validate())
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, path, "want a user map or name, got %s", describe(n))
	}
	ps, err := d.mapping(n, path)
	if err != nil {
		return nil, err
	}
	seen := map[string]*yaml.Node{}
	for _, p := range ps {
		key := strings.ReplaceAll(p.key, "-", "_") // cloud-init's older spelling
		if key == "hashed_passwd" {
			key = "passwd"
		}
		if prev, ok := seen[key]; ok {
			return nil, d.errorf(p.k, path, "%s is given twice (also %q at line %d)", key, prev.Value, prev.Line)
		}
		seen[key] = p.k
		kp := path + "." + key
		switch key {
		case "name":
			u.Name, err = d.str(p.v, kp)
		case "gecos":
			if u.Gecos, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, noField("gecos", u.Gecos))
			}
		case "homedir":
			if u.Homedir, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, checkAbsolute("homedir", u.Homedir))
			}
		case "shell":
			if u.Shell, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, checkAbsolute("shell", u.Shell))
			}
		case "primary_group":
			if u.PrimaryGroup, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, validName("primary_group", u.PrimaryGroup))
			}
		case "groups":
			u.Groups, err = d.names(p.v, kp)
			for _, g := range u.Groups {
				if err == nil {
					err = d.wrap(p.v, kp, validName("group", g))
				}
			}
		case "uid":
			var uid int
			uid, err = d.integer(p.v, kp)
			u.UID = &uid
		case "system":
			u.System, err = d.boolean(p.v, kp)
		case "no_create_home":
			u.NoCreateHome, err = d.boolean(p.v, kp)
		case "lock_passwd":
			var b bool
			b, err = d.boolean(p.v, kp)
			u.LockPasswd = &b
		case "passwd":
			if u.Passwd, err = d.str(p.v, kp); err == nil {
				err = d.wrap(p.v, kp, noField("passwd", u.Passwd))
			}
		case "ssh_authorized_keys":
			u.SSHAuthorizedKeys, err = d.strings(p.v, kp)
		case "sudo":
			u.Sudo, err = d.sudo(p.v, kp)
		default:
			err = d.unknown(p.k, key, path, "user key", userKeys, refusedUserKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	if u.Name == "" {
		return nil, d.errorf(n, path, "name is missing")
	}
	return u, d.wrap(n, path, u.validate())
}

// sudo reads a rule, a list of rules, false or null (no rules).
func (d *decoder) sudo(n *yaml.Node, path string) ([]string, error) {
	n, err := d.resolve(n, path)
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, _ := d.boolean(n, path); !b {
			return nil, nil
		}
		return nil, d.errorf(n, path, "true is not a sudo rule: write \"ALL=(ALL) NOPASSWD:ALL\"")
	}
	return d.strings(n, path)
}

// closest returns the known word within two edits of s, if any.
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance, for suggestions.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
