package pubsub

import (
	"iter"

	gs "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// perPeerBatch is the schedule of one burst of the node's announcements:
// every message a subscriber is owed goes to it in one RPC, so the burst
// costs each subscriber one stream write (one yamux frame, one Noise and
// WebSocket frame, one syscall) instead of one per announcement. gossipsub
// still splits an RPC that exceeds the message size limit.
//
// go-libp2p-pubsub's own scheduler (round-robin by message) sends each
// message to each peer as an RPC of its own, and its per-peer writer writes
// every queued RPC separately; this is the extension point it offers.
type perPeerBatch struct {
	order []peer.ID
	msgs  map[peer.ID][]*pb.Message
}

var _ gs.RPCScheduler = (*perPeerBatch)(nil)

func (b *perPeerBatch) AddRPC(p peer.ID, _ string, rpc *gs.RPC) {
	if b.msgs == nil {
		b.msgs = make(map[peer.ID][]*pb.Message)
	}
	if _, ok := b.msgs[p]; !ok {
		b.order = append(b.order, p)
	}
	// The RPC is shared by every recipient: its messages are copied by
	// reference, the RPC itself is never changed.
	b.msgs[p] = append(b.msgs[p], rpc.Publish...)
}

func (b *perPeerBatch) All() iter.Seq2[peer.ID, *gs.RPC] {
	return func(yield func(peer.ID, *gs.RPC) bool) {
		for _, p := range b.order {
			if !yield(p, &gs.RPC{RPC: pb.RPC{Publish: b.msgs[p]}}) {
				return
			}
		}
	}
}

// onePerPeer makes PublishBatch use a fresh perPeerBatch.
func onePerPeer(o *gs.BatchPublishOptions) error {
	o.Strategy = &perPeerBatch{}
	return nil
}
