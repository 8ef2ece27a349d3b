package interop

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testforge"
	"github.com/ws-star/rendezvous/node"
)

// TestBrowserTabsReachTheNodeAtItsLibp2pDirectAddressInChromium: a node with
// autotls.enabled gets its certificate from p2p-forge and the pebble test CA
// on loopback (internal/testforge), then demo tabs in headless Chromium
// given only its /tls/sni/<ip>.<peer id>.libp2p.direct/ws address connect
// over secure WebSockets, reserve, join and see each other, and chat
// through the relay (examples/browser/test/autotls.test.js). Chromium maps
// the forge's names to 127.0.0.1 (--host-resolver-rules) and accepts the
// test CA's chain by its key hashes (--ignore-certificate-errors-spki-list).
// The node runs in this process: the test forge needs client options (its
// DNS server, loopback addresses) that are not configuration.
func TestBrowserTabsReachTheNodeAtItsLibp2pDirectAddressInChromium(t *testing.T) {
	ensureChromium(t)
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20+) is required: %v", err)
	}
	project := installNPM(t, "../examples/browser", nil)
	f := testforge.Start(t, testforge.Options{})

	c := config.Default()
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	c.Identity.KeyFile = filepath.Join(t.TempDir(), "identity.key")
	c.AutoTLS = f.AutoTLS()
	start := time.Now()
	n, err := node.New(t.Context(), c, node.WithAutoTLSOptions(f.ClientOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	var addr ma.Multiaddr
	for deadline := time.Now().Add(2 * time.Minute); addr == nil; time.Sleep(200 * time.Millisecond) {
		for _, a := range n.Addrs() {
			if strings.Contains(a.String(), "."+testforge.Domain+"/ws/") {
				addr = a
			}
		}
		if addr == nil && time.Now().After(deadline) {
			t.Fatalf("no %s address: %v", testforge.Domain, n.Addrs())
		}
	}
	spki := chainSPKI(t, addr, f)
	t.Logf("start to served certificate: %s (%s)", time.Since(start).Round(10*time.Millisecond), addr)

	args := []string{"--test", "--test-reporter=spec"}
	if !hasGlobalWebSocket(t, nodeBin) {
		args = append([]string{"--experimental-websocket"}, args...)
	}
	args = append(args, "test/autotls.test.js")
	run(t, project, suiteTimeout, []string{
		"AUTOTLS_NODE=" + addr.String(),
		"AUTOTLS_SPKI=" + strings.Join(spki, ","),
		"AUTOTLS_DOMAIN=" + testforge.Domain,
	}, nodeBin, args...)
}

// chainSPKI verifies the node's certificate for the address's name against
// the test CA and returns the base64 SHA-256 of each public key of the chain
// and of the root, the form Chromium's --ignore-certificate-errors-spki-list
// takes.
func chainSPKI(t *testing.T, addr ma.Multiaddr, f *testforge.Forge) []string {
	t.Helper()
	name, err := addr.ValueForProtocol(ma.P_SNI)
	if err != nil {
		t.Fatal(err)
	}
	_, hostport, err := manet.DialArgs(addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", hostport, &tls.Config{ServerName: name, RootCAs: f.Issuer})
	if err != nil {
		t.Fatalf("verified handshake with %s as %s: %v", hostport, name, err)
	}
	defer conn.Close()
	var out []string
	for _, chain := range conn.ConnectionState().VerifiedChains {
		for _, cert := range chain {
			sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			out = append(out, base64.StdEncoding.EncodeToString(sum[:]))
		}
	}
	return out
}
