// Package testhost starts real go-libp2p hosts on loopback WebSockets for
// tests, and clients that dial over one UDP transport only.
package testhost

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
)

// New returns a host listening on /ip4/127.0.0.1/tcp/0/ws, closed when the
// test ends. Extra options are applied after the defaults.
func New(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	return NewWith(tb, true, nil, opts...)
}

// NewClient returns a host that does not listen (like a browser) but can dial
// and be reached through circuit relay addresses.
func NewClient(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	return NewWith(tb, false, nil, opts...)
}

// NewWith is New or NewClient with options for the WebSocket transport (a
// TLS client configuration, for example).
func NewWith(tb testing.TB, listen bool, wsOpts []any, opts ...libp2p.Option) host.Host {
	tb.Helper()
	base := []libp2p.Option{
		libp2p.Transport(websocket.New, wsOpts...),
		libp2p.DisableMetrics(),
	}
	if listen {
		base = append(base, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0/ws"))
	} else {
		// NoListenAddrs also turns the circuit transport off; turn it back on.
		base = append(base, libp2p.NoListenAddrs, libp2p.EnableRelay())
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("testhost: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// NewClientOn returns a client like NewClient whose only transport (besides
// the circuit one) is transport, as libp2p.Transport(webtransport.New), so
// every connection it makes to a node goes over that transport.
func NewClientOn(tb testing.TB, transport libp2p.Option, opts ...libp2p.Option) host.Host {
	tb.Helper()
	base := []libp2p.Option{transport, libp2p.DisableMetrics(), libp2p.NoListenAddrs, libp2p.EnableRelay()}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("testhost: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// Connect connects a to b, failing the test on error.
func Connect(tb testing.TB, a, b host.Host) {
	tb.Helper()
	if err := a.Connect(tb.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		tb.Fatalf("testhost: connect %s -> %s: %v", a.ID(), b.ID(), err)
	}
}

// Eventually polls cond every 10 ms for up to 10 s, failing the test with
// what was awaited if it never holds.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
