package cmdutil

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		in         []string
		allowEmpty bool
		want       map[string]string
		err        string
	}{
		{in: nil, want: map[string]string{}},
		{in: []string{"limits.memory=256MiB"}, want: map[string]string{"limits.memory": "256MiB"}},
		{in: []string{"user.x=a=b"}, want: map[string]string{"user.x": "a=b"}},
		{in: []string{"a=1", "a=2"}, want: map[string]string{"a": "2"}},
		{in: []string{"user.note= spaced value "}, want: map[string]string{"user.note": " spaced value "}},
		{in: []string{"a="}, allowEmpty: true, want: map[string]string{"a": ""}},
		{in: []string{"a="}, err: "empty value"},
		{in: []string{"novalue"}, err: "expected KEY=VALUE"},
		{in: []string{"=v"}, err: "empty key"},
		{in: []string{" =v"}, allowEmpty: true, err: "empty key"},
	}
	for _, tt := range tests {
		got, err := ParseConfig(tt.in, tt.allowEmpty)
		if !matchErr(t, err, tt.err) {
			t.Errorf("ParseConfig(%q, %v) error = %v; want %q", tt.in, tt.allowEmpty, err, tt.err)
			continue
		}
		if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseConfig(%q, %v) = %v; want %v", tt.in, tt.allowEmpty, got, tt.want)
		}
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in   string
		name string
		want map[string]string
		err  string
	}{
		{in: "data,type=disk,source=/srv,path=/data", name: "data",
			want: map[string]string{"type": "disk", "source": "/srv", "path": "/data"}},
		{in: "web,type=proxy,listen=tcp:0.0.0.0:80,connect=tcp:127.0.0.1:80", name: "web",
			want: map[string]string{"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"}},
		{in: `d,type=disk,"source=/a,b",path=/mnt`, name: "d",
			want: map[string]string{"type": "disk", "source": "/a,b", "path": "/mnt"}},
		{in: "eth1,type=nic,name=", name: "eth1", want: map[string]string{"type": "nic", "name": ""}},
		{in: "x,type=none", name: "x", want: map[string]string{"type": "none"}},
		{in: "nameonly", err: "missing type=TYPE"},
		{in: "d,path=/mnt", err: "missing type=TYPE"},
		{in: "type=disk,path=/mnt", err: "device name first"},
		{in: ",type=disk", err: "device name first"},
		{in: "", err: "expected NAME,type=TYPE"},
		{in: "d,type=disk,path", err: `"path" is not KEY=VALUE`},
		{in: "d,type=disk,=x", err: "is not KEY=VALUE"},
		{in: "d,type=disk,path=/a,path=/b", err: `key "path" given twice`},
		{in: `d,type=disk,"unterminated`, err: "expected NAME,type=TYPE"},
	}
	for _, tt := range tests {
		name, dev, err := ParseDevice(tt.in)
		if !matchErr(t, err, tt.err) {
			t.Errorf("ParseDevice(%q) error = %v; want %q", tt.in, err, tt.err)
			continue
		}
		if tt.err == "" && (name != tt.name || !reflect.DeepEqual(dev, tt.want)) {
			t.Errorf("ParseDevice(%q) = %q, %v; want %q, %v", tt.in, name, dev, tt.name, tt.want)
		}
	}
}

func TestParseDevices(t *testing.T) {
	got, err := ParseDevices([]string{"a,type=none", "b,type=disk,path=/b,source=/s"})
	if err != nil || len(got) != 2 || got["a"]["type"] != "none" || got["b"]["path"] != "/b" {
		t.Errorf("ParseDevices = %v, %v", got, err)
	}
	if _, err := ParseDevices([]string{"a,type=none", "a,type=disk"}); !matchErr(t, err, `device "a" given twice`) {
		t.Errorf("duplicate device: error = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "30", want: 30 * time.Second},
		{in: "0", want: 0},
		{in: " 5 ", want: 5 * time.Second},
		{in: "30s", want: 30 * time.Second},
		{in: "1m", want: time.Minute},
		{in: "1m30s", want: 90 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: "-5", err: "must not be negative"},
		{in: "-1s", err: "must not be negative"},
		{in: "1.5", err: "use a number of seconds"},
		{in: "soon", err: "use a number of seconds"},
		{in: "", err: "use a number of seconds"},
		{in: "99999999999999999", err: "too long"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if !matchErr(t, err, tt.err) {
			t.Errorf("ParseDuration(%q) error = %v; want %q", tt.in, err, tt.err)
			continue
		}
		if tt.err == "" && got != tt.want {
			t.Errorf("ParseDuration(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestDurationFlag(t *testing.T) {
	var d Duration
	if err := d.Set("45"); err != nil || time.Duration(d) != 45*time.Second || d.String() != "45s" {
		t.Errorf("Set(45) = %v, %s", err, d.String())
	}
	if err := d.Set("x"); err == nil || strings.HasPrefix(err.Error(), "duration") {
		t.Errorf("Set(x) error = %v; want one without the 'duration' prefix (pflag adds its own)", err)
	}
}

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		in, name, path, err string
	}{
		{in: "web:/etc/hosts", name: "web", path: "/etc/hosts"},
		{in: "web:/srv/", name: "web", path: "/srv/"},
		{in: "web:/a:b:c", name: "web", path: "/a:b:c"},
		{in: "web:/", name: "web", path: "/"},
		{in: "bad_name:/x", name: "bad_name", path: "/x"}, // names are the driver's to judge
		{in: "web", err: "expected NAME:PATH"},
		{in: "/etc/hosts", err: "expected NAME:PATH"},
		{in: ":/etc/hosts", err: "empty container name"},
		{in: "web:", err: "empty path"},
		{in: "web:etc/hosts", err: "must be absolute"},
	}
	for _, tt := range tests {
		name, p, err := SplitTarget(tt.in)
		if !matchErr(t, err, tt.err) {
			t.Errorf("SplitTarget(%q) error = %v; want %q", tt.in, err, tt.err)
			continue
		}
		if tt.err == "" && (name != tt.name || p != tt.path) {
			t.Errorf("SplitTarget(%q) = %q, %q; want %q, %q", tt.in, name, p, tt.name, tt.path)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want os.FileMode
		err  string
	}{
		{in: "644", want: 0o644},
		{in: "0644", want: 0o644},
		{in: "0o755", want: 0o755},
		{in: "600", want: 0o600},
		{in: "7", want: 0o007},
		{in: "4755", want: 0o755 | os.ModeSetuid},
		{in: "2750", want: 0o750 | os.ModeSetgid},
		{in: "1777", want: 0o777 | os.ModeSticky},
		{in: "7777", want: 0o777 | os.ModeSetuid | os.ModeSetgid | os.ModeSticky},
		{in: "0", err: "without any permission"},
		{in: "000", err: "without any permission"},
		{in: "10000", err: "larger than 7777"},
		{in: "999", err: "octal digits"},
		{in: "rwx", err: "octal digits"},
		{in: "0o", err: "octal digits"},
		{in: "", err: "octal digits"},
		{in: "-644", err: "octal digits"},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if !matchErr(t, err, tt.err) {
			t.Errorf("ParseMode(%q) error = %v; want %q", tt.in, err, tt.err)
			continue
		}
		if tt.err == "" && got != tt.want {
			t.Errorf("ParseMode(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q; want %q", n, got, want)
		}
	}
}

// matchErr reports whether err is nil when want is empty, or contains want.
func matchErr(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}
