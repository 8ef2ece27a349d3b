package pubsub

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
)

// lateRecords is the record source as a js-libp2p app meets it: identify on
// connect gave no record (the app had no address before its relay
// reservation) and, without identify push, the node holds one only after it
// asks the app again.
type lateRecords struct {
	mu      sync.Mutex
	answers map[peer.ID][]byte
	held    map[peer.ID][]byte
	queries map[peer.ID]int
}

func newLateRecords() *lateRecords {
	return &lateRecords{answers: map[peer.ID][]byte{}, held: map[peer.ID][]byte{}, queries: map[peer.ID]int{}}
}

func (r *lateRecords) PeerRecord(p peer.ID) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	env, ok := r.held[p]
	return env, ok
}

func (r *lateRecords) QueryRecord(p peer.ID, done func([]byte)) {
	r.mu.Lock()
	r.queries[p]++
	env, ok := r.answers[p]
	if ok {
		r.held[p] = env
	}
	r.mu.Unlock()
	if ok {
		go done(env)
	}
}

func (r *lateRecords) queriesOf(p peer.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries[p]
}

func TestAMemberAnnouncedWithoutARecordIsAskedForItOncePerConnection(t *testing.T) {
	records := newLateRecords()
	n := newNode(t, WithRecords(records))
	a := newApp(t, n, DiscoveryTopic)
	pr := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: a.H.ID(), Addrs: []ma.Multiaddr{a.CircuitAddr()}})
	env, err := record.Seal(pr, a.H.Peerstore().PrivKey(a.H.ID()))
	if err != nil {
		t.Fatal(err)
	}
	envBytes, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	records.mu.Lock()
	records.answers[a.H.ID()] = envBytes
	records.mu.Unlock()

	a.Announce()
	testhost.Eventually(t, "the member registered with the record the app answered", func() bool {
		reg, ok := n.reg.Get(DiscoveryTopic, a.H.ID())
		return ok && bytes.Equal(reg.Envelope, envBytes)
	})

	// An app with no record to give is asked once, not at every
	// announcement; it stays a member without one.
	b := newApp(t, n, DiscoveryTopic)
	for i := range 2 {
		if i > 0 {
			time.Sleep(minAnnouncementGap + 100*time.Millisecond)
		}
		before := n.count(DiscoveryTopic, Announced)
		b.Announce()
		testhost.Eventually(t, "the announcement counted", func() bool { return n.count(DiscoveryTopic, Announced) > before })
	}
	if q := records.queriesOf(b.H.ID()); q != 1 {
		t.Errorf("an app without a record was asked for one %d times, want 1", q)
	}
	if !isMember(n.reg, DiscoveryTopic, b.H.ID()) {
		t.Error("an app without a record is not a member")
	}
	if q := records.queriesOf(a.H.ID()); q != 1 {
		t.Errorf("the app was asked for its record %d times, want 1", q)
	}
}
