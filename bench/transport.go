package bench

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
)

// Transport is how the simulated peers reach the node: "ws" (the default),
// "webrtc-direct" or "webtransport". Each peer has that transport only.
type Transport string

// The transports a peer can dial the node over.
const (
	TransportWS           Transport = "ws"
	TransportWebRTCDirect Transport = "webrtc-direct"
	TransportWebTransport Transport = "webtransport"
)

// ParseTransport reads --transport; "" is ws.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case "":
		return TransportWS, nil
	case TransportWS, TransportWebRTCDirect, TransportWebTransport:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want ws, webrtc-direct or webtransport", s)
}

// option is the peer's one transport.
func (t Transport) option() libp2p.Option {
	switch t {
	case TransportWebRTCDirect:
		return libp2p.Transport(libp2pwebrtc.New)
	case TransportWebTransport:
		return libp2p.Transport(webtransport.New)
	}
	return libp2p.Transport(ws.New)
}

// listenAddr is the loopback listen address a node the tool starts adds
// for t; "" for ws, which it always has.
func (t Transport) listenAddr() string {
	switch t {
	case TransportWebRTCDirect:
		return "/ip4/127.0.0.1/udp/0/webrtc-direct"
	case TransportWebTransport:
		return "/ip4/127.0.0.1/udp/0/quic-v1/webtransport"
	}
	return ""
}

// dials reports whether a is an address of t.
func (t Transport) dials(a ma.Multiaddr) bool {
	code := ma.P_WS
	switch t {
	case TransportWebRTCDirect:
		code = ma.P_WEBRTC_DIRECT
	case TransportWebTransport:
		code = ma.P_WEBTRANSPORT
	}
	_, err := a.ValueForProtocol(code)
	return err == nil
}

// nodeInfo keeps the node's addresses of t, so that every peer connects
// over it (and reports an error, not a silent fallback, when there is none).
func (t Transport) nodeInfo(info peer.AddrInfo) (peer.AddrInfo, error) {
	out := peer.AddrInfo{ID: info.ID}
	for _, a := range info.Addrs {
		if t.dials(a) {
			out.Addrs = append(out.Addrs, a)
		}
	}
	if len(out.Addrs) == 0 {
		return out, fmt.Errorf("bench: the node has no %s address among %v", t, info.Addrs)
	}
	return out, nil
}
