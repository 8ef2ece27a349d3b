package pubsub

import (
	"sync/atomic"
	"testing"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testpubsub"
)

// More apps than gossipsub's default mesh takes (Dhi 12): each stays in the
// node's mesh and the node in its, so no app sends the node an IHAVE every
// heartbeat (the IDs of the node's own announcements) and GRAFTs again
// after each PRUNE, and the node gossips no IHAVE of announcements every
// subscriber already has.
func TestAppsStayInTheNodesMeshAndNoGossipIsExchanged(t *testing.T) {
	n := newNode(t)
	var c gossipCounter
	const apps = 14
	as := make([]*testpubsub.App, apps)
	for i := range as {
		as[i] = newApp(t, n, DiscoveryTopic, gs.WithRawTracer(&c))
	}
	for _, a := range as {
		a.Announce()
	}
	testhost.Eventually(t, "every app learning every other", func() bool {
		for _, a := range as {
			if a.LearnedCount() < apps-1 {
				return false
			}
		}
		return true
	})
	// A few heartbeats (1 s) with announcements in every app's history.
	time.Sleep(3500 * time.Millisecond)
	if got := c.prunes.Load(); got != 0 {
		t.Errorf("the node pruned apps from its mesh %d times", got)
	}
	if got := c.sent.Load(); got != 0 {
		t.Errorf("apps sent the node %d IHAVEs", got)
	}
	if got := c.received.Load(); got != 0 {
		t.Errorf("the node sent apps %d IHAVEs", got)
	}
}

// gossipCounter is an app's tracer counting the IHAVEs it sends and
// receives and the PRUNEs it receives.
type gossipCounter struct {
	sent, received, prunes atomic.Int64
}

func (c *gossipCounter) SendRPC(rpc *gs.RPC, _ peer.ID) {
	c.sent.Add(int64(len(rpc.GetControl().GetIhave())))
}

func (c *gossipCounter) RecvRPC(rpc *gs.RPC) {
	c.received.Add(int64(len(rpc.GetControl().GetIhave())))
	c.prunes.Add(int64(len(rpc.GetControl().GetPrune())))
}

func (*gossipCounter) AddPeer(peer.ID, protocol.ID)                     {}
func (*gossipCounter) RemovePeer(peer.ID)                               {}
func (*gossipCounter) OnNewOutboundStream(peer.ID, protocol.ID)         {}
func (*gossipCounter) OnClosedOutboundStream(peer.ID)                   {}
func (*gossipCounter) Join(string)                                      {}
func (*gossipCounter) Leave(string)                                     {}
func (*gossipCounter) Graft(peer.ID, string)                            {}
func (*gossipCounter) Prune(peer.ID, string)                            {}
func (*gossipCounter) ValidateMessage(*gs.Message)                      {}
func (*gossipCounter) DeliverMessage(*gs.Message)                       {}
func (*gossipCounter) RejectMessage(*gs.Message, string)                {}
func (*gossipCounter) DuplicateMessage(*gs.Message)                     {}
func (*gossipCounter) ThrottlePeer(peer.ID)                             {}
func (*gossipCounter) SendRPCCompleted(*gs.RPC, peer.ID, time.Duration) {}
func (*gossipCounter) DropRPC(*gs.RPC, peer.ID)                         {}
func (*gossipCounter) UndeliverableMessage(*gs.Message)                 {}
