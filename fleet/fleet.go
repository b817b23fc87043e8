package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/smallfile"
	"github.com/lxkit/lxkit/internal/yamlfile"
	"github.com/lxkit/lxkit/spec"
)

// Fleet is a set of instances, each made from a configuration file, as
// a fleet file lists them:
//
//	fleet: web                 # recorded in each instance; default: the file's name
//	instances:
//	  web1: web.yaml           # a configuration file, relative to this one
//	  web2:
//	    config: web.yaml
//	    properties: {site: b.example}
type Fleet struct {
	Name      string
	Path      string
	Instances []*spec.Spec // sorted by name
}

type fleetFile struct {
	Fleet     string                   `yaml:"fleet"`
	Instances map[string]fleetInstance `yaml:"instances"`
}

type fleetInstance struct {
	Config     string            `yaml:"config"`
	Properties map[string]string `yaml:"properties"`
}

// UnmarshalYAML reads a plain string as the configuration file.
func (fi *fleetInstance) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&fi.Config)
	}
	type plain fleetInstance
	return yamlfile.DecodeStrict(n, (*plain)(fi))
}

// Load reads a fleet file and the configurations it names. props are
// given to every instance (see spec.Template.Instance).
func Load(path string, props map[string]string) (*Fleet, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var ff fleetFile
	n, err := yamlfile.Parse(path, data)
	if err != nil {
		return nil, err
	}
	if n != nil {
		if err := yamlfile.DecodeNode(path, n, &ff); err != nil {
			return nil, err
		}
	}
	// at names an instance's entry in messages: "fleet.yaml:3".
	at := func(name string) string { return fmt.Sprintf("%s:%d", path, yamlfile.KeyLine(n, "instances", name)) }
	f := &Fleet{Name: ff.Fleet, Path: path}
	if f.Name == "" {
		f.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if err := driver.ValidateName(f.Name); err != nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: fleet name %q: %v", path, f.Name, err)
	}
	if len(ff.Instances) == 0 {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: no instances", path)
	}
	templates := map[string]*spec.Template{}
	for _, name := range slices.Sorted(maps.Keys(ff.Instances)) {
		fi := ff.Instances[name]
		if err := driver.ValidateName(name); err != nil {
			return nil, fmt.Errorf("%s: instance %q: %w", at(name), name, err)
		}
		if fi.Config == "" {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: instance %s: no config file", at(name), name)
		}
		cfg := fi.Config
		if !filepath.IsAbs(cfg) {
			cfg = filepath.Join(filepath.Dir(path), cfg)
		}
		tpl := templates[cfg]
		if tpl == nil {
			if tpl, err = spec.Load(cfg); err != nil {
				return nil, fmt.Errorf("%s: instance %s: %w", at(name), name, err)
			}
			templates[cfg] = tpl
		}
		p := maps.Clone(fi.Properties)
		if p == nil {
			p = map[string]string{}
		}
		maps.Copy(p, props)
		s, err := tpl.Instance(name, p)
		if err != nil {
			return nil, fmt.Errorf("%s: instance %s: %w", at(name), name, err)
		}
		f.Instances = append(f.Instances, s)
	}
	return f, nil
}

// Action is what a plan does to an instance.
type Action string

// Actions of a plan.
const (
	Create  Action = "create"  // missing: launch it
	Update  Action = "update"  // config, devices, profiles or volumes changed: change it in place
	Rebuild Action = "rebuild" // its image or origin snapshot changed: rebuild it, keeping its volumes
	Delete  Action = "delete"  // of this fleet but no longer listed (with Prune)
	Start   Action = "start"   // stopped: start it (one a create cut short by a daemon crash is rebuilt)
	Keep    Action = "keep"    // as its configuration says
	Skip    Action = "skip"    // exists but is not this fleet's: left alone
	// Unreachable: on a cluster member that is not online. It is left
	// as it is, never made again elsewhere, and Apply fails naming it.
	Unreachable Action = "unreachable"
)

// Change is one step of a plan.
type Change struct {
	Instance string
	Action   Action
	// Why lists what differs, for people.
	Why  []string
	Spec *spec.Spec // nil for Delete
	// Member is the cluster member the instance is on, or for a create
	// the one it goes to when lxkit chooses; empty on a standalone host.
	Member string
	// Target is where a create puts the instance: a member, "@GROUP", or
	// "" for the daemon to choose.
	Target string
	// Drift lists what changed in the profiles and cloud-config files
	// the instance was made from (see Drift); it is in Why too.
	Drift []string
}

// String is the change as a plan line: "+ web1", "~ web2 (config ...)".
func (c Change) String() string {
	sign := map[Action]string{Create: "+", Update: "~", Rebuild: "!", Delete: "-", Start: ">", Keep: "=", Skip: "?", Unreachable: "x"}[c.Action]
	s := fmt.Sprintf("%s %s %s", sign, c.Action, c.Instance)
	switch {
	case c.Member != "":
		s += " on " + c.Member
	case strings.HasPrefix(c.Target, "@"):
		s += " in group " + c.Target[1:]
	}
	if len(c.Why) > 0 {
		s += ": " + strings.Join(c.Why, "; ")
	}
	return s
}

// PlanOptions says what a plan may do.
type PlanOptions struct {
	// Prune deletes instances of this fleet that it no longer lists.
	Prune bool
}

// Plan compares the fleet with the host and says what Apply would do,
// changing nothing: it reads the host's instances, the fingerprints of
// the images of those that changed, and the profiles and cloud-config
// files of the fleet's instances (ReadSources), and leaves the rest to
// Diff.
func (m *Manager) Plan(ctx context.Context, f *Fleet, opts PlanOptions) ([]Change, error) {
	have, err := m.d.List(ctx)
	if err != nil {
		return nil, err
	}
	members, err := m.h.ClusterMembers(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]api.Instance{}
	for _, inst := range have {
		byName[inst.Name] = inst
	}
	images := map[string]string{}
	for _, s := range f.Instances {
		inst, ok := byName[s.Name]
		ref := imageRef(s.Image)
		if _, done := images[ref]; done || !ok || !compared(f, s, inst) || s.Image.Server != "" || s.Origin != "" {
			continue
		}
		if images[ref], err = m.h.Images().Resolve(ctx, ref); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	var mine []*spec.Spec
	for _, s := range f.Instances {
		if inst, ok := byName[s.Name]; ok && inst.Config[KeyFleet] == f.Name {
			mine = append(mine, s)
		}
	}
	src, err := m.ReadSources(ctx, mine)
	if err != nil {
		return nil, err
	}
	return Diff(f, have, images, members, src, opts), nil
}

// Diff is the plan that makes the host's instances (have) what the fleet
// says, with no I/O. images gives the full fingerprint that each image
// reference of the fleet's configurations (an alias, or a fingerprint
// prefix) names on the host; one it lacks is not compared, so it cannot
// ask for a rebuild. members are the host's cluster members: on a
// cluster, instances on a member that is not online are Unreachable, and
// creates are placed as their configurations say (see Place); a
// standalone host (no members, or one "Standalone") ignores placement.
// src are the profiles and cloud-config files the instances are made
// from as they are now: a change since an instance was made or updated
// asks for an update (see Drift).
func Diff(f *Fleet, have []api.Instance, images map[string]string, members []api.ClusterMember, src Sources, opts PlanOptions) []Change {
	byName := map[string]api.Instance{}
	for _, inst := range have {
		byName[inst.Name] = inst
	}
	cl := newCluster(members)
	var plan []Change
	listed := map[string]bool{}
	for _, s := range f.Instances {
		listed[s.Name] = true
		inst, ok := byName[s.Name]
		switch {
		case !ok:
			plan = append(plan, Change{Instance: s.Name, Action: Create, Spec: s})
		case !cl.online(inst.Location):
			// First: the daemons list an instance of a member that is
			// down with its name and location alone, no configuration.
			plan = append(plan, Change{Instance: s.Name, Action: Unreachable, Member: inst.Location, Spec: s,
				Why: []string{"member " + inst.Location + " is " + cl.status(inst.Location)}})
		case inst.Config[KeyFleet] != f.Name:
			why := "made outside any fleet"
			if owner := inst.Config[KeyFleet]; owner != "" {
				why = "of fleet " + owner
			}
			plan = append(plan, Change{Instance: s.Name, Action: Skip, Why: []string{why}, Spec: s})
		default:
			fp := s.Image.Fingerprint
			if s.Image.Server == "" {
				fp = images[imageRef(s.Image)]
			}
			plan = append(plan, drifted(compare(s, inst, fp, f.Name), s, inst, src))
		}
	}
	for i := range plan {
		if inst, ok := byName[plan[i].Instance]; ok && plan[i].Action != Unreachable && cl.clustered() {
			plan[i].Member = inst.Location
		}
	}
	cl.place(f, have, plan)
	var gone []string
	for name, inst := range byName {
		if inst.Config[KeyFleet] == f.Name && !listed[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		if opts.Prune {
			plan = append(plan, Change{Instance: name, Action: Delete, Why: []string{"no longer listed"}})
		} else {
			plan = append(plan, Change{Instance: name, Action: Skip, Why: []string{"no longer listed (prune deletes it)"}})
		}
	}
	return plan
}

// compared reports whether Diff compares inst with s beyond its recorded
// hash: an instance of the fleet whose configuration changed.
func compared(f *Fleet, s *spec.Spec, inst api.Instance) bool {
	return inst.Config[KeyFleet] == f.Name && inst.Config[KeyHash] != Hash(s)
}

// compare says what it takes to make inst, of the fleet, what s says; fp
// is the full fingerprint of s's image, or "" when not known.
func compare(s *spec.Spec, inst api.Instance, fp, fleet string) Change {
	c := Change{Instance: s.Name, Action: Keep, Spec: s}
	if inst.Config[KeyHash] == Hash(s) {
		if !strings.EqualFold(inst.Status, driver.StatusRunning) {
			c.Action, c.Why = Start, []string{strings.ToLower(inst.Status)}
		}
		return c
	}
	if have := inst.Config[KeyOrigin]; have != s.Origin {
		c.Action = Rebuild
		c.Why = []string{fmt.Sprintf("origin %s -> %s", originOrImage(have), originOrImage(s.Origin))}
		return c
	}
	if base := inst.Config["volatile.base_image"]; fp != "" && base != "" && !strings.HasPrefix(base, fp) {
		c.Action = Rebuild
		c.Why = []string{fmt.Sprintf("image %.12s -> %.12s", base, fp)}
		return c
	}
	want := createOptions(s, fleet)
	c.Action = Update
	for _, k := range slices.Sorted(maps.Keys(want.Config)) {
		if !strings.HasPrefix(k, "user.lxkit.") && inst.Config[k] != want.Config[k] {
			c.Why = append(c.Why, fmt.Sprintf("config %s %q -> %q", k, inst.Config[k], want.Config[k]))
		}
	}
	for _, k := range managed(inst.Config[KeyKeys]) {
		if _, ok := want.Config[k]; !ok {
			c.Why = append(c.Why, "config "+k+" removed")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.Devices)) {
		if !maps.Equal(inst.Devices[k], want.Devices[k]) {
			c.Why = append(c.Why, "device "+k)
		}
	}
	for _, k := range managed(inst.Config[KeyDevices]) {
		if _, ok := want.Devices[k]; !ok {
			c.Why = append(c.Why, "device "+k+" removed")
		}
	}
	if want.Profiles != nil && !slices.Equal(inst.Profiles, want.Profiles) {
		c.Why = append(c.Why, fmt.Sprintf("profiles %v -> %v", inst.Profiles, want.Profiles))
	}
	if len(c.Why) == 0 {
		c.Why = []string{recordedHashOnly}
	}
	return c
}

// originOrImage names an origin in a plan: "(image)" for none.
func originOrImage(origin string) string {
	if origin == "" {
		return "(image)"
	}
	return origin
}

func imageRef(img spec.Image) string {
	if img.Alias != "" {
		return img.Alias
	}
	return img.Fingerprint
}

// managed splits a comma list kept in KeyKeys or KeyDevices.
func managed(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, ",")
}

// ApplyOptions say how a plan is carried out.
type ApplyOptions struct {
	// Stop is how instances are stopped for a rebuild.
	Stop driver.StopOptions
	// Parallel is how many changes are carried out at once; 0 and 1 mean
	// one at a time, in the plan's order.
	Parallel int
	// Report, when set, is told of each change carried out, one call at a
	// time.
	Report func(Change)
}

// Apply carries out a plan's changes (Keep and Skip have none). After a
// failure it starts no other change and waits for those under way; the
// error names each change that failed.
func (m *Manager) Apply(ctx context.Context, plan []Change, opts ApplyOptions) error {
	slots := make(chan struct{}, max(opts.Parallel, 1))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	var unreachable []error // the rest of the plan goes on without them
	for _, c := range plan {
		if c.Action == Unreachable {
			unreachable = append(unreachable, fmt.Errorf("%s is on cluster member %s, which is not online: left as it is", c.Instance, c.Member))
			continue
		}
		if c.Action == Keep || c.Action == Skip {
			continue
		}
		slots <- struct{}{}
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			err := m.apply(ctx, c, opts.Stop)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", c.Action, c.Instance, err))
			} else if opts.Report != nil {
				opts.Report(c)
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(append(errs, unreachable...)...)
}

// apply carries out one change.
func (m *Manager) apply(ctx context.Context, c Change, stop driver.StopOptions) error {
	switch c.Action {
	case Create:
		return m.create(ctx, c.Spec, c.Target)
	case Rebuild:
		return m.rebuild(ctx, c.Spec, stop, c.Member)
	case Update:
		return m.update(ctx, c.Spec)
	case Delete:
		return m.d.Delete(ctx, c.Instance)
	case Start:
		err := m.d.Start(ctx, c.Instance)
		if hostapi.RootMissing.In(err) {
			// Its create was cut short (the daemon died): make it anew.
			return m.rebuild(ctx, c.Spec, driver.StopOptions{Force: true}, c.Member)
		}
		if err == nil && len(c.Drift) > 0 {
			return m.update(ctx, c.Spec)
		}
		return err
	}
	return fmt.Errorf("unknown action %q", c.Action)
}

// update changes an instance in place to its Spec: config keys and
// devices set, those the previous Spec set and this one does not
// removed, profiles replaced, missing volumes made and attached, its
// profiles recorded as they are now, and its cloud-config files applied
// again if they changed since they were (the instance started first if
// it is stopped).
func (m *Manager) update(ctx context.Context, s *spec.Spec) error {
	inst, err := m.d.Instance(ctx, s.Name)
	if err != nil {
		return err
	}
	src, err := m.ReadSources(ctx, []*spec.Spec{s})
	if err != nil {
		return err
	}
	cloudConfig := recordCloudConfig(s, src)
	reapply := cloudConfigChanged(*inst, cloudConfig)
	if reapply && s.CloudConfigMode == spec.CloudConfigNative {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"%s: its cloud-config files changed, which the image's cloud-init applies at the first boot only (cloud-config-mode: native): rebuild it", s.Name)
	}
	var apply cloudConfigApply
	if reapply {
		// Read and checked before anything changes.
		if apply, err = m.cloudConfig(s); err != nil {
			return err
		}
	}
	if err := m.volumes(ctx, s); err != nil {
		return err
	}
	want := m.createOptions(s)
	want.Config[KeyProfiles] = recordProfiles(s, src)
	if !reapply {
		want.Config[KeyCloudConfig] = cloudConfig
	}
	opts := driver.UpdateOptions{Config: want.Config, Devices: want.Devices, Profiles: want.Profiles}
	for _, k := range managed(inst.Config[KeyKeys]) {
		if _, ok := want.Config[k]; !ok {
			opts.Config[k] = "" // removes it
		}
	}
	for _, k := range managed(inst.Config[KeyDevices]) {
		if _, ok := want.Devices[k]; !ok {
			opts.Devices[k] = nil
		}
	}
	if err := m.d.Update(ctx, s.Name, opts); err != nil {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			return fmt.Errorf("%w (a change the daemon refuses in place may need a rebuild)", err)
		}
		return err
	}
	if !reapply {
		return nil
	}
	if !strings.EqualFold(inst.Status, driver.StatusRunning) {
		if err := m.d.Start(ctx, s.Name); err != nil {
			return err
		}
	}
	_, err = m.configure(ctx, s, apply, cloudConfig, nil)
	return err
}

// readSmall reads a fleet or cloud-config file: a regular file of at
// most 1 MiB.
func readSmall(path string) ([]byte, error) {
	b, err := smallfile.Read(path, 1<<20)
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return b, err
}
