package transports

import (
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/internal/promreg"
)

// WebRTCDirectGate caps live WebRTC-direct connections at
// resources.max_webrtc_direct_connections. Each costs the node about five
// WebSocket connections' memory (a pion PeerConnection), and go-libp2p's
// resource manager cannot tell transports apart, so the gate counts them
// itself: the swarm reports them opening and closing, and the connection
// gater refuses new attempts while the count is at the cap. Attempts already
// past the gate (at most go-libp2p's 128 WebRTC-direct handshakes in flight)
// may still complete. A refused browser sees its dial time out: go-libp2p
// cannot answer before the DTLS and Noise handshakes.
type WebRTCDirectGate struct {
	max     int64
	live    atomic.Int64
	refused limits.Observer
}

func NewWebRTCDirectGate(max int, refused limits.Observer, reg prometheus.Registerer) (*WebRTCDirectGate, error) {
	g := &WebRTCDirectGate{max: int64(max), refused: refused}
	err := promreg.RegisterAll(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rendezvous_webrtc_direct_connections",
		Help: "Open WebRTC-direct connections (capped at resources.max_webrtc_direct_connections).",
	}, func() float64 { return float64(g.live.Load()) }))
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Start counts the host's WebRTC-direct connections from now on.
func (g *WebRTCDirectGate) Start(n network.Network) {
	n.Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			if isWebRTCDirect(c) {
				g.live.Add(1)
			}
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			if isWebRTCDirect(c) {
				g.live.Add(-1)
			}
		},
	})
}

func isWebRTCDirect(c network.Conn) bool { return c.ConnState().Transport == "webrtc-direct" }

// InterceptAccept refuses a WebRTC-direct attempt while the cap is reached,
// before go-libp2p sets up a peer connection for it.
func (g *WebRTCDirectGate) InterceptAccept(c network.ConnMultiaddrs) bool {
	if g.live.Load() < g.max || !DirectAddrHas(c.LocalMultiaddr(), ma.P_WEBRTC_DIRECT) {
		return true
	}
	g.refused.Refused(limits.WebRTCDirectConnections)
	return false
}

func (g *WebRTCDirectGate) InterceptPeerDial(peer.ID) bool               { return true }
func (g *WebRTCDirectGate) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (g *WebRTCDirectGate) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (g *WebRTCDirectGate) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
