package interop

import (
	"context"
	"os"
	"os/exec"
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

// TestBrowserTabsFindEachOtherAndChatInChromium: the demo page
// (examples/browser) in two headless Chromium tabs that know only the node's
// multiaddr: each lists the other, a message sent in one appears in the
// other through the relay, and a screenshot is saved under
// examples/browser/test-results/.
func TestBrowserTabsFindEachOtherAndChatInChromium(t *testing.T) {
	ensureChromium(t)
	runJSSuite(t, "../examples/browser", nil)
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
