package pubsub

import (
	"context"
	"encoding/binary"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// validateAnnouncement checks an announcement on a discovery topic before
// anything else happens to it. gossipsub has already checked its signature
// (StrictSign). The node's own announcements are accepted and go to every
// subscriber; every other valid one makes its author a member and goes no
// further (Ignore, no penalty): the node announces members itself.
//
// A copy forwarded by another peer counts as the author's own when the
// author is connected to the node (the membership is bound to that
// connection) and it is newer than the author's last counted one. Apps
// connected to each other as well (browsers after a WebRTC upgrade) forward
// each other's announcements, and gossipsub marks a message seen before the
// validators run: when the forwarded copy arrives first, the author's own
// is dropped as a duplicate, and ignoring the forwarded one would lose the
// announcement. The seqno check keeps an old copy, replayed, from bringing
// back addresses since changed (gossipsub's seqnos grow: go and js start
// them from the clock).
func (s *Service) validateAnnouncement(t *served) gs.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *gs.Message) gs.ValidationResult {
		author := m.GetFrom()
		if author == s.h.ID() {
			return gs.ValidationAccept
		}
		a, err := decodeAnnouncement(m.Data, s.cfg.lim.MaxAnnouncementSize, s.cfg.lim.MaxAddrs)
		if err != nil {
			s.mt.Message(t.name, Junk)
			s.log.Debug("junk announcement", "topic", t.name, "from", from, "err", err)
			return gs.ValidationReject
		}
		if a.id != author {
			s.mt.Message(t.name, Forged)
			s.log.Debug("forged announcement", "topic", t.name, "from", from, "announced", a.id)
			return gs.ValidationReject
		}
		seqno, hasSeqno := seqnoOf(m)
		if from != author && (!hasSeqno || s.h.Network().Connectedness(author) != network.Connected || !t.newerThanCounted(author, seqno)) {
			s.mt.Message(t.name, Indirect)
			return gs.ValidationIgnore
		}
		if !t.allowAnnouncement(author, time.Now()) {
			s.mt.Message(t.name, OverRate)
			return gs.ValidationIgnore
		}
		if hasSeqno {
			t.counted(author, seqno)
		}
		s.mt.Message(t.name, Announced)
		if len(a.addrs) > 0 {
			s.announced(author, t.name, a.addrs)
		}
		return gs.ValidationIgnore
	}
}

// seqnoOf reads a message's sequence number: 8 bytes, big-endian.
func seqnoOf(m *gs.Message) (uint64, bool) {
	b := m.GetSeqno()
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// validateRelayed bounds a relayed topic: size, then the sender's rate.
func (s *Service) validateRelayed(t *served) gs.ValidatorEx {
	limit := rate.Limit(s.cfg.lim.MessageRate)
	return func(_ context.Context, from peer.ID, m *gs.Message) gs.ValidationResult {
		if m.GetFrom() == s.h.ID() {
			return gs.ValidationAccept
		}
		if len(m.Data) > s.cfg.lim.MaxMessageSize {
			s.mt.Message(t.name, TooLarge)
			return gs.ValidationReject
		}
		if !t.allowMessage(from, limit, s.cfg.lim.MessageBurst) {
			s.mt.Message(t.name, OverRate)
			return gs.ValidationIgnore
		}
		s.mt.Message(t.name, Relayed)
		return gs.ValidationAccept
	}
}

// inspect sees every RPC before gossipsub handles it, on gossipsub's event
// loop: it only counts the messages on topics the node does not serve
// (gossipsub drops them).
func (s *Service) inspect(_ peer.ID, rpc *gs.RPC) error {
	for _, m := range rpc.GetPublish() {
		if _, ok := s.topics[m.GetTopic()]; !ok {
			s.mt.Message(OtherTopic, Unserved)
		}
	}
	return nil
}

// rejections counts the messages gossipsub refuses before the validators:
// bad signatures and a full validation queue. The other RawTracer calls do
// nothing.
type rejections struct{ s *Service }

func (r rejections) RejectMessage(m *gs.Message, reason string) {
	var res Result
	switch reason {
	case gs.RejectMissingSignature, gs.RejectInvalidSignature, gs.RejectUnexpectedSignature, gs.RejectUnexpectedAuthInfo:
		res = BadSignature
	case gs.RejectValidationQueueFull, gs.RejectValidationThrottled:
		res = Throttled
	default:
		return
	}
	topic := m.GetTopic()
	if _, ok := r.s.topics[topic]; !ok {
		topic = OtherTopic
	}
	r.s.mt.Message(topic, res)
}

func (rejections) OnNewOutboundStream(peer.ID, protocol.ID)         {}
func (rejections) OnClosedOutboundStream(peer.ID)                   {}
func (rejections) Join(string)                                      {}
func (rejections) Leave(string)                                     {}
func (rejections) Graft(peer.ID, string)                            {}
func (rejections) Prune(peer.ID, string)                            {}
func (rejections) ValidateMessage(*gs.Message)                      {}
func (rejections) DeliverMessage(*gs.Message)                       {}
func (rejections) DuplicateMessage(*gs.Message)                     {}
func (rejections) ThrottlePeer(peer.ID)                             {}
func (rejections) RecvRPC(*gs.RPC)                                  {}
func (rejections) SendRPC(*gs.RPC, peer.ID)                         {}
func (rejections) SendRPCCompleted(*gs.RPC, peer.ID, time.Duration) {}
func (rejections) DropRPC(*gs.RPC, peer.ID)                         {}
func (rejections) UndeliverableMessage(*gs.Message)                 {}

// announced makes author a member of ns with addrs and the signed record the
// node holds for it. A js-libp2p app has no address when the node identifies
// it on connect, so that identify carries no record, and it tells its circuit
// address only through identify push, which apps often leave out; a member
// without a record is not returned by DISCOVER. So when the node holds none,
// it asks the app (once per connection) and gives the record to its
// memberships when it comes.
func (s *Service) announced(author peer.ID, ns string, addrs []ma.Multiaddr) {
	m := membership{addrs: addrs}
	var held bool
	if s.cfg.records != nil {
		m.envelope, held = s.cfg.records.PeerRecord(author)
	}
	s.members.want(author, ns, m)
	if held || s.cfg.records == nil || !s.firstRecordQuery(author) {
		return
	}
	s.cfg.records.QueryRecord(author, func(env []byte) { s.members.addRecord(author, env) })
}

// firstRecordQuery reports whether p has not been asked for its record on
// its current connection, and notes that it now is.
func (s *Service) firstRecordQuery(p peer.ID) bool {
	s.queriedMu.Lock()
	defer s.queriedMu.Unlock()
	if _, ok := s.queried[p]; ok {
		return false
	}
	s.queried[p] = struct{}{}
	return true
}
