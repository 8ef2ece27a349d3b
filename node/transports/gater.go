package transports

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// GaterChain is the host's one connection gater: a connection or dial passes
// only if every gater in the chain lets it.
type GaterChain []connmgr.ConnectionGater

var _ connmgr.ConnectionGater = GaterChain(nil)

func (g GaterChain) InterceptPeerDial(p peer.ID) bool {
	for _, x := range g {
		if !x.InterceptPeerDial(p) {
			return false
		}
	}
	return true
}

func (g GaterChain) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	for _, x := range g {
		if !x.InterceptAddrDial(p, a) {
			return false
		}
	}
	return true
}

func (g GaterChain) InterceptAccept(c network.ConnMultiaddrs) bool {
	for _, x := range g {
		if !x.InterceptAccept(c) {
			return false
		}
	}
	return true
}

func (g GaterChain) InterceptSecured(d network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	for _, x := range g {
		if !x.InterceptSecured(d, p, c) {
			return false
		}
	}
	return true
}

func (g GaterChain) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	for _, x := range g {
		if ok, reason := x.InterceptUpgraded(c); !ok {
			return false, reason
		}
	}
	return true, 0
}
