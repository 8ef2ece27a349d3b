package pubsub

import (
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/record"

	"github.com/ws-star/rendezvous/registry"
)

// announceLoop publishes, every tick, the next due member of each discovery
// topic that has subscribers. The tick is announce_interval divided by
// announcements_per_interval, so each topic costs at most that many
// deliveries per subscriber per interval, whatever its size.
func (s *Service) announceLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.announceTick())
	defer tick.Stop()
	interval := s.cfg.lim.AnnounceInterval.D()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			for _, name := range s.cfg.discovery {
				t := s.topics[name]
				if t.subscriberCount() == 0 {
					continue
				}
				s.announceNext(t, now, interval)
			}
		}
	}
}

// announceNext publishes t's next due member, if any. A member whose public
// key the node cannot find (an RSA peer that registered without a record
// while not connected here) is passed over.
func (s *Service) announceNext(t *served, now time.Time, interval time.Duration) {
	for range maxSkippedPerTick {
		m, ok := t.rotation.next(now, interval)
		if !ok {
			return
		}
		reg, data := t.rotation.snapshot(m)
		if data == nil {
			var err error
			if data, err = s.announcementOf(reg); err != nil {
				s.log.Debug("member not announced", "topic", t.name, "peer", reg.Peer, "err", err)
				continue
			}
			t.rotation.setData(m, reg, data)
		}
		if err := t.topic.Publish(s.ctx, data); err != nil {
			s.log.Debug("announcement not published", "topic", t.name, "peer", reg.Peer, "err", err)
			return
		}
		s.mt.Published(t.name)
		return
	}
}

// maxSkippedPerTick bounds the members without a key one tick passes over.
const maxSkippedPerTick = 16

// announcementOf is the Peer message announcing reg's member.
func (s *Service) announcementOf(reg registry.Registration) ([]byte, error) {
	key, err := s.publicKey(reg)
	if err != nil {
		return nil, err
	}
	return encodeAnnouncement(key, reg.Addrs)
}

// publicKey finds a member's key: in its peer ID (Ed25519, secp256k1), in
// the peerstore (identify stored it), or in its signed record.
func (s *Service) publicKey(reg registry.Registration) (crypto.PubKey, error) {
	if k, err := reg.Peer.ExtractPublicKey(); err == nil {
		return k, nil
	}
	if k := s.h.Peerstore().PubKey(reg.Peer); k != nil {
		return k, nil
	}
	if reg.Envelope != nil {
		if env, err := record.UnmarshalEnvelope(reg.Envelope); err == nil && reg.Peer.MatchesPublicKey(env.PublicKey) {
			return env.PublicKey, nil
		}
	}
	return nil, errNoKey
}
