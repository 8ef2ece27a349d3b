package wsstar

import (
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// Shown is one member as a client's View shows it: its addresses and signed
// peer record as of its last JOINED or UPDATED.
type Shown struct {
	Peer             peer.ID
	Addrs            []ma.Multiaddr
	SignedPeerRecord []byte
}

// View is the client side of one namespace: the members the node currently
// shows this client, kept by applying the Updates a Client or a Member
// delivers. A snapshot replaces what the view showed, JOINED and UPDATED add
// or refresh a member, LEFT removes it. It is safe for concurrent use: one
// goroutine may apply updates while others read.
//
// With a Member, which reconnects on its own, the snapshot that follows each
// *Reconnected brings the view back in line:
//
//	v := wsstar.NewView("room")
//	for msg := range m.C() {
//		if u, ok := msg.(*wsstar.Update); ok {
//			v.Apply(u)
//		}
//	}
type View struct {
	ns string

	mu      sync.Mutex
	members map[peer.ID]Shown
}

// NewView is an empty view of namespace ns; with ns "" it applies the
// updates of every namespace, for a client that joined one.
func NewView(ns string) *View {
	return &View{ns: ns, members: make(map[peer.ID]Shown)}
}

// Apply applies u and returns what changed: a JOINED for a member not shown
// before, an UPDATED for one shown with new addresses or record, and the
// LEFT of a member that was shown. A snapshot's changes are relative to what
// the view showed before it; a member it drops is reported as a LEFT with
// no reason. An update of another namespace is ignored.
func (v *View) Apply(u *Update) []PeerEvent {
	if v.ns != "" && u.NS != v.ns {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var changes []PeerEvent
	var before map[peer.ID]Shown
	if u.Snapshot {
		before = v.members
		v.members = make(map[peer.ID]Shown, len(u.Events))
	}
	for _, e := range u.Events {
		had, shown := v.members[e.Peer]
		if before != nil && !shown {
			had, shown = before[e.Peer]
			delete(before, e.Peer)
		}
		switch e.Kind {
		case pb.PeerEvent_JOINED, pb.PeerEvent_UPDATED:
			now := Shown{Peer: e.Peer, Addrs: e.Addrs, SignedPeerRecord: e.SignedPeerRecord}
			v.members[e.Peer] = now
			switch {
			case !shown:
				changes = append(changes, PeerEvent{Kind: pb.PeerEvent_JOINED, Peer: e.Peer, Addrs: e.Addrs, SignedPeerRecord: e.SignedPeerRecord})
			case !sameShown(had, now):
				changes = append(changes, PeerEvent{Kind: pb.PeerEvent_UPDATED, Peer: e.Peer, Addrs: e.Addrs, SignedPeerRecord: e.SignedPeerRecord})
			}
		case pb.PeerEvent_LEFT:
			delete(v.members, e.Peer)
			if shown {
				changes = append(changes, e)
			}
		}
	}
	for id := range before {
		changes = append(changes, PeerEvent{Kind: pb.PeerEvent_LEFT, Peer: id})
	}
	return changes
}

func sameShown(a, b Shown) bool {
	return slices.Equal(a.SignedPeerRecord, b.SignedPeerRecord) &&
		slices.EqualFunc(a.Addrs, b.Addrs, func(x, y ma.Multiaddr) bool { return x.Equal(y) })
}

// Len is the number of members shown.
func (v *View) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.members)
}

// Has reports whether member p is shown.
func (v *View) Has(p peer.ID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.members[p]
	return ok
}

// Get is member p as shown, and whether it is.
func (v *View) Get(p peer.ID) (Shown, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.members[p]
	return s, ok
}

// Peers are the members shown, in no particular order.
func (v *View) Peers() []peer.ID {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]peer.ID, 0, len(v.members))
	for id := range v.members {
		out = append(out, id)
	}
	return out
}

// Members are the members shown with their addresses, in no particular
// order.
func (v *View) Members() []Shown {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Shown, 0, len(v.members))
	for _, s := range v.members {
		out = append(out, s)
	}
	return out
}
