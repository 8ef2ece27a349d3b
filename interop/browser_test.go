package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const chromiumInstallTimeout = 10 * time.Minute

// TestJSClientDiscoversRelaysAndReconnectsThroughNode: the @ws-star/libp2p-client
// package (clients/js) against the real node: two js-libp2p clients see each
// other within a second over /ws-star/1.0.0, exchange data through the relay,
// see peer:left, reconnect and re-join after a restart with the same identity;
// the /rendezvous/1.0.0 client registers, refreshes, discovers with cookies
// and unregisters; two nodes are joined at once without duplicate peers.
func TestJSClientDiscoversRelaysAndReconnectsThroughNode(t *testing.T) {
	runJSSuite(t, "../clients/js", nil)
}

// TestBrowserTabsFindEachOtherAndChatOverWebRTCInChromium: the demo page
// (examples/browser) in headless Chromium tabs that know only the node's
// multiaddr: each lists the other, learns its /p2p-circuit/webrtc address
// through the node, upgrades to a direct WebRTC connection and chats over
// it, still after the node is stopped; tabs whose WebRTC cannot connect chat
// through the relay; the upgrade passes relay limits; the page the node
// serves at /demo/ works the same. A screenshot is saved under
// examples/browser/test-results/.
func TestBrowserTabsFindEachOtherAndChatOverWebRTCInChromium(t *testing.T) {
	ensureChromium(t)
	runJSSuite(t, "../examples/browser", nil, "test/browser.test.js")
}

// TestBrowserTabsOnPubsubPeerDiscoveryFindEachOtherAndWsStarTabsAndGoDirectInChromium:
// the demo page in pubsub mode (?discovery=pubsub: @libp2p/pubsub-peer-discovery
// over @libp2p/gossipsub, as an unchanged js-libp2p app configures them) in
// headless Chromium tabs: two such tabs (one of them the page the node
// serves) find each other through the node's gossipsub, upgrade to a direct
// WebRTC connection and chat over it; a ws-star-mode tab in the namespace
// that is the discovery topic and the pubsub-mode tabs find each other and go
// direct; a pubsub-mode tab that closes leaves the ws-star view. The node
// announces members every second (pubsub.announce_interval) to keep it short.
func TestBrowserTabsOnPubsubPeerDiscoveryFindEachOtherAndWsStarTabsAndGoDirectInChromium(t *testing.T) {
	ensureChromium(t)
	runJSSuite(t, "../examples/browser", nil, "test/pubsub.test.js")
}

// TestEmbeddedDemoIsAFreshBuild: the demo the node serves at /demo/
// (node/demo, embedded so that building the node needs no npm) is
// byte-for-byte what `npm run build:embed` in examples/browser makes from
// the sources now. After changing the demo or clients/js, run that and
// commit node/demo.
func TestEmbeddedDemoIsAFreshBuild(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20+) is required to build the demo: %v", err)
	}
	project := installNPM(t, "../examples/browser", nil)
	out := t.TempDir()
	run(t, project, buildTimeout, nil, nodeBin, "build.mjs", "--embed", out)
	embedded, err := filepath.Abs("../node/demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		fresh, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("fresh build: %v", err)
		}
		committed, err := os.ReadFile(filepath.Join(embedded, name))
		if err != nil {
			t.Fatalf("embedded demo: %v (run npm run build:embed in examples/browser)", err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("node/demo/%s (%d bytes) differs from a fresh build (%d bytes): run npm run build:embed in examples/browser and commit node/demo", name, len(committed), len(fresh))
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("the embed build wrote %d files, the node embeds 3: update node/demo.go", len(entries))
	}
}

// ensureChromium makes sure Debian's chromium package is installed (the test
// drives it through playwright-core and never downloads a browser). As root
// with apt-get it installs the package; otherwise it fails with the command
// to run.
func ensureChromium(t *testing.T) {
	t.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CHROMIUM_PATH") != "" {
		t.Fatalf("CHROMIUM_PATH=%s does not exist", path)
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		t.Fatalf("%s is missing: install Debian's chromium package (apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH", path)
	}
	t.Logf("%s is missing: installing the chromium package", path)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), chromiumInstallTimeout)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, aptGet, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %v: %v\n%s", args, err, lastBytes(out, 4096))
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("chromium installed but %s is missing: %v", path, err)
	}
	t.Logf("chromium installed in %s", time.Since(start).Round(time.Second))
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
