package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node"
	"github.com/ws-star/rendezvous/protocols/wsstar"
)

const testAdminToken = "cli-test-token-0123456789abcdef"

// adminNode starts a node with the admin API behind a token and a deny
// file; it returns the node and the flags that reach it.
func adminNode(t *testing.T) (*node.Node, []string) {
	t.Helper()
	dir := t.TempDir()
	c := config.Default()
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	c.Identity.KeyFile = filepath.Join(dir, "identity.key")
	c.Admin.Addr = "127.0.0.1:0"
	c.Admin.TokenFile = filepath.Join(dir, "admin.token")
	c.Deny.File = filepath.Join(dir, "deny.json")
	if err := os.WriteFile(c.Admin.TokenFile, []byte(testAdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, []string{"--admin-addr", n.SideListenerAddr("admin"), "--token-file", c.Admin.TokenFile}
}

func admin(t *testing.T, flags []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCmd(t, env(nil), append(append([]string{"admin"}, args...), flags...)...)
}

func TestAdminCommandsListKickDenyAndUndenyOnARunningNode(t *testing.T) {
	n, flags := adminNode(t)
	h := testhost.New(t)
	testhost.Connect(t, h, n.Host)
	cl, err := wsstar.Dial(t.Context(), h, n.Host.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Join(t.Context(), "board", true, 0); err != nil {
		t.Fatal(err)
	}
	id := h.ID().String()

	code, out, errs := admin(t, flags, "namespaces")
	if code != 0 || !regexp.MustCompile(`(?m)^board\s+1\s+1\s*$`).MatchString(out) {
		t.Fatalf("namespaces: %d %q %q", code, out, errs)
	}
	if code, out, _ = admin(t, flags, "namespace", "board"); code != 0 || !strings.Contains(out, `"peer": "`+id+`"`) || !strings.Contains(out, `"source": "live"`) {
		t.Fatalf("namespace board: %d %s", code, out)
	}
	if code, out, _ = admin(t, flags, "peer", id); code != 0 || !strings.Contains(out, `"namespace": "board"`) || !strings.Contains(out, `"remote_addr": "/ip4/127.0.0.1/`) {
		t.Fatalf("peer: %d %s", code, out)
	}
	// Flags may also come first.
	if code, out, _ = runCmd(t, env(nil), append(append([]string{"admin"}, flags...), "--json", "namespaces")...); code != 0 || !strings.HasPrefix(out, `{"namespaces":[`) {
		t.Fatalf("--json namespaces: %d %s", code, out)
	}

	other := testhost.New(t)
	testhost.Connect(t, other, n.Host)
	if code, out, _ = admin(t, flags, "kick", other.ID().String()); code != 0 || !strings.Contains(out, "disconnected "+other.ID().String()) {
		t.Fatalf("kick: %d %s", code, out)
	}

	if code, out, _ = admin(t, flags, "deny", id); code != 0 || !strings.Contains(out, "denied peer "+id) {
		t.Fatalf("deny peer: %d %s", code, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Network().Connectedness(n.Host.ID()) == network.Connected {
		if time.Now().After(deadline) {
			t.Fatal("denied peer still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out, _ = admin(t, flags, "deny", "192.0.2.0/24"); code != 0 || !strings.Contains(out, "denied subnet 192.0.2.0/24") {
		t.Fatalf("deny subnet: %d %s", code, out)
	}
	code, out, _ = admin(t, flags, "deny", "list")
	if code != 0 || !regexp.MustCompile(`(?m)^`+id+`\s+peer\s+file$`).MatchString(out) || !regexp.MustCompile(`(?m)^192\.0\.2\.0/24\s+subnet\s+file$`).MatchString(out) {
		t.Fatalf("deny list: %d %q", code, out)
	}
	for _, e := range []string{"192.0.2.0/24", id} {
		if code, out, _ = admin(t, flags, "undeny", e); code != 0 || !strings.Contains(out, "lifted the ban on") {
			t.Fatalf("undeny %s: %d %s", e, code, out)
		}
	}
	if code, out, _ = admin(t, flags, "deny", "list"); code != 0 || strings.TrimSpace(out) != "ENTRY  KIND  SOURCE" {
		t.Fatalf("deny list after undeny: %d %q", code, out)
	}
}

func TestAdminCommandErrorsSayWhatWentWrong(t *testing.T) {
	n, flags := adminNode(t)
	addr := n.SideListenerAddr("admin")
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no token", []string{"admin", "--admin-addr", addr, "namespaces"}, exitFailure, "401"},
		{"unknown namespace", append([]string{"admin", "namespace", "nobody"}, flags...), exitFailure, "404"},
		{"bad peer", append([]string{"admin", "peer", "nope"}, flags...), exitFailure, "not a peer ID"},
		{"undeny unknown", append([]string{"admin", "undeny", "10.0.0.0/8"}, flags...), exitFailure, "no such entry"},
		{"no command", append([]string{"admin"}, flags...), exitUsage, "a command is required"},
		{"unknown command", append([]string{"admin", "frobnicate"}, flags...), exitUsage, "unknown command"},
		{"missing argument", append([]string{"admin", "deny"}, flags...), exitUsage, "want exactly one"},
		{"nothing listening", []string{"admin", "--admin-addr", "127.0.0.1:1", "namespaces"}, exitFailure, "admin.addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, env(nil), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want %d and one line with %q", code, stderr, tc.code, tc.says)
			}
		})
	}
}

func TestNodeTakesItsAdminAddressFromTheVariableTheAdminCommandReads(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	vars := env(map[string]string{"HOST": "127.0.0.1", "PORT": "0", config.EnvAdminAddr: addr})
	startRun(t, vars, "--identity", filepath.Join(t.TempDir(), "identity.key"))
	if code, out, errs := runCmd(t, vars, "admin", "namespaces"); code != 0 || !strings.HasPrefix(out, "NAMESPACE") {
		t.Fatalf("admin namespaces with only %s set: %d %q %q", config.EnvAdminAddr, code, out, errs)
	}
}
