// Package pubsub serves gossipsub on the node for apps that discover each
// other with pubsub-peer-discovery, and bridges its discovery topics into the
// registry: topic T is namespace T, shared with /ws-star/1.0.0 and
// /rendezvous/1.0.0.
//
// Every app in a star is connected only to the node, so the node decides who
// receives what. It validates every announcement (a Peer message whose key is
// its author's), registers its author as a live member bound to its
// connection, and forwards none of them: it announces the members of each
// discovery topic itself, whichever protocol they joined by, at most
// Limits.AnnouncementsPerInterval per interval, each to every subscriber
// (see docs/pubsub.md for the cost model). Other topics listed as relayed are
// routed as plain gossipsub, under size, rate and score limits; the node
// takes part in no other topic.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/registry"
)

// DiscoveryTopic is pubsub-peer-discovery's default topic.
const DiscoveryTopic = "_peer-discovery._p2p._pubsub"

// Bounds of the topic lists.
const (
	MaxTopics   = 64
	MaxTopicLen = registry.MaxNamespaceLen
)

// Service is gossipsub on the node, with its discovery bridge.
type Service struct {
	h   host.Host
	reg registry.Registry
	cfg config
	log *slog.Logger
	mt  MetricsTracer

	metrics  *promreg.Set
	ps       *gs.PubSub
	topics   map[string]*served
	members  *members
	notifiee *network.NotifyBundle

	// queried: the peers asked for their record on their current
	// connection (see announced).
	queriedMu sync.Mutex
	queried   map[peer.ID]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// New starts gossipsub on h and serves the configured topics.
func New(h host.Host, reg registry.Registry, opts ...Option) (*Service, error) {
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.checkTopics(); err != nil {
		return nil, err
	}
	all := append(append([]string(nil), cfg.discovery...), cfg.relayed...)
	var mt MetricsTracer = nopTracer{}
	var metricsSet *promreg.Set
	if cfg.registerer != nil {
		pt, err := newPromTracer(cfg.registerer, cfg.discovery, cfg.relayed)
		if err != nil {
			return nil, err
		}
		mt, metricsSet = pt, pt.set
	}
	s := &Service{
		h:       h,
		reg:     reg,
		cfg:     cfg,
		log:     cfg.logger.With("protocol", "gossipsub"),
		mt:      mt,
		metrics: metricsSet,
		topics:  make(map[string]*served, len(all)),
		queried: make(map[peer.ID]struct{}),
	}
	s.members = newMembers(reg, s.registerFailed, mt.MembershipHeld)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, t := range cfg.discovery {
		s.topics[t] = newServed(t, true)
	}
	for _, t := range cfg.relayed {
		s.topics[t] = newServed(t, false)
	}
	if err := s.start(all); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) start(all []string) error {
	score, thresholds := scoreParams(all)
	ps, err := gs.NewGossipSub(s.ctx, s.h,
		gs.WithMessageSignaturePolicy(gs.StrictSign),
		gs.WithFloodPublish(true),
		gs.WithGossipSubParams(s.cfg.gossipParams()),
		gs.WithPeerExchange(false),
		gs.WithPeerScore(score, thresholds),
		gs.WithSubscriptionFilter(gs.WrapLimitSubscriptionFilter(gs.NewAllowlistSubscriptionFilter(all...), maxSubscriptionsPerRPC)),
		gs.WithMaxMessageSize(max(s.cfg.lim.MaxMessageSize, s.cfg.lim.MaxAnnouncementSize)+rpcOverhead),
		gs.WithValidateQueueSize(validateQueueSize),
		gs.WithAppSpecificRpcInspector(s.inspect),
		gs.WithRawTracer(rejections{s}),
		gs.WithLogger(s.log),
	)
	if err != nil {
		return fmt.Errorf("pubsub: %w", err)
	}
	s.ps = ps
	s.notifiee = &network.NotifyBundle{DisconnectedF: s.disconnected}
	s.h.Network().Notify(s.notifiee)
	for _, name := range all {
		if err := s.serve(s.topics[name]); err != nil {
			return err
		}
	}
	if len(s.cfg.discovery) > 0 {
		s.wg.Add(1)
		go s.announceLoop()
	}
	return nil
}

// gossipParams are gossipsub's defaults, made for a star when the node
// relays no topic. Every app is connected to the node alone, and the node
// floods its own announcements to every subscriber, so:
//   - it keeps every subscriber in its mesh (Dhi without bound): an app
//     outside its peers' mesh sends them an IHAVE every heartbeat, here the
//     IDs of the node's own announcements, and GRAFTs again after every
//     PRUNE's backoff; that was one RPC a second from every subscriber;
//   - it gossips no IHAVE (Dlazy and GossipFactor 0): every subscriber
//     already has every announcement.
//
// A relayed topic keeps gossipsub's mesh and gossip (the parameters are the
// router's, not a topic's).
func (c config) gossipParams() gs.GossipSubParams {
	p := gs.DefaultGossipSubParams()
	if len(c.relayed) == 0 {
		p.Dhi = math.MaxInt32
		p.Dlazy, p.GossipFactor = 0, 0
	}
	return p
}

// Topics are the served topics: discovery ones, then relayed ones.
func (s *Service) Topics() (discovery, relayed []string) {
	return append([]string(nil), s.cfg.discovery...), append([]string(nil), s.cfg.relayed...)
}

// PubSub is the node's gossipsub instance.
func (s *Service) PubSub() *gs.PubSub { return s.ps }

// Close stops gossipsub, ends the members' memberships and removes the
// metrics. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.notifiee != nil {
			s.h.Network().StopNotify(s.notifiee)
		}
		for _, id := range gs.GossipSubDefaultProtocols {
			s.h.RemoveStreamHandler(id)
		}
		s.wg.Wait()
		for _, t := range s.topics {
			t.close()
		}
		s.members.close(registry.ReasonUnregistered)
		s.metrics.Unregister()
	})
	return nil
}

// disconnected ends every membership of a peer that has no connection left.
func (s *Service) disconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	if n.Connectedness(p) == network.Connected {
		return
	}
	s.members.drop(p, "", registry.ReasonDisconnected)
	for _, t := range s.topics {
		t.forget(p)
	}
	s.queriedMu.Lock()
	delete(s.queried, p)
	s.queriedMu.Unlock()
}

func (s *Service) registerFailed(err error) {
	if l := registry.LimitOf(err); l != "" {
		s.cfg.limits.Refused(l)
	}
	if !errors.Is(err, registry.ErrClosed) {
		s.log.Debug("pubsub member not registered", "err", err)
	}
}

// leftReason: a peer that left a topic while connected unsubscribed.
func (s *Service) leftReason(p peer.ID) registry.LeftReason {
	if s.h.Network().Connectedness(p) == network.Connected {
		return registry.ReasonUnregistered
	}
	return registry.ReasonDisconnected
}

const (
	// maxSubscriptionsPerRPC bounds one RPC's subscription changes.
	maxSubscriptionsPerRPC = 2 * MaxTopics
	// rpcOverhead is a message's signature, key, author, seqno and topic
	// around its data (a 4096-bit RSA key is the largest).
	rpcOverhead = 4 << 10
	// validateQueueSize holds a second of announcements from 10,000
	// subscribers (gossipsub's default is 32).
	validateQueueSize = 4096
)
