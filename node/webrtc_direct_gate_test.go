package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/testhost"
)

func TestWebRTCDirectConnectionsStopAtTheirCapWhileOtherTransportsStillAccept(t *testing.T) {
	c := udpConfig(t)
	c.Capacity.Peers = 100
	c.Resources.MaxWebRTCDirectConnections = 2
	n := startNode(t, c)
	rtc, wt := udpTransportsUnderTest[0], udpTransportsUnderTest[1]
	live := func() float64 {
		v, _ := metric(t, n, "rendezvous_webrtc_direct_connections", nil)
		return v
	}

	first := testhost.NewClientOn(t, rtc.option)
	connectOver(t, first, n, rtc)
	connectOver(t, testhost.NewClientOn(t, rtc.option), n, rtc)
	testhost.Eventually(t, "2 WebRTC-direct connections counted", func() bool { return live() == 2 })

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	third := testhost.NewClientOn(t, rtc.option)
	if err := third.Connect(ctx, peer.AddrInfo{ID: n.Host.ID(), Addrs: nodeAddrsOf(t, n, rtc)}); err == nil {
		t.Fatal("a third WebRTC-direct connection was accepted with resources.max_webrtc_direct_connections = 2")
	}
	waitRefusal(t, n, "resources.max_webrtc_direct_connections")

	// The cap is WebRTC-direct's alone.
	connectOver(t, testhost.NewClientOn(t, wt.option), n, wt)
	if err := testhost.NewClient(t).Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatalf("a WebSocket connection refused while WebRTC-direct is at its cap: %v", err)
	}

	// A closed connection frees its place.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the closed WebRTC-direct connection uncounted", func() bool { return live() == 1 })
	connectOver(t, testhost.NewClientOn(t, rtc.option), n, rtc)
	if got := live(); got != 2 {
		t.Fatalf("rendezvous_webrtc_direct_connections = %v, want 2", got)
	}
}

func TestWebSocketOnlyNodeNeitherCountsNorCapsWebRTCDirect(t *testing.T) {
	n := startNode(t, testConfig(t))
	if n.webrtcDirect != nil {
		t.Fatal("a node without a WebRTC-direct listener counts WebRTC-direct connections")
	}
	if _, ok := metric(t, n, "rendezvous_webrtc_direct_connections", nil); ok {
		t.Fatal("rendezvous_webrtc_direct_connections exported without a WebRTC-direct listener")
	}
}
