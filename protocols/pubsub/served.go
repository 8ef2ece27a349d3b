package pubsub

import (
	"sync"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/ws-star/rendezvous/registry"
)

// served is one topic the node serves.
type served struct {
	name      string
	discovery bool

	topic       *gs.Topic
	relayCancel gs.RelayCancelFunc
	events      *gs.TopicEventHandler
	unsubscribe func()
	// rotation: the members to announce (discovery topics only).
	rotation *rotation

	mu sync.Mutex
	// subscribers: peers subscribed through the node.
	subscribers int
	// lastAnnounced (discovery) and limiters (relayed) are per subscriber
	// and forgotten when it leaves, so they stay bounded by the
	// connections.
	lastAnnounced map[peer.ID]time.Time
	limiters      map[peer.ID]*rate.Limiter
	// lastSeqno (discovery) is the seqno of each author's latest counted
	// announcement, for the forwarded copies.
	lastSeqno map[peer.ID]uint64
}

func newServed(name string, discovery bool) *served {
	t := &served{name: name, discovery: discovery}
	if discovery {
		t.rotation = newRotation()
		t.lastAnnounced = make(map[peer.ID]time.Time)
		t.lastSeqno = make(map[peer.ID]uint64)
	} else {
		t.limiters = make(map[peer.ID]*rate.Limiter)
	}
	return t
}

// serve joins the topic as a relay (no local delivery), with its validator
// in place before any message can arrive, and starts following its
// subscribers; a discovery topic also follows its namespace in the registry.
func (s *Service) serve(t *served) error {
	v := s.validateRelayed(t)
	if t.discovery {
		v = s.validateAnnouncement(t)
	}
	// Inline: the validators only decode and look up maps; registry writes
	// go through members, off gossipsub's goroutines.
	if err := s.ps.RegisterTopicValidator(t.name, v, gs.WithValidatorInline(true)); err != nil {
		return err
	}
	var err error
	if t.topic, err = s.ps.Join(t.name); err != nil {
		return err
	}
	if t.events, err = t.topic.EventHandler(); err != nil {
		return err
	}
	if t.discovery {
		if err := s.follow(t); err != nil {
			return err
		}
	}
	if t.relayCancel, err = t.topic.Relay(); err != nil {
		return err
	}
	s.wg.Add(1)
	go s.subscriberLoop(t)
	return nil
}

// follow feeds the topic's rotation from its namespace: the events first,
// then the members already there (a cluster's), without resurrecting one
// that left in between.
func (s *Service) follow(t *served) error {
	var (
		mu      sync.Mutex
		loading = true
		gone    = make(map[peer.ID]uint64)
	)
	t.unsubscribe = s.reg.Subscribe(t.name, func(ev registry.Event) {
		mu.Lock()
		if loading && ev.Kind == registry.Left {
			gone[ev.Reg.Peer] = max(gone[ev.Reg.Peer], ev.Reg.Seq)
		}
		mu.Unlock()
		t.rotation.apply(ev)
	})
	var after uint64
	for {
		regs, next := s.reg.Discover(t.name, after, 1000)
		for _, r := range regs {
			mu.Lock()
			left := gone[r.Peer] >= r.Seq && gone[r.Peer] != 0
			mu.Unlock()
			if !left {
				t.rotation.load(registry.Event{Kind: registry.Joined, Reg: r})
			}
		}
		if len(regs) == 0 || next == after {
			break
		}
		after = next
	}
	mu.Lock()
	loading, gone = false, nil
	mu.Unlock()
	return nil
}

// subscriberLoop counts the topic's subscribers and forgets those that left.
func (s *Service) subscriberLoop(t *served) {
	defer s.wg.Done()
	for {
		ev, err := t.events.NextPeerEvent(s.ctx)
		if err != nil {
			return
		}
		t.mu.Lock()
		switch ev.Type {
		case gs.PeerJoin:
			t.subscribers++
		case gs.PeerLeave:
			t.subscribers--
			delete(t.lastAnnounced, ev.Peer)
			delete(t.limiters, ev.Peer)
			delete(t.lastSeqno, ev.Peer)
		}
		n := t.subscribers
		t.mu.Unlock()
		s.mt.Subscribers(t.name, n)
		if !t.discovery {
			continue
		}
		switch ev.Type {
		case gs.PeerJoin:
			// A newcomer to a small topic hears all of it within a round.
			if t.rotation.len() <= s.cfg.lim.AnnouncementsPerInterval {
				t.rotation.dueAll()
			}
		case gs.PeerLeave:
			s.members.drop(ev.Peer, t.name, s.leftReason(ev.Peer))
		}
	}
}

func (t *served) subscriberCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subscribers
}

// forget drops a disconnected peer's rate state.
func (t *served) forget(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.lastAnnounced, p)
	delete(t.limiters, p)
	delete(t.lastSeqno, p)
}

// allowAnnouncement: at most one announcement per peer per second counts.
func (t *served) allowAnnouncement(p peer.ID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.lastAnnounced[p]; ok && now.Sub(last) < minAnnouncementGap {
		return false
	}
	t.lastAnnounced[p] = now
	return true
}

// newerThanCounted: seqno is above that of p's last counted announcement
// (or none was counted since p connected).
func (t *served) newerThanCounted(p peer.ID, seqno uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.lastSeqno[p]
	return !ok || seqno > last
}

// counted records the seqno of p's announcement just counted.
func (t *served) counted(p peer.ID, seqno uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seqno > t.lastSeqno[p] {
		t.lastSeqno[p] = seqno
	}
}

// allowMessage is the relayed topics' per-peer token bucket.
func (t *served) allowMessage(p peer.ID, r rate.Limit, burst int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.limiters[p]
	if l == nil {
		l = rate.NewLimiter(r, burst)
		t.limiters[p] = l
	}
	return l.Allow()
}

// minAnnouncementGap: announcements of one peer on one topic closer than
// this are ignored (pubsub-peer-discovery's default interval is 10 s).
const minAnnouncementGap = time.Second

func (t *served) close() {
	if t.unsubscribe != nil {
		t.unsubscribe()
	}
	if t.events != nil {
		t.events.Cancel()
	}
	if t.relayCancel != nil {
		t.relayCancel()
	}
}
