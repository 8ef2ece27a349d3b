// Package testpubsub runs pubsub-peer-discovery apps for tests: go-libp2p
// hosts with go-libp2p-pubsub that connect only to a node, subscribe to a
// discovery topic, announce themselves as js-libp2p's
// @libp2p/pubsub-peer-discovery does and record whom they learn.
package testpubsub

import (
	"context"
	"sync"
	"testing"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/pubsub/pb"
)

// App is one app, connected only to its node.
type App struct {
	t     testing.TB
	H     host.Host
	PS    *gs.PubSub
	Topic *gs.Topic
	node  peer.AddrInfo

	mu      sync.Mutex
	learned map[peer.ID][]ma.Multiaddr
	authors map[peer.ID]int
}

// New starts an app on a browser-like host (no listener), connects it to the
// node, subscribes to topic and waits until it sees the node subscribed.
// The app floods its own messages, as js-libp2p's gossipsub does by default
// (go's default publishes only to the mesh, empty until the first heartbeat).
func New(t testing.TB, node peer.AddrInfo, topic string, opts ...gs.Option) *App {
	t.Helper()
	h := testhost.NewClient(t)
	return NewOn(t, h, node, topic, opts...)
}

// NewOn is New on a host of the caller's.
func NewOn(t testing.TB, h host.Host, node peer.AddrInfo, topic string, opts ...gs.Option) *App {
	t.Helper()
	if err := h.Connect(t.Context(), node); err != nil {
		t.Fatalf("testpubsub: connect: %v", err)
	}
	ps, err := gs.NewGossipSub(t.Context(), h, append([]gs.Option{gs.WithFloodPublish(true)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	a := &App{t: t, H: h, PS: ps, node: node, learned: make(map[peer.ID][]ma.Multiaddr), authors: make(map[peer.ID]int)}
	a.Topic = a.Join(topic)
	sub, err := a.Topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	go a.read(t.Context(), sub)
	testhost.Eventually(t, "the node among the app's topic peers", func() bool {
		for _, p := range a.Topic.ListPeers() {
			if p == node.ID {
				return true
			}
		}
		return false
	})
	return a
}

// Join joins another topic (without subscribing).
func (a *App) Join(topic string) *gs.Topic {
	a.t.Helper()
	tp, err := a.PS.Join(topic)
	if err != nil {
		a.t.Fatal(err)
	}
	return tp
}

func (a *App) read(ctx context.Context, sub *gs.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == a.H.ID() {
			continue // its own publication, delivered locally
		}
		a.mu.Lock()
		a.authors[m.GetFrom()]++
		if id, addrs, ok := Decode(m.Data); ok {
			a.learned[id] = addrs
		}
		a.mu.Unlock()
	}
}

// CircuitAddr is the app's address through the node, as it announces it.
func (a *App) CircuitAddr() ma.Multiaddr {
	return a.RelayAddr().Encapsulate(ma.StringCast("/p2p/" + a.H.ID().String()))
}

// RelayAddr is CircuitAddr without the app's own /p2p part, as the node's
// registry and its protocols give a member's addresses.
func (a *App) RelayAddr() ma.Multiaddr {
	return a.node.Addrs[0].Encapsulate(ma.StringCast("/p2p/" + a.node.ID.String() + "/p2p-circuit"))
}

// Announce publishes what pubsub-peer-discovery publishes: the app's key
// and its circuit address.
func (a *App) Announce() {
	a.t.Helper()
	a.Publish(a.Topic, a.H.Peerstore().PubKey(a.H.ID()), a.CircuitAddr())
}

// Publish publishes a Peer message with key and addrs on tp.
func (a *App) Publish(tp *gs.Topic, key crypto.PubKey, addrs ...ma.Multiaddr) {
	a.t.Helper()
	data, err := Encode(key, addrs...)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := tp.Publish(a.t.Context(), data); err != nil {
		a.t.Fatal(err)
	}
}

// Knows reports whether an announcement of p reached the app.
func (a *App) Knows(p peer.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.learned[p]
	return ok
}

// LearnedCount is how many peers the app has learned.
func (a *App) LearnedCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.learned)
}

// Learned returns the addresses announced for p.
func (a *App) Learned(p peer.ID) []ma.Multiaddr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.learned[p]
}

// HeardFrom counts the messages the app received whose author is p.
func (a *App) HeardFrom(p peer.ID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authors[p]
}

// Encode is a Peer message.
func Encode(key crypto.PubKey, addrs ...ma.Multiaddr) ([]byte, error) {
	kb, err := crypto.MarshalPublicKey(key)
	if err != nil {
		return nil, err
	}
	m := pb.Peer{PublicKey: kb}
	for _, addr := range addrs {
		m.Addrs = append(m.Addrs, addr.Bytes())
	}
	return proto.Marshal(&m)
}

// Decode reads a Peer message as an app does: the peer is the one its key
// names.
func Decode(data []byte) (peer.ID, []ma.Multiaddr, bool) {
	var m pb.Peer
	if proto.Unmarshal(data, &m) != nil {
		return "", nil, false
	}
	key, err := crypto.UnmarshalPublicKey(m.PublicKey)
	if err != nil {
		return "", nil, false
	}
	id, err := peer.IDFromPublicKey(key)
	if err != nil {
		return "", nil, false
	}
	var addrs []ma.Multiaddr
	for _, b := range m.Addrs {
		if addr, err := ma.NewMultiaddrBytes(b); err == nil {
			addrs = append(addrs, addr)
		}
	}
	return id, addrs, true
}
