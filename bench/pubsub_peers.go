package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/pubsub/pb"
)

// Simulated pubsub-peer-discovery apps: each a go-libp2p host running
// go-libp2p-pubsub's gossipsub, connected only to the node, holding a relay
// reservation, subscribed to one discovery topic and announcing its key and
// circuit address on it, as @libp2p/pubsub-peer-discovery does in a
// browser. What reaches the node is what a real app sends; only what the
// app does with what it receives is cut down, so that thousands fit on one
// machine (see subscriberOptions).

// pubsubIndex numbers every key the bench knows, so that what each of
// thousands of subscribers learned is a bitset and a few timestamps, not a
// map per subscriber.
type pubsubIndex struct {
	// byKey maps a marshalled public key (the Peer message's publicKey) to
	// its number.
	byKey map[string]int32
	// data is the announcement each numbered peer publishes; the node
	// re-encodes members from their registrations, so an honest member's
	// announcement comes back byte for byte.
	data [][]byte
	// kind tells honest peers (0) from attackers and forged victims.
	kind []peerKind
}

type peerKind uint8

const (
	kindHonest peerKind = iota
	// kindMember: an attacker that is a member by design (over-rate: its
	// first announcement each second is valid).
	kindMember
	// kindOutsider: attackers whose messages are all invalid, and forged
	// victims: none may ever be announced.
	kindOutsider
)

// newPubsubIndex numbers keys[i] as i, each announcing its circuit address
// through node.
func newPubsubIndex(keys []crypto.PrivKey, node peer.AddrInfo) (*pubsubIndex, error) {
	ix := &pubsubIndex{byKey: make(map[string]int32, len(keys))}
	for _, k := range keys {
		if _, err := ix.add(k.GetPublic(), node, kindHonest); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// add numbers one more key; not safe while subscribers read the index.
func (ix *pubsubIndex) add(pub crypto.PubKey, node peer.AddrInfo, kind peerKind) (int32, error) {
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return 0, err
	}
	data, err := announcementOf(pub, appAddrs(node, id))
	if err != nil {
		return 0, err
	}
	kb, err := crypto.MarshalPublicKey(pub)
	if err != nil {
		return 0, err
	}
	i := int32(len(ix.data))
	ix.byKey[string(kb)] = i
	ix.data = append(ix.data, data)
	ix.kind = append(ix.kind, kind)
	return i, nil
}

// appAddrs are what an app behind the node announces: its circuit
// addresses through the node, ending with its own ID, as js-libp2p lists
// them.
func appAddrs(node peer.AddrInfo, id peer.ID) []ma.Multiaddr {
	self, err := ma.NewMultiaddr("/p2p/" + id.String())
	if err != nil {
		return nil
	}
	out := circuitAddrs(node, id)
	for i, a := range out {
		out[i] = a.Encapsulate(self)
	}
	return out
}

// announcementOf is the Peer message of pubsub-peer-discovery.
func announcementOf(pub crypto.PubKey, addrs []ma.Multiaddr) ([]byte, error) {
	kb, err := crypto.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	m := &pb.Peer{PublicKey: kb, Addrs: make([][]byte, len(addrs))}
	for i, a := range addrs {
		m.Addrs[i] = a.Bytes()
	}
	return proto.Marshal(m)
}

// learner is what one subscriber learned from the announcements it
// received: every peer ever heard (ever), and since its mark the peers heard
// (window) with the time each was first heard in the window, and the times
// of the first-ever hearings.
type learner struct {
	ix *pubsubIndex

	mu       sync.Mutex
	mark     time.Time
	ever     []uint64
	window   []uint64
	heard    []time.Duration // since mark, first hearing of each peer in the window
	newSince []time.Duration // since mark, first-ever hearings
	self     int32

	received  atomic.Int64 // announcements received (after the mark)
	outsiders atomic.Int64 // announcements of keys that must never be announced
	wrong     atomic.Int64 // announcements of a known key with other addresses
	strangers atomic.Int64 // undecodable, or a key the bench does not know
}

func newLearner(ix *pubsubIndex, self int32) *learner {
	words := (len(ix.data) + 63) / 64
	return &learner{ix: ix, self: self, ever: make([]uint64, words), window: make([]uint64, words), mark: time.Now()}
}

// reset starts a new window at now.
func (l *learner) reset(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mark = now
	clear(l.window)
	l.heard = l.heard[:0]
	l.newSince = l.newSince[:0]
	l.received.Store(0)
}

// hear takes one announcement's data.
func (l *learner) hear(data []byte, now time.Time) {
	var m pb.Peer
	if err := proto.Unmarshal(data, &m); err != nil {
		l.strangers.Add(1)
		return
	}
	i, ok := l.ix.byKey[string(m.PublicKey)]
	if !ok {
		l.strangers.Add(1)
		return
	}
	if l.ix.kind[i] == kindOutsider {
		l.outsiders.Add(1)
	}
	if !bytes.Equal(data, l.ix.data[i]) {
		l.wrong.Add(1)
	}
	if i == l.self {
		return
	}
	l.received.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	w, b := i/64, uint64(1)<<(i%64)
	at := now.Sub(l.mark)
	if l.ever[w]&b == 0 {
		l.ever[w] |= b
		l.newSince = append(l.newSince, at)
	}
	if l.window[w]&b == 0 {
		l.window[w] |= b
		l.heard = append(l.heard, at)
	}
}

// within is the number of distinct peers heard within d of the mark.
func (l *learner) within(d time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.heard {
		if at <= d {
			n++
		}
	}
	return n
}

// newBetween is the number of peers first ever heard in (from, to] after
// the mark.
func (l *learner) newBetween(from, to time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.newSince {
		if at > from && at <= to {
			n++
		}
	}
	return n
}

// knows reports whether peer i was ever heard.
func (l *learner) knows(i int32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ever[i/64]&(1<<(i%64)) != 0
}

// subscriber is one simulated pubsub-peer-discovery app.
type subscriber struct {
	idx    int32
	h      host.Host
	node   peer.ID
	ps     *gs.PubSub
	topic  *gs.Topic
	sub    *gs.Subscription
	ctx    context.Context // its gossipsub's, ended by close
	cancel context.CancelFunc
	learn  *learner
	// every is its announce interval; timer its next announcement.
	every time.Duration
	mu    sync.Mutex
	timer *time.Timer
	// up is when the node was first among its topic's peers (it then
	// published its first announcement).
	up time.Time
}

// subscriberOptions say how the apps run.
type subscriberOptions struct {
	topic string
	// verify makes the app verify the signature of every message it
	// receives, as a real app does. Without it (the default), the app drops
	// the signature of the node's messages as they arrive, before
	// go-libp2p-pubsub sees them, and receives them as unsigned messages
	// under the LaxSign policy: nothing changes on the wire (its own
	// messages are signed as under StrictSign; the node's are neither
	// forwarded back nor asked for), but the generator saves an Ed25519
	// verification and a message copy per delivery, the largest part of an
	// app's cost at thousands of apps.
	verify bool
	// every is how often the app announces itself, from its start, as
	// pubsub-peer-discovery does (0: once, at the start).
	every time.Duration
	// step bounds one app's start-up.
	step time.Duration
}

// startupTimes are the phases of the apps' start-ups.
type startupTimes struct {
	connect, reserve, subscribe, total Latencies
}

// startSubscriber brings one app up: its gossipsub, a connection to the node
// (identify included), a relay reservation, the subscription, and once the
// node is among the topic's peers its first announcement (as
// pubsub-peer-discovery publishes on start, then every interval).
func startSubscriber(ctx context.Context, ix *pubsubIndex, idx int32, key crypto.PrivKey, node peer.AddrInfo, o subscriberOptions, times *startupTimes) (*subscriber, error) {
	ctx, cancelStep := context.WithTimeout(ctx, o.step)
	defer cancelStep()
	t0 := time.Now()
	h, err := newPeerWith(key, false, yamux.DefaultTransport)
	if err != nil {
		return nil, err
	}
	psCtx, cancel := context.WithCancel(context.Background())
	s := &subscriber{idx: idx, h: h, node: node.ID, ctx: psCtx, cancel: cancel, learn: newLearner(ix, idx), every: o.every}
	fail := func(step string, err error) (*subscriber, error) {
		s.close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	// Flood publish, as js-libp2p's gossipsub does by default (go's
	// publishes to its mesh only, empty until the first heartbeat).
	opts := []gs.Option{
		gs.WithFloodPublish(true),
		gs.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if !o.verify {
		opts = append(opts, gs.WithMessageSignaturePolicy(gs.LaxSign), gs.WithAppSpecificRpcInspector(s.unsign))
	}
	if s.ps, err = gs.NewGossipSub(psCtx, h, opts...); err != nil {
		return fail("gossipsub", err)
	}
	if s.topic, err = s.ps.Join(o.topic); err != nil {
		return fail("join topic", err)
	}
	// Heard as delivered to the subscription, which keeps none: no goroutine
	// per app reads a channel.
	if s.sub, err = s.topic.Subscribe(gs.WithMessageFilter(s.deliver)); err != nil {
		return fail("subscribe", err)
	}
	if err := connect(ctx, h, node); err != nil {
		return fail("connect", err)
	}
	t1 := time.Now()
	if _, err := client.Reserve(ctx, h, node); err != nil {
		return fail("reserve", err)
	}
	t2 := time.Now()
	for !slices.Contains(s.topic.ListPeers(), node.ID) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fail("wait for the node among the topic's peers", err)
		}
	}
	if err := s.announce(ctx); err != nil {
		return fail("announce", err)
	}
	t3 := time.Now()
	s.up = t3
	s.schedule()
	if times != nil {
		times.connect.Add(t1.Sub(t0))
		times.reserve.Add(t2.Sub(t1))
		times.subscribe.Add(t3.Sub(t2))
		times.total.Add(t3.Sub(t0))
	}
	return s, nil
}

// unsign drops the signature of the node's messages on arrival (see
// subscriberOptions.verify).
func (s *subscriber) unsign(from peer.ID, rpc *gs.RPC) error {
	for _, m := range rpc.GetPublish() {
		if from == s.node && peer.ID(m.GetFrom()) == s.node {
			m.Signature, m.Key = nil, nil
		}
	}
	return nil
}

// deliver hears a message delivered to the subscription and keeps none.
func (s *subscriber) deliver(m *gs.Message) bool {
	if m.ReceivedFrom != s.h.ID() {
		s.learn.hear(m.Data, time.Now())
	}
	return false
}

// announce publishes the app's announcement.
func (s *subscriber) announce(ctx context.Context) error {
	return s.topic.Publish(ctx, s.learn.ix.data[s.idx])
}

// schedule arms the app's next announcement, one interval from now: a
// timer, not a goroutine, per app.
func (s *subscriber) schedule() {
	if s.every <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.timer = time.AfterFunc(s.every, func() {
		if s.announce(s.ctx) == nil {
			s.schedule()
		}
	})
}

func (s *subscriber) close() {
	s.mu.Lock()
	s.cancel()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	_ = s.h.Close()
}
