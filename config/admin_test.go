package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAdminAndDenySettingsAreValidatedWithTheirPaths(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		path   string
		reason string // substring; "" for a valid configuration
	}{
		{"loopback without token", func(c *Config) { c.Admin.Addr = "127.0.0.1:9091" }, "", ""},
		{"empty host means loopback", func(c *Config) { c.Admin.Addr = ":9091" }, "", ""},
		{"localhost without token", func(c *Config) { c.Admin.Addr = "localhost:9091" }, "", ""},
		{"ipv6 loopback without token", func(c *Config) { c.Admin.Addr = "[::1]:9091" }, "", ""},
		{"public without token", func(c *Config) { c.Admin.Addr = "0.0.0.0:9091" }, "admin.addr", "needs admin.token_file"},
		{"lan address without token", func(c *Config) { c.Admin.Addr = "10.1.2.3:9091" }, "admin.addr", "needs admin.token_file"},
		{"public with token", func(c *Config) { c.Admin.Addr = "0.0.0.0:9091"; c.Admin.TokenFile = "admin.token" }, "", ""},
		{"not host:port", func(c *Config) { c.Admin.Addr = "9091" }, "admin.addr", "host:port"},
		{"same as metrics", func(c *Config) { c.Admin.Addr = "127.0.0.1:9100"; c.Metrics.Addr = "127.0.0.1:9100" }, "admin.addr", "must differ from metrics.addr"},
		{"bad denied peer", func(c *Config) { c.Deny.Peers = []string{validPeerID, "nope"} }, "deny.peers[1]", "not a peer ID"},
		{"bad denied subnet", func(c *Config) { c.Deny.Subnets = []string{"10.0.0.0"} }, "deny.subnets[0]", "not a CIDR"},
		{"denied subnet with host bits", func(c *Config) { c.Deny.Subnets = []string{"10.1.2.3/8"} }, "deny.subnets[0]", "did you mean 10.0.0.0/8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			ve, ok := err.(*ValidationError)
			if !ok || len(ve.Problems) != 1 {
				t.Fatalf("want one problem at %s, got %v", tc.path, err)
			}
			if p := ve.Problems[0]; p.Path != tc.path || !strings.Contains(p.Reason, tc.reason) {
				t.Fatalf("got %s, want path %s with %q", p, tc.path, tc.reason)
			}
		})
	}
}

func TestAdminListenAddrBindsLoopbackForAnEmptyHost(t *testing.T) {
	c := Default()
	c.Admin.Addr = ":9091"
	if got := c.AdminListenAddr(); got != "127.0.0.1:9091" {
		t.Fatalf("got %q", got)
	}
	c.Admin.Addr = "0.0.0.0:9091"
	if got := c.AdminListenAddr(); got != "0.0.0.0:9091" {
		t.Fatalf("got %q", got)
	}
}

func TestDenyFileRoundTripsAndRejectsBadEntries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deny.json")
	l, err := LoadDenyFile(path)
	if err != nil || len(l.Peers) != 0 || len(l.Subnets) != 0 {
		t.Fatalf("missing file: %v %v", l, err)
	}
	want := DenyList{Peers: []string{validPeerID}, Subnets: []string{"10.0.0.0/8"}}
	if err := WriteDenyFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDenyFile(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".deny.json.tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	for name, body := range map[string]string{
		"bad peer":    `{"peers": ["x"]}`,
		"bad subnet":  `{"subnets": ["10.0.0.1/8"]}`,
		"unknown key": `{"peer": []}`,
		"trailing":    `{} {}`,
	} {
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := LoadDenyFile(path); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
