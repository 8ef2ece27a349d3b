// Package testhost starts real go-libp2p hosts on loopback WebSockets for tests.
package testhost

import (
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
)

// New returns a host listening on /ip4/127.0.0.1/tcp/0/ws, closed when the
// test ends. Extra options are applied after the defaults.
func New(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	base := []libp2p.Option{
		libp2p.Transport(websocket.New),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0/ws"),
		libp2p.DisableMetrics(),
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("testhost: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// NewClient returns a host that does not listen (like a browser).
func NewClient(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	return New(tb, append([]libp2p.Option{libp2p.NoListenAddrs}, opts...)...)
}

// Connect connects a to b, failing the test on error.
func Connect(tb testing.TB, a, b host.Host) {
	tb.Helper()
	if err := a.Connect(tb.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		tb.Fatalf("testhost: connect %s -> %s: %v", a.ID(), b.ID(), err)
	}
}
