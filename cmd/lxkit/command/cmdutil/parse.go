package cmdutil

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/internal/unixmode"
)

// ParseConfig turns KEY=VALUE pairs into a map. allowEmpty permits
// "KEY=" (which update uses to remove a key). A later pair overrides an
// earlier one with the same key.
func ParseConfig(pairs []string, allowEmpty bool) (map[string]string, error) {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q: expected KEY=VALUE", p)
		case k == "":
			return nil, fmt.Errorf("%q: empty key", p)
		case v == "" && !allowEmpty:
			return nil, fmt.Errorf("%q: empty value", p)
		}
		out[k] = v
	}
	return out, nil
}

// ParseDevice parses "NAME,type=T,key=value,...". Fields are separated by
// commas; a field holding a comma can be double-quoted as in CSV
// (`disk,type=disk,"source=/a,b",path=/mnt`). The type is required.
func ParseDevice(spec string) (name string, dev map[string]string, err error) {
	r := csv.NewReader(strings.NewReader(spec))
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil || len(fields) == 0 {
		return "", nil, fmt.Errorf("device %q: expected NAME,type=TYPE[,KEY=VALUE]", spec)
	}
	name = strings.TrimSpace(fields[0])
	if name == "" || strings.Contains(name, "=") {
		return "", nil, fmt.Errorf("device %q: expected the device name first (NAME,type=TYPE,...)", spec)
	}
	dev = map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return "", nil, fmt.Errorf("device %q: %q is not KEY=VALUE", spec, f)
		}
		if _, dup := dev[k]; dup {
			return "", nil, fmt.Errorf("device %q: key %q given twice", spec, k)
		}
		dev[k] = v
	}
	if dev["type"] == "" {
		return "", nil, fmt.Errorf("device %q: missing type=TYPE (nic, disk, proxy, ...)", spec)
	}
	return name, dev, nil
}

// ParseDevices parses several device specs; a name given twice is an error.
func ParseDevices(specs []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(specs))
	for _, s := range specs {
		name, dev, err := ParseDevice(s)
		if err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("device %q given twice", name)
		}
		out[name] = dev
	}
	return out, nil
}

// ParseDuration accepts Go durations ("30s", "1m30s") and bare integers as
// seconds ("30"). Negative durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("duration %q: too long", s)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("duration %q: use a number of seconds or a Go duration like 30s or 2m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q: must not be negative", s)
	}
	return d, nil
}

// Duration is a flag value parsed by ParseDuration.
type Duration time.Duration

// String is "" for no duration: pflag then adds no "(default 0s)" to a
// flag's help, which says itself what none means.
func (d *Duration) String() string {
	if *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}
func (d *Duration) Type() string { return "duration" }
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "duration "))
	}
	*d = Duration(v)
	return nil
}

// SplitTarget splits "NAME:PATH" at the first colon. PATH must be
// absolute; a trailing slash (which marks a directory) is kept.
func SplitTarget(s string) (name, path string, err error) {
	name, path, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%q: expected NAME:PATH", s)
	case name == "":
		return "", "", fmt.Errorf("%q: empty container name before ':'", s)
	case path == "":
		return "", "", fmt.Errorf("%q: empty path after ':'", s)
	case !strings.HasPrefix(path, "/"):
		return "", "", fmt.Errorf("%q: the path in the container must be absolute", s)
	}
	return name, path, nil
}

// ParseMode parses an octal file mode ("644", "0644", "0o755", "4755")
// with the setuid, setgid and sticky bits. Mode 0 is refused: the file
// APIs read it as "the default mode".
func ParseMode(s string) (os.FileMode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
	v, err := strconv.ParseUint(t, 8, 32)
	switch {
	case err != nil || t == "":
		return 0, fmt.Errorf("mode %q: expected octal digits like 644 or 0755", s)
	case v > 0o7777:
		return 0, fmt.Errorf("mode %q: larger than 7777", s)
	case v == 0:
		return 0, fmt.Errorf("mode %q: a file without any permission cannot be written this way", s)
	}
	return unixmode.From(uint32(v)), nil
}
