package pubsub

import (
	"sync"
	"testing"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/registry"
)

// The node's announcements reach a subscriber a burst at a time, several
// in one RPC (one write on its stream), not one RPC per announcement.
func TestABurstOfAnnouncementsReachesASubscriberInOneRPC(t *testing.T) {
	n := newNode(t)
	const members = 20
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws")
	for range members {
		reg := registry.Registration{Namespace: DiscoveryTopic, Peer: newPeerID(t), Addrs: []ma.Multiaddr{addr},
			Source: registry.SourceRendezvous, Expiry: time.Now().Add(time.Hour)}
		if _, err := n.reg.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	var rpcs rpcSizes
	a := newApp(t, n, DiscoveryTopic, gs.WithRawTracer(&rpcs))
	testhost.Eventually(t, "the app learning every member", func() bool { return a.LearnedCount() >= members })

	announcements, largest := rpcs.get()
	_, perTick := n.svc.cfg.lim.AnnounceSchedule()
	if largest < 2 || largest > perTick {
		t.Errorf("the largest RPC carried %d announcements, want 2 to %d (one burst)", largest, perTick)
	}
	if want := (members + perTick - 1) / perTick; len(announcements) > 2*want {
		t.Errorf("%d RPCs carried the %d members' announcements, want about %d", len(announcements), members, want)
	}
}

// rpcSizes is an app's tracer recording how many messages each RPC it
// receives carries.
type rpcSizes struct {
	gossipCounter
	mu    sync.Mutex
	sizes []int
}

func (r *rpcSizes) RecvRPC(rpc *gs.RPC) {
	if n := len(rpc.GetPublish()); n > 0 {
		r.mu.Lock()
		r.sizes = append(r.sizes, n)
		r.mu.Unlock()
	}
}

func (r *rpcSizes) get() (sizes []int, largest int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.sizes {
		largest = max(largest, n)
	}
	return append([]int(nil), r.sizes...), largest
}
