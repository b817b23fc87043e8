package buildhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "unit-tests.yaml")
	writeFile(t, file, `image: {alias: "${img}"}
workspace: src
env: {V: "${v}", RAW: "$${v}"}
properties: {v: one, img: other}
timeout: 90s
steps:
  - make all ${v}
  - name: test ${v}
    run: |
      ./test ${v}
      echo done
    timeout: 1m30s
    continue-on-error: true
artifacts: [out/, report.txt]
`)
	j, err := Load(file, map[string]string{"img": "testimage"})
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "unit-tests" || j.Workspace != filepath.Join(dir, "src") || j.Dir != DefaultDir || time.Duration(j.Timeout) != 90*time.Second {
		t.Errorf("job: %+v", j)
	}
	if j.Env["V"] != "one" || j.Env["RAW"] != "${v}" {
		t.Errorf("env: %v", j.Env)
	}
	if len(j.Steps) != 2 || j.Steps[0].Name != "make all ${v}" || j.Steps[0].Run != "make all ${v}" ||
		j.Steps[1].Name != "test one" || j.Steps[1].Run != "./test ${v}\necho done\n" || time.Duration(j.Steps[1].Timeout) != 90*time.Second || !j.Steps[1].ContinueOnError {
		t.Errorf("steps: %+v", j.Steps)
	}
	if img := fleet.DriverImage(j.Image); img.Alias != "testimage" || img.Fingerprint != "" || img.Server != "" {
		t.Errorf("image: %+v", j.Image)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"), "")
	writeFile(t, filepath.Join(dir, "bad.cfg"), "#cloud-config\nruncmd: [a]\nbootcmd: [b]\n")
	for _, c := range []struct{ name, content, want string }{
		{"key.yaml", "image: x\nsteps: [true]\nartefacts: [a]\n", `key.yaml:3: unknown key "artefacts"`},
		{"stepkey.yaml", "image: x\nsteps:\n  - name: a\n    rnu: b\n", `stepkey.yaml:4: unknown key "rnu"`},
		{"timeout.yaml", "image: x\ntimeout: soon\nsteps: [true]\n", `timeout.yaml:2: "soon" is not a duration`},
		{"negative.yaml", "image: x\nsteps:\n  - {run: a, timeout: -1s}\n", `negative.yaml:3: "-1s" is not a duration`},
		{"noimage.yaml", "steps: [true]\n", "noimage.yaml: job noimage: no image"},
		{"nosteps.yaml", "image: x\n", "nosteps.yaml: job nosteps: no steps"},
		{"empty.yaml", "image: x\nsteps: [' ']\n", "empty.yaml: job empty: steps[0]: nothing to run"},
		{"dir.yaml", "image: x\ndir: work\nsteps: [true]\n", `dir.yaml: job dir: dir "work": want an absolute`},
		{"root.yaml", "image: x\ndir: /\nsteps: [true]\n", `root.yaml: job root: dir "/"`},
		{"escape.yaml", "image: x\nsteps: [true]\nartifacts: [../etc]\n", `escape.yaml: job escape: artifact "../etc": want a path inside dir`},
		{"abs.yaml", "image: x\nsteps: [true]\nartifacts: [/etc/passwd]\n", `artifact "/etc/passwd": want a path inside dir`},
		{"twice.yaml", "image: x\nsteps: [true]\nartifacts: [a/, a]\n", `artifact "a" named twice`},
		{"env.yaml", "image: x\nenv: {A=B: c}\nsteps: [true]\n", `env.yaml: job env: env: invalid variable "A=B"`},
		{"ws.yaml", "image: x\nworkspace: missing\nsteps: [true]\n", "ws.yaml: job ws: workspace: stat " + filepath.Join(dir, "missing")},
		{"wsfile.yaml", "image: x\nworkspace: file\nsteps: [true]\n", "is not a folder"},
		{"list.yaml", "- image: x\n", "list.yaml:1: expected a mapping of keys"},
		{"prop.yaml", "image: x\nsteps: [true]\nconfig:\n  limits.cpu: ${cpus}\n", "prop.yaml:4: unknown property ${cpus}"},
		{"props.yaml", "image: x\nsteps: [true]\nproperties: [a]\n", "props.yaml:3: cannot unmarshal"},
		{"secret.yaml", "image: x\nsteps: [true]\nsecrets: [A-B]\n", `secret.yaml: job secret: secret "A-B": want a variable name`},
		{"secret2.yaml", "image: x\nsteps: [true]\nsecrets: [A, A]\n", "secret A named twice"},
		{"secret3.yaml", "image: x\nsteps: [true]\nenv: {A: b}\nsecrets: [A]\n", "A is both in env and a secret"},
		{"nul.yaml", "name: \"a\\0b\"\nimage: x\nsteps: [true]\n", `nul.yaml: job name "a\x00b": want at most 128 bytes of text without control characters`},
		{"newline.yaml", "name: \"a\\nb\"\nimage: x\nsteps: [true]\n", `job name "a\nb"`},
		{"long.yaml", "name: " + strings.Repeat("x", 129) + "\nimage: x\nsteps: [true]\n", "want at most 128 bytes"},
		{"eph.yaml", "image: x\nephemeral: maybe\nsteps: [true]\n", "eph.yaml:2: cannot unmarshal"},
		{"prov.yaml", "image: x\nprovision: base.cfg\nsteps: [true]\n", "prov.yaml:2: provision: want a list"},
		{"provnum.yaml", "image: x\nsteps: [true]\nprovision:\n  - [a]\n", "provnum.yaml:4: provision[0]: want a cloud-config file's name or a map"},
		{"provmissing.yaml", "image: x\nsteps: [true]\nprovision: [missing.cfg]\n", "provmissing.yaml:3: provision[0]: "},
		{"provbad.yaml", "image: x\nsteps: [true]\nprovision: [bad.cfg]\n", "provbad.yaml:3: provision[0]: " + filepath.Join(dir, "bad.cfg") + ":3:1: "},
		{"provheader.yaml", "image: x\nsteps: [true]\nprovision: [file]\n", "not a cloud-config file"},
		{"inline.yaml", "image: x\nsteps: [true]\nprovision:\n  - runcmd: [ok]\n    bootcmd: [no]\n", "inline.yaml:5:5: "},
		{"inline2.yaml", "image: x\nsteps: [true]\nprovision:\n  - write_files: [{path: rel, content: x}]\n", "inline2.yaml:4:"},
		{"pkgs.yaml", "image: x\nsteps: [true]\npackages:\n  - make\n  - \"no good\"\n", `pkgs.yaml:5:5: packages[1]: "no good" is not a package name`},
		{"pkgmap.yaml", "image: x\nsteps: [true]\npackages: {a: b}\n", "pkgmap.yaml:3: cannot unmarshal"},
		{"both.yaml", "image: x\norigin: tpl/s1\nsteps: [true]\n", "both.yaml:2: job both: give image or origin, not both"},
		{"origin.yaml", "steps: [true]\norigin: tpl\n", `origin.yaml:2: job origin: origin "tpl": want TEMPLATE/SNAPSHOT`},
		{"origin2.yaml", "steps: [true]\norigin: tpl/s1/x\n", `origin2.yaml:2: job origin2: origin "tpl/s1/x"`},
	} {
		path := filepath.Join(dir, c.name)
		writeFile(t, path, c.content)
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v; want %q (invalid argument)", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "none.yaml"), nil); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestLoadProvision: provision: files are relative to the job file (their
// names take properties), inline cloud-config keeps the job file's lines
// and its ${X} as written, and packages: come after.
func TestLoadProvision(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg", "base.cfg"), "#cloud-config\nruncmd: [echo base]\n")
	file := filepath.Join(dir, "ci", "job.yaml")
	writeFile(t, file, `image: x
ephemeral: true
provision:
  - ../cfg/${which}.cfg
  - write_files:
      - {path: /etc/motd, content: "${not_a_property}"}
    runcmd:
      - [touch, /tmp/inline]
packages: [make, git]
properties: {which: base}
steps: [true]
`)
	j, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Ephemeral || len(j.Provision) != 2 || j.Provision[0].File != filepath.Join(dir, "cfg", "base.cfg") || j.Provision[1].File != "" {
		t.Fatalf("job: %+v", j)
	}
	if got := j.Provision[1].Config.WriteFiles[0]; string(got.Content) != "${not_a_property}" {
		t.Errorf("inline write_files: %+v", got)
	}
	if o := j.Provision[1].Config.Runcmd[0].Origin; o.File != file || o.Line != 8 {
		t.Errorf("inline runcmd origin %+v; want %s line 8", o, file)
	}
	cfg, err := j.provisioning()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runcmd) != 2 || cfg.Runcmd[0].Shell != "echo base" || len(cfg.Packages) != 2 || cfg.Packages[1].Name != "git" {
		t.Errorf("merged: %+v", cfg)
	}
	// A Job made in Go: a file Validate reads.
	g := &Job{Name: "g", Image: j.Image, Steps: j.Steps, Provision: []Provision{{File: filepath.Join(dir, "cfg", "base.cfg")}}}
	if err := g.Validate(); err != nil || g.Provision[0].Config == nil {
		t.Errorf("Go job: %v, %+v", err, g.Provision)
	}
	g.Provision = []Provision{{}}
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "provision[0]: neither a file nor cloud-config") {
		t.Errorf("empty provision: %v", err)
	}
	g.Provision, g.Packages = nil, []string{"bad name"}
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), `packages[1]`) && !strings.Contains(err.Error(), `"bad name" is not a package name`) {
		t.Errorf("bad package: %v", err)
	}
}

func TestContainerName(t *testing.T) {
	for job, prefix := range map[string]string{
		"unit":                   "lxkit-job-unit-",
		"Build & Test (amd64)":   "lxkit-job-build-test-amd64-",
		"---":                    "lxkit-job-",
		"日本":                     "lxkit-job-",
		strings.Repeat("a", 100): "lxkit-job-" + strings.Repeat("a", 63-len("lxkit-job-")-7) + "-",
	} {
		name := ContainerName(job)
		if !strings.HasPrefix(name, prefix) || len(name) != len(prefix)+6 {
			t.Errorf("ContainerName(%q) = %q; want %s + 6 hex digits", job, name, prefix)
		}
		if err := driver.ValidateName(name); err != nil {
			t.Errorf("ContainerName(%q): %v", job, err)
		}
	}
	if a, b := ContainerName("a"), ContainerName("a"); a == b {
		t.Error("two containers of one job got the same name")
	}
}
