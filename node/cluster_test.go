package node

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testnats"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

const clusterWait = 30 * time.Second

// embeddedClusterConfigs are n node configurations that form one cluster of
// embedded NATS servers on loopback.
func embeddedClusterConfigs(t testing.TB, n int) []config.Config {
	t.Helper()
	ports := testnats.FreePorts(t, n)
	cfgs := make([]config.Config, n)
	for i := range cfgs {
		c := testConfig(t)
		c.AnnouncePrivate = true
		c.Cluster.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", ports[i])
		for j, p := range ports {
			if j != i {
				c.Cluster.Embedded.Routes = append(c.Cluster.Embedded.Routes, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		c.Cluster.LeaseTTL = config.Duration(2 * time.Second)
		cfgs[i] = c
	}
	return cfgs
}

func waitReady(t testing.TB, nodes ...*Node) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for _, n := range nodes {
		for n.Cluster.Degraded() {
			if time.Now().After(deadline) {
				t.Fatalf("node %s not in sync with the cluster after %v", n.Host.ID(), clusterWait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// liveMember connects a browser-style peer (no listener) to n, reserves a
// relay slot and joins ns with announce.
func liveMember(t testing.TB, n *Node, ns string) (host.Host, *wsstar.Client) {
	t.Helper()
	h := testhost.NewClient(t)
	reserve(t, t.Context(), h, n)
	c := watcher(t, h, n, ns, true)
	return h, c
}

// watcher joins ns on n from h and reads past the snapshot.
func watcher(t testing.TB, h host.Host, n *Node, ns string, announce bool) *wsstar.Client {
	t.Helper()
	if err := h.Connect(t.Context(), nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	c, err := wsstar.Dial(t.Context(), h, n.Host.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(t.Context(), ns, announce, 0); err != nil {
		t.Fatal(err)
	}
	return c
}

// nextEvent waits for a PeerEvent about p of kind on c.
func nextEvent(t testing.TB, c *wsstar.Client, p peer.ID, kind pb.PeerEvent_Kind) wsstar.PeerEvent {
	t.Helper()
	timeout := time.After(clusterWait)
	for {
		select {
		case m := <-c.C():
			if u, ok := m.(*wsstar.Update); ok {
				for _, e := range u.Events {
					if e.Peer == p && e.Kind == kind {
						return e
					}
				}
			}
		case <-c.Done():
			t.Fatalf("stream ended waiting for %v of %s: %v", kind, p, c.Err())
		case <-timeout:
			t.Fatalf("no %v of %s after %v", kind, p, clusterWait)
		}
	}
}

func TestThreeEmbeddedNodesShareNamespacesOverBothProtocolsAndRelayAcrossNodes(t *testing.T) {
	cfgs := embeddedClusterConfigs(t, 3)
	nodes := []*Node{startNode(t, cfgs[0]), startNode(t, cfgs[1]), startNode(t, cfgs[2])}
	waitReady(t, nodes...)
	if got := len(nodes[0].Cluster.Nodes()); got != 3 {
		t.Fatalf("node sees %d cluster nodes, want 3", got)
	}

	// A browser-style peer announced on node 0 shows up in a view on node 1
	// with its circuit address through node 0, which really reaches it.
	browser, _ := liveMember(t, nodes[0], "room")
	serveEcho(browser)
	other := testhost.NewClient(t)
	view := watcher(t, other, nodes[1], "room", true)
	var seen wsstar.PeerEvent
	select {
	case m := <-view.C():
		u := m.(*wsstar.Update)
		for _, e := range u.Events {
			if e.Peer == browser.ID() {
				seen = e
			}
		}
	case <-time.After(clusterWait):
		t.Fatal("no snapshot")
	}
	if seen.Peer == "" {
		seen = nextEvent(t, view, browser.ID(), pb.PeerEvent_JOINED)
	}
	if err := other.Connect(t.Context(), peer.AddrInfo{ID: browser.ID(), Addrs: seen.Addrs}); err != nil {
		t.Fatalf("dial the member of node 0 from node 1's view (%v): %v", seen.Addrs, err)
	}
	echoThrough(t, t.Context(), other, browser.ID(), 64<<10)

	// A REGISTER on node 2 is discovered on node 1, and a cookie from node 1
	// pages on node 0.
	var registered []peer.ID
	for range 3 {
		h := testhost.New(t)
		testhost.Connect(t, h, nodes[2].Host)
		if _, err := rendezvous.NewClient(h, nodes[2].Host.ID()).Register(t.Context(), "board", time.Hour); err != nil {
			t.Fatal(err)
		}
		registered = append(registered, h.ID())
	}
	asker := testhost.New(t)
	testhost.Connect(t, asker, nodes[1].Host)
	testhost.Connect(t, asker, nodes[0].Host)
	first, cookie, err := rendezvous.NewClient(asker, nodes[1].Host.ID()).Discover(t.Context(), "board", 1, nil)
	if err != nil || len(first) != 1 {
		t.Fatalf("discover on node 1: %d results, %v", len(first), err)
	}
	rest, _, err := rendezvous.NewClient(asker, nodes[0].Host.ID()).Discover(t.Context(), "board", 10, cookie)
	if err != nil {
		t.Fatal(err)
	}
	got := map[peer.ID]bool{first[0].Peer: true}
	for _, r := range rest {
		if got[r.Peer] {
			t.Fatalf("peer %s on both pages", r.Peer)
		}
		got[r.Peer] = true
	}
	for _, p := range registered {
		if !got[p] {
			t.Fatalf("registration of %s taken on node 2 not discovered through nodes 1 and 0: %v", p, got)
		}
	}
}

func TestLeaveAndDisconnectReachOtherNodesWithTheirReason(t *testing.T) {
	cfgs := embeddedClusterConfigs(t, 2)
	a, b := startNode(t, cfgs[0]), startNode(t, cfgs[1])
	waitReady(t, a, b)
	view := watcher(t, testhost.NewClient(t), b, "room", false)

	h, c := liveMember(t, a, "room")
	nextEvent(t, view, h.ID(), pb.PeerEvent_JOINED)
	if err := c.Leave("room"); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, view, h.ID(), pb.PeerEvent_LEFT); e.Reason != pb.LeftReason_LEFT {
		t.Fatalf("leave reached the other node as %v", e.Reason)
	}

	h2, _ := liveMember(t, a, "room")
	nextEvent(t, view, h2.ID(), pb.PeerEvent_JOINED)
	_ = h2.Close()
	if e := nextEvent(t, view, h2.ID(), pb.PeerEvent_LEFT); e.Reason != pb.LeftReason_DISCONNECTED {
		t.Fatalf("disconnect reached the other node as %v", e.Reason)
	}
}

func externalConfig(t testing.TB, url string) config.Config {
	c := testConfig(t)
	c.AnnouncePrivate = true
	c.Cluster.NATSURL = url
	c.Cluster.LeaseTTL = config.Duration(2 * time.Second)
	return c
}

func readyStatus(t testing.TB, n *Node) (int, string) {
	t.Helper()
	code, _ := get(t, httpBase(t, n)+"/readyz")
	_, body := get(t, httpBase(t, n)+"/healthz")
	return code, body
}

func TestEngineDownKeepsLocalPeersServedAndRecoversWithoutDuplicates(t *testing.T) {
	nats := testnats.Start(t)
	url := nats.URL()
	a, b := startNode(t, externalConfig(t, url)), startNode(t, externalConfig(t, url))
	waitReady(t, a, b)
	if code, body := readyStatus(t, a); code != http.StatusOK {
		t.Fatalf("/readyz %d %s while in sync", code, body)
	}
	localView := watcher(t, testhost.NewClient(t), a, "room", false)
	remoteView := watcher(t, testhost.NewClient(t), b, "room", false)

	nats.Stop()
	deadline := time.Now().Add(clusterWait)
	for a.Cluster.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("node still ready with NATS down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body := readyStatus(t, a)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"degraded"`) {
		t.Fatalf("with NATS down: /readyz %d, /healthz %s; want 503 and degraded", code, body)
	}

	// A join while the engine is down is still seen on the same node.
	h, _ := liveMember(t, a, "room")
	nextEvent(t, localView, h.ID(), pb.PeerEvent_JOINED)

	nats.Restart()
	waitReady(t, a, b)
	nextEvent(t, remoteView, h.ID(), pb.PeerEvent_JOINED)
	// No second JOINED and no LEFT for the member on its own node after recovery.
	select {
	case m := <-localView.C():
		if u, ok := m.(*wsstar.Update); ok {
			for _, e := range u.Events {
				if e.Peer == h.ID() {
					t.Fatalf("after recovery the local view got %v for the member again", e.Kind)
				}
			}
		}
	case <-time.After(3 * time.Second):
	}
}

func TestTTLRegistrationSurvivesRestartOfTheNodeThatTookIt(t *testing.T) {
	nats := testnats.Start(t)
	url := nats.URL()
	cfgA := externalConfig(t, url)
	a, b := startNode(t, cfgA), startNode(t, externalConfig(t, url))
	waitReady(t, a, b)
	h := testhost.New(t)
	testhost.Connect(t, h, a.Host)
	if _, err := rendezvous.NewClient(h, a.Host.ID()).Register(t.Context(), "board", time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a2 := startNode(t, cfgA) // same identity, new process instance
	waitReady(t, a2)
	for _, n := range []*Node{a2, b} {
		asker := testhost.New(t)
		testhost.Connect(t, asker, n.Host)
		regs, _, err := rendezvous.NewClient(asker, n.Host.ID()).Discover(t.Context(), "board", 10, nil)
		if err != nil || len(regs) != 1 || regs[0].Peer != h.ID() {
			t.Fatalf("after a restart, discover on %s: %v %v", n.Host.ID(), regs, err)
		}
	}
}

func TestOneEmbeddedNodeWithoutRoutesStartsAndKeepsRegistrationsAcrossARestart(t *testing.T) {
	cfg := embeddedClusterConfigs(t, 1)[0]
	a := startNode(t, cfg)
	waitReady(t, a)
	h := testhost.New(t)
	testhost.Connect(t, h, a.Host)
	if _, err := rendezvous.NewClient(h, a.Host.ID()).Register(t.Context(), "board", time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a2 := startNode(t, cfg) // same identity and store
	waitReady(t, a2)
	asker := testhost.New(t)
	testhost.Connect(t, asker, a2.Host)
	regs, _, err := rendezvous.NewClient(asker, a2.Host.ID()).Discover(t.Context(), "board", 10, nil)
	if err != nil || len(regs) != 1 || regs[0].Peer != h.ID() {
		t.Fatalf("after a restart: %v %v", regs, err)
	}
}
