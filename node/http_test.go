package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/internal/testhost"
)

// httpBase is the http:// URL of the node's WebSocket port.
// httpBase is the node's HTTP address: that of its (first) TCP listener.
// The UDP listeners may come first in the list, in no fixed order.
func httpBase(t testing.TB, n *Node) string {
	t.Helper()
	for _, a := range n.Host.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
			continue
		}
		_, hostport, err := manet.DialArgs(a)
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + hostport
	}
	t.Fatalf("no TCP listener among %v", n.Host.Network().ListenAddresses())
	return ""
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsShowRelayAndSwarmSeriesAfterTraffic(t *testing.T) {
	n := startNode(t, testConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	a := testhost.NewClient(t)
	b := testhost.NewClient(t)
	serveEcho(a)
	reserve(t, ctx, a, n)
	dst, _ := ma.NewMultiaddr(circuitAddr(t, n).String() + "/p2p/" + a.ID().String())
	info, _ := peer.AddrInfoFromP2pAddr(dst)
	if err := b.Connect(ctx, *info); err != nil {
		t.Fatal(err)
	}
	echoThrough(t, ctx, b, a.ID(), 1024)

	code, body := get(t, httpBase(t, n)+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d", code)
	}
	for _, series := range []string{"libp2p_relaysvc_", "libp2p_swarm_", "rendezvous_resources_used{resource=\"connections\",scope=\"system\"}", "rendezvous_peers", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s series", series)
		}
	}
}

func TestDisabledMetricsAnswer404AndHealthStillAnswers(t *testing.T) {
	c := testConfig(t)
	c.Metrics.Enabled = false
	n := startNode(t, c)
	if code, _ := get(t, httpBase(t, n)+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics with metrics disabled: status %d, want 404", code)
	}
	code, body := get(t, httpBase(t, n)+"/healthz")
	if code != http.StatusOK || !strings.Contains(body, n.Host.ID().String()) {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}

func TestStatusPageShowsPeerIDAndAddresses(t *testing.T) {
	n := startNode(t, testConfig(t))
	code, body := get(t, httpBase(t, n)+"/")
	if code != http.StatusOK {
		t.Fatalf("/: status %d", code)
	}
	if !strings.Contains(body, n.Host.ID().String()) || !strings.Contains(body, n.Addrs()[0].String()) {
		t.Fatal("status page lacks the peer ID or the full multiaddr")
	}
	if code, _ := get(t, httpBase(t, n)+"/no-such-page"); code != http.StatusNotFound {
		t.Fatalf("unknown path: status %d, want 404", code)
	}
}

func TestMetricsOnSeparateListenerAreNotOnNodePort(t *testing.T) {
	c := testConfig(t)
	c.Metrics.Addr = "127.0.0.1:0"
	n := startNode(t, c)
	if code, _ := get(t, httpBase(t, n)+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics on the node port with a separate metrics listener: %d, want 404", code)
	}
	addr := n.SideListenerAddr("metrics")
	if addr == "" {
		t.Fatal("no metrics listener")
	}
	if code, body := get(t, "http://"+addr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "libp2p_swarm_") {
		t.Fatalf("separate /metrics: %d", code)
	}
}
