package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	gspb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/protocols/pubsub"
)

// The pubsub flood: honest pubsub-peer-discovery apps on the discovery
// topic while attackers, each a libp2p host that the node counts as a
// gossipsub peer, write crafted gossipsub RPCs to it. One kind of message
// per attacker, so that one kind's penalties do not hide another's.

// floodKind is one kind of bad message and the result the node must count
// it under in rendezvous_pubsub_messages_total.
type floodKind struct {
	name   string
	result pubsub.Result
	// unserved: counted under the topic label "other".
	unserved bool
}

var floodKinds = []floodKind{
	{"junk", pubsub.Junk, false},                  // not a Peer message, validly signed
	{"forged", pubsub.Forged, false},              // another peer's key, validly signed by the attacker
	{"over-rate", pubsub.OverRate, false},         // its own valid announcement, 20 a second
	{"unserved-topic", pubsub.Unserved, true},     // a valid announcement on a topic the node does not serve
	{"bad-signature", pubsub.BadSignature, false}, // its own announcement, signature corrupted or missing
}

const (
	// floodHonest is the number of honest apps on the topic.
	floodHonest = 8
	// floodGap is each attacker's time between two messages.
	floodGap = 50 * time.Millisecond
	// floodUnservedTopic is a topic no node serves.
	floodUnservedTopic = "bench/unserved"
)

// floodAttacker is one attacking host and what it sends.
type floodAttacker struct {
	kind  floodKind
	h     host.Host
	key   crypto.PrivKey
	str   network.Stream
	seq   uint64
	data  []byte   // its own announcement (over-rate, unserved, bad-signature)
	forge [][]byte // forged announcements, in turn
	sent  atomic.Int64
}

func pubsubFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	interval := e.o.AnnounceInterval
	if interval <= 0 {
		interval = pubsub.DefaultAnnounceInterval
	}
	perKind := max(1, e.o.Attackers/len(floodKinds))
	topic := pubsub.DiscoveryTopic
	m0 := scrapePubsub(e.t, topic)

	// Honest apps first in the index, then the attackers, then the absent
	// peers whose keys are forged.
	keys, err := Keys("", floodHonest+2*perKind*len(floodKinds))
	if err != nil {
		res.count("keys", err)
		close(ready)
		return
	}
	ix, err := newPubsubIndex(keys[:floodHonest], e.t.Info)
	if err != nil {
		res.count("keys", err)
		close(ready)
		return
	}
	attackers := make([]*floodAttacker, 0, perKind*len(floodKinds))
	for k, kind := range floodKinds {
		for j := range perKind {
			key := keys[floodHonest+k*perKind+j]
			role := kindOutsider
			if kind.result == pubsub.OverRate {
				role = kindMember // its first announcement each second is valid
			}
			if _, err := ix.add(key.GetPublic(), e.t.Info, role); err != nil {
				res.count(kind.name, err)
				continue
			}
			attackers = append(attackers, &floodAttacker{kind: kind, key: key})
		}
	}
	victims := keys[floodHonest+perKind*len(floodKinds):]
	for _, v := range victims {
		if _, err := ix.add(v.GetPublic(), e.t.Info, kindOutsider); err != nil {
			res.count("forged", err)
		}
	}

	// The honest apps, announcing every interval as the real ones do.
	so := subscriberOptions{topic: topic, every: pubsub.DefaultAnnounceInterval, step: e.o.StepTimeout}
	honest := make([]*subscriber, floodHonest)
	forEach(floodHonest, e.o.Concurrency, func(i int) {
		s, err := startSubscriber(ctx, ix, int32(i), keys[i], e.t.Info, so, nil)
		res.count("honest app start", err)
		honest[i] = s
	})
	defer func() {
		for _, s := range honest {
			if s != nil {
				s.close()
			}
		}
	}()
	lastUp := time.Now()

	forEach(len(attackers), e.o.Concurrency, func(i int) {
		a := attackers[i]
		res.count(a.kind.name+": connect and open gossipsub stream", a.start(ctx, e, i, victims, honest))
	})
	close(ready)

	fctx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, a := range attackers {
		if a.str == nil {
			continue
		}
		wg.Go(func() { a.flood(fctx, res) })
	}

	// Honest apps must learn each other under the flood: within two
	// intervals of the last one's start.
	deadline := lastUp.Add(2*interval + time.Second)
	learned := func() int {
		least := math.MaxInt
		for i, s := range honest {
			n := 0
			for j, o := range honest {
				if i != j && o != nil && s != nil && s.learn.knows(int32(j)) {
					n++
				}
			}
			least = min(least, n)
		}
		return least
	}
	for learned() < floodHonest-1 && time.Now().Before(deadline) && sleep(ctx, 100*time.Millisecond) == nil {
	}
	took := time.Since(lastUp)
	least := learned()
	select {
	case <-stop:
	case <-ctx.Done():
	}
	stopFlood()
	wg.Wait()
	_ = sleep(ctx, time.Second) // the last messages through validation
	m1 := scrapePubsub(e.t, topic)

	res.check("pubsub-flood: honest apps learned every other honest one, min", float64(least), "peers",
		fmt.Sprintf(">= %d", floodHonest-1), floodHonest-1, false,
		fmt.Sprintf("%d honest apps; %.1f s after the last one came up (deadline: 2 intervals of %s)", floodHonest, took.Seconds(), interval))
	var outsiders, wrong, strangers int64
	for _, s := range honest {
		if s != nil {
			outsiders += s.learn.outsiders.Load()
			wrong += s.learn.wrong.Load()
			strangers += s.learn.strangers.Load()
		}
	}
	res.check("pubsub-flood: honest apps heard an attacker or a forged key", float64(outsiders+strangers), "announcements", "= 0", 0, true,
		"announcements of the junk, forged, unserved and bad-signature attackers, of the absent peers whose keys were forged, or of unknown keys")
	res.check("pubsub-flood: honest apps heard other addresses than announced", float64(wrong), "announcements", "= 0", 0, true,
		"half the forged announcements carry an honest app's key with the attacker's address")
	members := math.NaN()
	if v, err := scrapeGauge(e.t.MetricsURL, "rendezvous_pubsub_members"); err == nil {
		members = v
	}
	res.check("pubsub-flood: pubsub members at the end", members, "members", fmt.Sprintf("= %d", floodHonest+perKind),
		float64(floodHonest+perKind), false,
		fmt.Sprintf("the %d honest apps and the %d over-rate attackers (their first announcement each second is valid); no other attacker, no forged key", floodHonest, perKind))
	sent := make(map[string]int64)
	for _, a := range attackers {
		sent[a.kind.name] += a.sent.Load()
	}
	for _, kind := range floodKinds {
		before, after := m0.results, m1.results
		if kind.unserved {
			before, after = m0.other, m1.other
		}
		counted := math.NaN()
		if m0.ok && m1.ok {
			counted = after[string(kind.result)] - before[string(kind.result)]
		}
		note := fmt.Sprintf("%d sent by %d attackers", sent[kind.name], perKind)
		if kind.result == pubsub.Junk || kind.result == pubsub.Forged || kind.result == pubsub.BadSignature {
			note += "; each rejected message lowers its sender's score: after 3 it is graylisted and the rest is dropped unread, uncounted"
		}
		res.check(fmt.Sprintf("pubsub-flood: counted %s", kind.result), counted, "msgs", ">= 1", 1, false, note)
	}
	if m0.ok && m1.ok {
		th := m1.results[string(pubsub.Throttled)] - m0.results[string(pubsub.Throttled)]
		res.check("pubsub-flood: counted throttled", th, "msgs", "", 0, true, "dropped because the validation queue was full")
		acc := m1.results[string(pubsub.Announced)] - m0.results[string(pubsub.Announced)]
		res.check("pubsub-flood: counted announced", acc, "msgs", "", 0, true, "honest apps' and over-rate attackers' accepted announcements")
	}
}

// start connects the attacker, opens its gossipsub stream to the node and
// prepares what it sends.
func (a *floodAttacker) start(ctx context.Context, e *abuseEnv, idx int, victims []crypto.PrivKey, honest []*subscriber) error {
	h, err := newPeerWith(a.key, false, yamux.DefaultTransport)
	if err != nil {
		return err
	}
	a.h = h
	e.track(h)
	discardPubsub(h)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := connect(cctx, h, e.t.Info); err != nil {
		return err
	}
	if a.str, err = h.NewStream(cctx, e.t.Info.ID, gs.GossipSubDefaultProtocols...); err != nil {
		return err
	}
	if a.data, err = announcementOf(a.key.GetPublic(), appAddrs(e.t.Info, h.ID())); err != nil {
		return err
	}
	if a.kind.result == pubsub.Forged {
		// An honest app's key and an absent peer's key in turn, each with
		// the attacker's address.
		var pubs []crypto.PubKey
		if hs := honest[idx%len(honest)]; hs != nil {
			pubs = append(pubs, hs.h.Peerstore().PubKey(hs.h.ID()))
		}
		pubs = append(pubs, victims[idx%len(victims)].GetPublic())
		for _, pub := range pubs {
			d, err := announcementOf(pub, appAddrs(e.t.Info, h.ID()))
			if err != nil {
				return err
			}
			a.forge = append(a.forge, d)
		}
	}
	var s [8]byte
	_, _ = rand.Read(s[:])
	a.seq = binary.BigEndian.Uint64(s[:])
	return nil
}

// flood writes one message every floodGap until ctx ends.
func (a *floodAttacker) flood(ctx context.Context, res *attackResult) {
	tick := time.NewTicker(floodGap)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rpc := &gspb.RPC{Publish: []*gspb.Message{a.message()}}
		b, err := proto.Marshal(rpc)
		if err != nil {
			res.count(a.kind.name, err)
			return
		}
		_ = a.str.SetWriteDeadline(time.Now().Add(answerWait))
		_, err = a.str.Write(framing.Append(nil, b))
		if err == nil {
			a.sent.Add(1)
		}
		if ctx.Err() != nil {
			return
		}
		res.count(a.kind.name+": write", err)
		if err != nil {
			return
		}
	}
}

// message is the attacker's next message.
func (a *floodAttacker) message() *gspb.Message {
	a.seq++
	seqno := binary.BigEndian.AppendUint64(nil, a.seq)
	topic := pubsub.DiscoveryTopic
	data := a.data
	switch a.kind.result {
	case pubsub.Junk:
		data = make([]byte, 64)
		_, _ = rand.Read(data)
		data[0] = 0xff // an invalid protobuf tag: never a Peer message
	case pubsub.Forged:
		if len(a.forge) > 0 {
			data = a.forge[a.seq%uint64(len(a.forge))]
		}
	case pubsub.Unserved:
		topic = floodUnservedTopic
	}
	m := &gspb.Message{From: []byte(a.h.ID()), Data: data, Seqno: seqno, Topic: &topic}
	if a.kind.result == pubsub.BadSignature && a.seq%2 == 0 {
		return m // no signature at all
	}
	b, err := proto.Marshal(m)
	if err == nil {
		m.Signature, err = a.key.Sign(append([]byte(gs.SignPrefix), b...))
	}
	if err != nil {
		m.Signature = nil
	}
	if a.kind.result == pubsub.BadSignature && len(m.Signature) > 0 {
		m.Signature[0] ^= 0xff // another author's signature, as far as the node can tell
	}
	return m
}

// discardPubsub makes h accept the node's gossipsub streams and read them
// to nothing, so that the node counts it as a gossipsub peer (and scores it)
// though it runs no gossipsub: an attacker's host.
func discardPubsub(h host.Host) {
	for _, p := range gs.GossipSubDefaultProtocols {
		h.SetStreamHandler(p, func(s network.Stream) {
			_, _ = io.Copy(io.Discard, s)
			_ = s.Reset()
		})
	}
}
