package driver

import (
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
)

func TestCloudInitResult(t *testing.T) {
	if err := cloudInitResult("c", []byte(`{"v1":{"datasource":"x","errors":[]}}`)); err != nil {
		t.Errorf("clean result: %v", err)
	}
	err := cloudInitResult("c", []byte(`{"v1":{"errors":["module foo failed","bar"]}}`))
	if err == nil || !strings.Contains(err.Error(), "module foo failed; bar") {
		t.Errorf("errors: %v", err)
	}
	if err := cloudInitResult("c", []byte(`not json`)); err == nil {
		t.Errorf("garbage accepted")
	}
}

func TestFirstIPv4(t *testing.T) {
	st := &api.InstanceState{Network: map[string]api.InstanceStateNetwork{
		"lo":   {Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "127.0.0.1", Scope: "global"}}},
		"eth1": {Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "10.0.0.9", Scope: "global"}}},
		"eth0": {Addresses: []api.InstanceStateNetworkAddress{
			{Family: "inet6", Address: "fe80::1", Scope: "link"},
			{Family: "inet", Address: "169.254.1.1", Scope: "link"},
			{Family: "inet", Address: "10.0.0.5", Scope: "global"}}},
	}}
	if got := FirstIPv4(st); got != "10.0.0.5" {
		t.Errorf("FirstIPv4 = %q", got)
	}
	if got := FirstIPv4(&api.InstanceState{}); got != "" {
		t.Errorf("no network: %q", got)
	}
}
