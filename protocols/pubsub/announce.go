package pubsub

import (
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/record"

	"github.com/ws-star/rendezvous/registry"
)

// burstsPerInterval is how many bursts the announcer spreads each topic's
// announcements_per_interval over. A burst reaches each subscriber as one
// RPC (see perPeerBatch), so fewer bursts cost the node fewer writes; more
// bursts tell a newcomer's arrival sooner. Four: a new member is announced
// within a quarter of the apps' own interval, at an eighth of the writes of
// one announcement per RPC with the default 32.
const burstsPerInterval = 4

// AnnounceSchedule is the announcer's period and the most announcements one
// topic publishes in a burst; over any interval a topic publishes at most
// announcements_per_interval.
func (l Limits) AnnounceSchedule() (period time.Duration, perBurst int) {
	bursts := l.bursts()
	return l.AnnounceInterval.D() / time.Duration(bursts), l.burstSize(0)
}

func (l Limits) bursts() int { return min(burstsPerInterval, l.AnnouncementsPerInterval) }

// burstSize is the size of burst n: announcements_per_interval shared out
// over the bursts of an interval, the first ones taking the remainder.
func (l Limits) burstSize(n int) int {
	b := l.bursts()
	size := l.AnnouncementsPerInterval / b
	if n%b < l.AnnouncementsPerInterval%b {
		size++
	}
	return size
}

// announceLoop publishes, every tick, the next due members of each discovery
// topic that has subscribers, all topics in one batch. Each topic costs at
// most announcements_per_interval messages per subscriber per interval,
// whatever its size.
func (s *Service) announceLoop() {
	defer s.wg.Done()
	period, _ := s.cfg.lim.AnnounceSchedule()
	tick := time.NewTicker(period)
	defer tick.Stop()
	// A member announced in one burst is due again bursts-per-interval
	// bursts later; the ticker's times differ from a whole interval by a
	// little either way, and without the slack a topic of exactly
	// announcements_per_interval members would skip a burst now and then.
	interval := s.cfg.lim.AnnounceInterval.D() - period/2
	for n := 0; ; n++ {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			s.announceBurst(now, interval, s.cfg.lim.burstSize(n))
		}
	}
}

// announceBurst publishes up to perTick due members of every discovery topic
// with subscribers as one batch.
func (s *Service) announceBurst(now time.Time, interval time.Duration, perTick int) {
	var batch gs.MessageBatch
	counts := make(map[string]int)
	for _, name := range s.cfg.discovery {
		t := s.topics[name]
		if t.subscriberCount() == 0 {
			continue
		}
		for range perTick {
			if !s.addNext(t, now, interval, &batch) {
				break
			}
			counts[name]++
		}
	}
	if len(counts) == 0 {
		return
	}
	if err := s.ps.PublishBatch(&batch, onePerPeer); err != nil {
		s.log.Debug("announcements not published", "err", err)
		return
	}
	for name, n := range counts {
		s.mt.Published(name, n)
	}
}

// addNext adds t's next due member, if any, to batch. A member whose public
// key the node cannot find (an RSA peer that registered without a record
// while not connected here) is passed over.
func (s *Service) addNext(t *served, now time.Time, interval time.Duration, batch *gs.MessageBatch) bool {
	for range maxSkippedPerTick {
		m, ok := t.rotation.next(now, interval)
		if !ok {
			return false
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
		if err := t.topic.AddToBatch(s.ctx, batch, data); err != nil {
			s.log.Debug("announcement not published", "topic", t.name, "peer", reg.Peer, "err", err)
			return false
		}
		return true
	}
	return false
}

// maxSkippedPerTick bounds the members without a key one announcement
// passes over.
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
