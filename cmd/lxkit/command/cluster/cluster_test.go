package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// recorder is a fake host API that also keeps the body of each request
// that changes something, and starts token operations (AddClusterMember).
type recorder struct {
	*objectstest.API
	Bodies []any
	// Started is the metadata of the operations Start starts.
	Started map[string]any
}

func (r *recorder) Do(ctx context.Context, method, path string, body any, etag string) (*api.Operation, error) {
	r.Bodies = append(r.Bodies, body)
	return r.API.Do(ctx, method, path, body, etag)
}

func (r *recorder) Start(ctx context.Context, method, path string, body any, etag string) (*api.Operation, error) {
	r.Bodies = append(r.Bodies, body)
	r.API.Sent = append(r.API.Sent, "START "+method+" "+path)
	return &api.Operation{Class: "token", StatusCode: api.OperationRunning, Metadata: r.Started}, nil
}

// recorderDriver is a driver whose API is a recorder.
type recorderDriver struct {
	driver.Driver
	api *recorder
}

func (d *recorderDriver) API() hostapi.API { return d.api }

// newRecorder returns a factory over a recorder answering GETs from docs,
// and the factory's standard output.
func newRecorder(docs map[string]any) (*recorder, *cmdutil.Factory, func() string) {
	r := &recorder{API: &objectstest.API{Address: "fake", Docs: docs}}
	f, out := objectstest.Factory(&recorderDriver{api: r})
	return r, f, out
}

// token returns a join token as `lxc cluster add` prints it.
func token(t *testing.T, tok api.ClusterJoinToken) string {
	t.Helper()
	buf, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf)
}

var testToken = api.ClusterJoinToken{ServerName: "m4", Secret: "s3cret", Fingerprint: strings.Repeat("ab", 32),
	Addresses: []string{"10.0.0.1:8443", "10.0.0.2:8443"}}

// check parses each of args with newCmd and compares the options.
func check[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, tests map[string]O) {
	t.Helper()
	for args, want := range tests {
		got, err := objectstest.Parse(newCmd, strings.Fields(args)...)
		if err != nil {
			t.Errorf("%s: %v", args, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", args, *got, want)
		}
	}
}

func TestParse(t *testing.T) {
	on := func(h string) objects.Scope { return objects.Scope{Host: h} }
	check(t, NewCmdList, map[string]objects.HostOptions{
		"list":      {},
		"list o/m/": {Scope: on("o/m")},
	})
	check(t, NewCmdShow, map[string]MemberOptions{
		"show m1":   {Member: "m1"},
		"show o/m1": {Scope: on("o"), Member: "m1"},
	})
	check(t, NewCmdEvacuate, map[string]MemberOptions{"evacuate o/i/m2": {Scope: on("o/i"), Member: "m2"}})
	check(t, NewCmdRestore, map[string]MemberOptions{"restore m2": {Member: "m2"}})
	check(t, NewCmdEnable, map[string]EnableOptions{
		"enable m1":   {Name: "m1"},
		"enable o/m1": {Scope: on("o"), Name: "m1"},
	})
	check(t, NewCmdAdd, map[string]AddOptions{"add o/m4": {Scope: on("o"), Name: "m4"}})
	check(t, NewCmdRemove, map[string]RemoveOptions{
		"remove m2":              {Member: "m2"},
		"remove o/m2 --force":    {Scope: on("o"), Member: "m2", Force: true},
		"remove --force=false m": {Member: "m"},
	})
}

// TestParseJoin: the token, the nested host, --address and
// --member-config, read into the options.
func TestParseJoin(t *testing.T) {
	tok := token(t, testToken)
	// A token with a slash is a token, not a nested host.
	var slashed string
	for i := 0; !strings.Contains(slashed, "/"); i++ {
		tt := testToken
		tt.Secret = fmt.Sprintf("secret-%d?", i)
		slashed = token(t, tt)
	}
	check(t, NewCmdJoin, map[string]JoinOptions{
		"join " + tok:                              {Token: tok},
		"join " + slashed:                          {Token: slashed},
		"join o/i/ " + slashed:                     {Scope: objects.Scope{Host: "o/i"}, Token: slashed},
		"join " + tok + " --address 10.0.0.4:8443": {Token: tok, Address: "10.0.0.4:8443"},
		"join o/ " + tok + " --member-config storage-pool/default/source=/dev/sdb --member-config network/br0/bridge.external_interfaces=eth1,eth2 --member-config storage-pool/local/zfs.pool_name=a=b": {
			Scope: objects.Scope{Host: "o"}, Token: tok,
			MemberConfig: []api.ClusterMemberConfigKey{
				{Entity: "storage-pool", Name: "default", Key: "source", Value: "/dev/sdb"},
				{Entity: "network", Name: "br0", Key: "bridge.external_interfaces", Value: "eth1,eth2"},
				{Entity: "storage-pool", Name: "local", Key: "zfs.pool_name", Value: "a=b"},
			}},
	})
}

func TestParseErrors(t *testing.T) {
	tok := token(t, testToken)
	for args, says := range map[string]string{
		"cluster bogus":                       "a subcommand: list, show, enable, add, join, remove, evacuate, restore, group",
		"cluster list a b":                    "at most a nested host",
		"cluster list outer":                  "expected the container path of a nested host",
		"cluster show":                        "expected one cluster member",
		"cluster show a b":                    "expected one cluster member",
		"cluster evacuate":                    "expected one cluster member",
		"cluster restore a b":                 "expected one cluster member",
		"cluster enable":                      "expected the host's name in the cluster",
		"cluster add":                         "expected the new member's name",
		"cluster add a b":                     "expected the new member's name",
		"cluster remove":                      "expected one cluster member",
		"cluster remove m --bogus":            "unknown flag: --bogus",
		"cluster join":                        "expected a join token",
		"cluster join o/ " + tok + " x":       "expected a join token",
		"cluster join notatoken":              "not a cluster join token",
		"cluster join o/ notatoken":           "not a cluster join token",
		"cluster join outer " + tok:           "expected the container path of a nested host",
		"cluster join " + tok + " --address=": "--address: empty",
		"cluster join " + tok + " --member-config volume/v/size=1GiB":                          `--member-config: "volume/v/size=1GiB": entity "volume": use storage-pool or network`,
		"cluster join " + tok + " --member-config storage-pool/default/source":                 `--member-config: "storage-pool/default/source": expected ENTITY/NAME/KEY=VALUE`,
		"cluster join " + tok + " --member-config storage-pool/default=x":                      "expected ENTITY/NAME/KEY=VALUE",
		"cluster join " + tok + " --member-config storage-pool//source=x":                      "expected ENTITY/NAME/KEY=VALUE",
		"cluster join " + tok + " --member-config storage-pool/p/a/b=x":                        "expected ENTITY/NAME/KEY=VALUE",
		"cluster join " + tok + " --member-config network/br0/mtu=":                            "expected ENTITY/NAME/KEY=VALUE",
		"cluster join " + tok + " --member-config network/b/k=1 --member-config network/b/k=2": "network/b/k given twice",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdCluster(f), strings.Fields(args)...)
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want a usage error that says %q", args, err, says)
		}
	}
	// Bad names are refused before any host is asked.
	for args, says := range map[string]string{
		"cluster show o/":           "invalid cluster member name: empty",
		"cluster enable m_1!":       `invalid cluster member name "m_1!"`,
		"cluster add .m":            "must start with a letter or digit",
		"cluster remove bad_host/m": "container path",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdCluster(f), strings.Fields(args)...)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want an error that says %q", args, err, says)
		}
	}
}

// TestStandalone: a host that is not clustered is listed alone.
func TestStandalone(t *testing.T) {
	s := api.Server{}
	s.Environment.ServerName = "solo"
	s.Environment.Architectures = []string{"x86_64"}
	a := &objectstest.API{Address: "fake", Docs: map[string]any{"/1.0/cluster": api.Cluster{}, "/1.0": s}}
	f, out := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "list"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out(), "\n")
	if got, want := strings.Fields(lines[0]), strings.Fields("NAME URL ROLES STATUS FAILURE DOMAIN GROUPS MESSAGE"); !reflect.DeepEqual(got, want) {
		t.Errorf("cluster list header %q, want %q", got, want)
	}
	if got := strings.Fields(lines[1]); !reflect.DeepEqual(got, []string{"solo", "Standalone"}) || len(lines) != 3 {
		t.Errorf("cluster list:\n%s", out())
	}
}

var members = []api.ClusterMember{
	{ServerName: "m1", URL: "https://10.0.0.1:8443", Status: "Online", Message: "Fully operational",
		ClusterMemberPut: api.ClusterMemberPut{Roles: []string{"database-leader", "database"}, FailureDomain: "rack1", Groups: []string{"default", "gpu"}}},
	{ServerName: "m2", URL: "https://10.0.0.2:8443", Status: "Evacuated", Message: "Unavailable due to maintenance",
		ClusterMemberPut: api.ClusterMemberPut{FailureDomain: "rack2", Groups: []string{"default"}}},
}

// TestListClustered: one column each, FAILURE DOMAIN too.
func TestListClustered(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{
		"/1.0/cluster":                     api.Cluster{ServerName: "m1", Enabled: true},
		"/1.0/cluster/members?recursion=1": members,
	}}
	f, out := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "list"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out(), "\n")
	if len(lines) != 4 {
		t.Fatalf("cluster list:\n%s", out())
	}
	want := [][]string{
		{"m1", "https://10.0.0.1:8443", "database-leader,database", "Online", "rack1", "default,gpu", "Fully operational"},
		{"m2", "https://10.0.0.2:8443", "", "Evacuated", "rack2", "default", "Unavailable due to maintenance"},
	}
	// Cut each row at the header's columns.
	header := lines[0]
	var starts []int
	for _, col := range []string{"NAME", "URL", "ROLES", "STATUS", "FAILURE DOMAIN", "GROUPS", "MESSAGE"} {
		starts = append(starts, strings.Index(header, col))
	}
	for i, w := range want {
		row := lines[1+i]
		var got []string
		for j, s := range starts {
			end := len(row)
			if j+1 < len(starts) {
				end = starts[j+1]
			}
			got = append(got, strings.TrimSpace(row[s:end]))
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %d: %q, want %q\n%s", i, got, w, out())
		}
	}

	f, out = objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "--format", "json", "cluster", "list"); err != nil {
		t.Fatal(err)
	}
	var got []api.ClusterMember
	if err := json.Unmarshal([]byte(out()), &got); err != nil || !reflect.DeepEqual(got, members) {
		t.Errorf("cluster list --format json: %v\n%s", err, out())
	}
}

func TestShow(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{"/1.0/cluster/members/m1": members[0]}}
	f, out := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "show", "m1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server_name: m1\n", "failure_domain: rack1\n", "groups:\n  - default\n  - gpu\n"} {
		if !strings.Contains(out(), want) {
			t.Errorf("cluster show m1: no %q in\n%s", want, out())
		}
	}
	err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "show", "m9")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "cluster member m9 not found") {
		t.Errorf("cluster show m9: %v", err)
	}
}

// TestChanges: what remove, evacuate and restore send.
func TestChanges(t *testing.T) {
	docs := map[string]any{
		"/1.0/cluster/members/m1": members[0], // online
		"/1.0/cluster/members/m2": members[1], // evacuated
	}
	for args, want := range map[string][]string{
		"cluster remove m2 --force": {"DELETE /1.0/cluster/members/m2?force=1"},
		"cluster remove m2":         {"DELETE /1.0/cluster/members/m2"},
		"cluster evacuate m1":       {"POST /1.0/cluster/members/m1/state"},
		"cluster evacuate m2":       nil, // evacuated already
		"cluster restore m2":        {"POST /1.0/cluster/members/m2/state"},
		"cluster restore m1":        nil, // online already
	} {
		r, f, _ := newRecorder(docs)
		if err := objectstest.Execute(f, NewCmdCluster(f), strings.Fields(args)...); err != nil {
			t.Errorf("%s: %v", args, err)
			continue
		}
		if !reflect.DeepEqual(r.Sent, want) {
			t.Errorf("%s: sent %q, want %q", args, r.Sent, want)
		}
	}
	r, f, _ := newRecorder(docs)
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "evacuate", "m1"); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"action": "evacuate"}; len(r.Bodies) != 1 || !reflect.DeepEqual(r.Bodies[0], want) {
		t.Errorf("cluster evacuate m1 sent %v, want %v", r.Bodies, want)
	}
}

// TestAdd: the token alone on stdout.
func TestAdd(t *testing.T) {
	r, f, out := newRecorder(map[string]any{"/1.0/operations?recursion=1": map[string][]api.Operation{}})
	r.Started = map[string]any{"serverName": "m4", "secret": "s3cret", "fingerprint": testToken.Fingerprint,
		"addresses": []any{"10.0.0.1:8443"}, "expiresAt": "2030-01-02T03:04:05Z"}
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "add", "m4"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out(), "\n")
	if len(lines) != 2 || lines[1] != "" {
		t.Fatalf("cluster add printed %q; want one line", out())
	}
	tok, err := host.ParseJoinToken(lines[0])
	if err != nil || tok.ServerName != "m4" || tok.Secret != "s3cret" || !reflect.DeepEqual(tok.Addresses, []string{"10.0.0.1:8443"}) {
		t.Errorf("cluster add printed %q: %+v, %v", lines[0], tok, err)
	}
	if want := []string{"START POST /1.0/cluster/members"}; !reflect.DeepEqual(r.Sent, want) {
		t.Errorf("cluster add sent %q, want %q", r.Sent, want)
	}
}

// tlsServer is an HTTPS server on the loopback, and its address.
func tlsServer(t *testing.T) (*httptest.Server, string) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	// Clients that only fetch the certificate hang up after the handshake.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, srv.Listener.Addr().String()
}

// TestJoin: join sends the cluster's certificate, checked against the
// token, with the member config and address given.
func TestJoin(t *testing.T) {
	srv, addr := tlsServer(t)
	docs := map[string]any{
		"/1.0/cluster":                     api.Cluster{},
		"/1.0/instances?all-projects=true": []string{},
	}
	tok := api.ClusterJoinToken{ServerName: "m4", Secret: "s", Fingerprint: client.Fingerprint(srv.Certificate()), Addresses: []string{addr}}
	r, f, _ := newRecorder(docs)
	err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "join", token(t, tok), "--address", "10.0.0.4:8443",
		"--member-config", "storage-pool/default/source=/dev/sdb")
	if err != nil {
		t.Fatal(err)
	}
	// The PATCH makes the new member load the cluster's configuration
	// (hostapi.JoinedConfigStale).
	if want := []string{"PUT /1.0/cluster", "PATCH /1.0"}; !reflect.DeepEqual(r.Sent, want) || len(r.Bodies) != 2 {
		t.Fatalf("cluster join sent %q, want %q", r.Sent, want)
	}
	body, ok := r.Bodies[0].(api.ClusterPut)
	wantCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	wantConfig := []api.ClusterMemberConfigKey{{Entity: "storage-pool", Name: "default", Key: "source", Value: "/dev/sdb"}}
	if !ok || body.ClusterCertificate != wantCert || body.ServerAddress != "10.0.0.4:8443" || body.ClusterAddress != addr ||
		body.ServerName != "m4" || !body.Enabled || !reflect.DeepEqual(body.MemberConfig, wantConfig) {
		t.Errorf("cluster join sent %+v", r.Bodies[0])
	}

	// A token whose fingerprint is not the cluster's: nothing is sent.
	tok.Fingerprint = strings.Repeat("ab", 32)
	r, f, _ = newRecorder(docs)
	err = objectstest.Execute(f, NewCmdCluster(f), "cluster", "join", token(t, tok), "--address", "10.0.0.4:8443")
	if !errors.Is(err, errdefs.ErrCertificate) || len(r.Sent) != 0 {
		t.Errorf("cluster join with another fingerprint: %v, sent %q", err, r.Sent)
	}
}
