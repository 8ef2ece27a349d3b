package transports

import (
	"github.com/libp2p/go-libp2p"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/config"
)

// UDP adds the browser transports that need no TLS certificate,
// only for those the listen list uses, so a WebSocket-only node keeps its
// smaller footprint.
//
// libp2p.New hands both the one quicreuse.ConnManager it always builds:
// WebTransport listens on it directly, and WebRTC-direct, which go-libp2p
// listens on after every QUIC-based transport, takes a packet conn that
// quicreuse demultiplexes off the same socket when a QUIC address with the
// same IP and port listens (the defaults put both on the WebSocket port
// number). Connections on either are gated, resource-accounted (per-IP
// caps included) and connection-managed by the swarm as WebSockets are.
//
// The WebRTC-direct DTLS certificate is derived from the identity key by
// go-libp2p, so its /certhash is the same across restarts; WebTransport's
// certificates rotate (the browser API caps their validity at 14 days), so
// pages read the current ones from /addrs.json.
func UDP(c config.Config) []libp2p.Option {
	var opts []libp2p.Option
	if c.HasWebTransport() {
		opts = append(opts, libp2p.Transport(webtransport.New))
	}
	if c.HasWebRTCDirect() {
		opts = append(opts, libp2p.Transport(libp2pwebrtc.New))
	}
	return opts
}

// IsCertHash reports a /certhash component: listeners report their addresses
// with them, the configuration has none.
func IsCertHash(c ma.Component) bool { return c.Protocol().Code == ma.P_CERTHASH }

// Rank orders addresses for people and scripts reading them:
// WebSockets (what every client can dial) first.
func Rank(a ma.Multiaddr) int {
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_WEBRTC_DIRECT:
			return 1
		case ma.P_WEBTRANSPORT:
			return 2
		}
	}
	return 0
}

// DirectAddrHas reports whether a is an address of the transport with that
// protocol code, reached directly (not through a relay).
func DirectAddrHas(a ma.Multiaddr, code int) bool {
	for _, c := range a {
		switch c.Code() {
		case ma.P_CIRCUIT:
			return false
		case code:
			return true
		}
	}
	return false
}
